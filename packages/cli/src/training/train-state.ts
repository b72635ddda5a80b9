/**
 * What training reports per epoch and stores in a checkpoint's `state`, as
 * types and as the schemas that validate a checkpoint (or a file holding
 * epoch records) before anything is resumed from it.
 */
import type { LayerQuantStats, QuantizerState } from '@trit/quant-core';
import { z } from 'zod';
import { CheckpointError, schemaError } from './checkpoint.js';

export interface LayerStatsRecord extends LayerQuantStats {
  readonly layer: string;
}

export interface EpochRecord {
  readonly epoch: number;
  readonly lr: number;
  /**
   * Mean training loss of the epoch: cross-entropy plus the quantizers'
   * regularizers. Weight decay is not included (it acts on the gradients, as
   * PyTorch's `weight_decay` does); records written before commit b720cf4 (2026-11-22) included it.
   */
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  /** Mean of the quantizers' regularization terms (part of `trainLoss`). */
  readonly regularizationLoss: number;
  readonly testLoss: number;
  readonly testAccuracy: number;
  /** Training images per second of the epoch's training loop. */
  readonly imagesPerSecond: number;
  /** Seconds of the epoch's training loop (the test evaluation after it is in `evalSeconds`). */
  readonly seconds: number;
  /**
   * Seconds of the test evaluation after the training loop. Absent in records
   * written before it was measured (older checkpoints and results still load).
   */
  readonly evalSeconds?: number;
  readonly layers: readonly LayerStatsRecord[];
}

/** What `train` stores in each checkpoint's `state`. */
export interface TrainState {
  /** Epochs finished; `history` has one record per epoch. */
  readonly epoch: number;
  readonly history: readonly EpochRecord[];
  /** Per-layer statistics before the first step; absent in checkpoints of older versions. */
  readonly initialLayers?: readonly LayerStatsRecord[];
  /** The training config (without `maxStepsPerEpoch`) as JSON: resume refuses another one. */
  readonly configKey: string;
  /** Each quantized layer's schedule state (e.g. HLA's phase), by layer name. */
  readonly quantizerStates: Readonly<Record<string, QuantizerState>>;
}

// Statistics can be NaN (e.g. a ratio over an empty set), which JSON writes as null: read back as NaN.
const stat = z
  .number()
  .nullable()
  .transform((v) => v ?? Number.NaN);
const share = z.number().min(0).max(1);
const nonNegative = z.number().nonnegative();

/** A layer's statistics; quant-core owns their shape, so fields it may add later pass unchecked. */
export const LayerStatsRecordSchema: z.ZodType<LayerStatsRecord> = z.looseObject({
  layer: z.string().min(1),
  quantizer: z.string().min(1),
  bits: z.number().int().positive(),
  numWeights: z.number().int().nonnegative(),
  share: z.strictObject({ negative: stat, zero: stat, positive: stat }),
  scales: z.record(z.string(), z.union([stat, z.array(stat)])),
  extra: z.record(z.string(), stat).optional(),
});

export const EpochRecordSchema: z.ZodType<EpochRecord> = z.strictObject({
  epoch: z.number().int().positive(),
  lr: nonNegative,
  trainLoss: z.number(),
  trainAccuracy: share,
  regularizationLoss: z.number(),
  // The test loss is not checked for divergence: it can be non-finite (null in JSON).
  testLoss: stat,
  testAccuracy: share,
  imagesPerSecond: nonNegative,
  seconds: nonNegative,
  evalSeconds: nonNegative.optional(),
  layers: z.array(LayerStatsRecordSchema),
});

export const TrainStateSchema: z.ZodType<TrainState> = z.strictObject({
  epoch: z.number().int().nonnegative(),
  history: z.array(EpochRecordSchema),
  initialLayers: z.array(LayerStatsRecordSchema).optional(),
  configKey: z.string(),
  quantizerStates: z.record(
    z.string(),
    z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  ),
});

/**
 * Validates a checkpoint's `state` as `train` writes it: every field of it
 * and of every epoch record, and `history` holding exactly the epochs 1..epoch
 * in order. A problem is a {@link CheckpointError} naming `file` and the field.
 */
export function parseTrainState(state: unknown, file: string): TrainState {
  const parsed = TrainStateSchema.safeParse(state);
  if (!parsed.success) throw schemaError(file, parsed.error, ['state']);
  const s = parsed.data;
  if (s.history.length !== s.epoch) {
    throw new CheckpointError(
      `${file}: field "state.history": ${s.history.length} epoch records, but "state.epoch" is ${s.epoch}`,
    );
  }
  s.history.forEach((h, i) => {
    if (h.epoch !== i + 1) {
      throw new CheckpointError(
        `${file}: field "state.history.${i}.epoch": ${h.epoch}, expected ${i + 1} (records in epoch order)`,
      );
    }
  });
  return s;
}
