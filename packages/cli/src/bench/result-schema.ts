import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { EpochRecordSchema, LayerStatsRecordSchema } from '../training/train-state.js';
import { fieldPath, showValue, valueAt } from './describe.js';

/**
 * The schema of a run's `result.json` and of a pre-training's `done.json`, so
 * resume and merge read only well-formed results and name the file and the
 * field of a bad one (instead of a TypeError later, or a table of NaNs).
 */

const finite = z.number().refine(Number.isFinite, 'expected a finite number');
const share = z.number().min(0).max(1);

export const RunResultSchema = z.looseObject({
  method: z.string().min(1),
  seed: z.number().int().nonnegative(),
  quantizer: z.object({ name: z.string().min(1), config: z.record(z.string(), z.unknown()) }),
  protocol: z.enum(['finetune', 'scratch']),
  epochs: z.number().int().positive(),
  history: z.array(EpochRecordSchema).min(1),
  initialLayers: z.array(LayerStatsRecordSchema),
  finalTestAccuracy: share,
  bestTestAccuracy: share,
  weightMemoryBytes: z.number().nonnegative(),
  float32MemoryBytes: z.number().nonnegative(),
  compressionRatio: z.number().positive(),
  sparsity: share,
  trainImagesPerSecond: finite,
  wallSeconds: finite,
  params: z.number().int().nonnegative(),
  macs: z.number().nonnegative(),
  backend: z.record(z.string(), z.unknown()).optional(),
  machine: z.record(z.string(), z.unknown()).optional(),
});

export const PretrainDoneSchema = z.looseObject({
  history: z.array(EpochRecordSchema).min(1),
  backend: z.record(z.string(), z.unknown()).optional(),
  machine: z.record(z.string(), z.unknown()).optional(),
});

/** A result file that cannot be used: names the file and the fields. */
export class MalformedResultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedResultError';
  }
}

/** Reads and validates a JSON file against `schema`; errors name the file, the field and the value. */
export function readValidated<T>(file: string, schema: z.ZodType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MalformedResultError(
      `${file}: malformed ${what} (not valid JSON: ${(err as Error).message})`,
    );
  }
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues
    .slice(0, 8)
    .map((i) => {
      const at = fieldPath(i.path);
      return i.code === 'unrecognized_keys'
        ? `${at}: ${i.message}`
        : `${at} is ${showValue(valueAt(raw, i.path), 60)}: ${i.message}`;
    })
    .join('; ');
  throw new MalformedResultError(`${file}: malformed ${what} (${issues})`);
}
