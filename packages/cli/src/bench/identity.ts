import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../atomic-write.js';
import type { TrainConfig } from '../training/train.js';
import { readValidated } from './result-schema.js';
import type { DataSpec, ModelSpec } from './study.js';

/**
 * What makes two runs the same run, so a finished run or a checkpoint is
 * reused only by a run that would have produced it: the data, the model, the
 * protocol, the full training config with its seed, the quantizer with its
 * full config, the FP32 pre-training it started from, and the version of
 * the code paths whose change alters results (bump RUN_FORMAT_VERSION then).
 */
export const RUN_FORMAT_VERSION = 2;

export interface PretrainIdentity {
  readonly kind: 'pretrain';
  readonly version: number;
  readonly data: DataSpec;
  readonly model: ModelSpec;
  readonly train: TrainConfig;
}

export interface RunIdentity {
  readonly kind: 'run';
  readonly version: number;
  readonly data: DataSpec;
  readonly model: ModelSpec;
  readonly protocol: 'finetune' | 'scratch';
  readonly method: string;
  readonly quantizer: { readonly name: string; readonly config: Readonly<Record<string, unknown>> };
  readonly train: TrainConfig;
  /** The pre-training the run was fine-tuned from (finetune protocol), else null. */
  readonly pretraining: PretrainIdentity | null;
}

export type Identity = PretrainIdentity | RunIdentity;

/** The file in a run or pre-training folder that records what it is. */
export const IDENTITY_FILE = 'identity.json';

const IdentityFileSchema = z.object({
  format: z.literal('trit-run-identity'),
  identity: z.looseObject({ kind: z.enum(['pretrain', 'run']), version: z.number().int() }),
});

/** A folder holds results of a different configuration than the one asked for. */
export class StaleResultsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StaleResultsError';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object';
}

function show(v: unknown): string {
  if (v === undefined) return '(absent)';
  const s = JSON.stringify(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/**
 * The first field where two JSON values differ, as `{ path, a, b }` (`path`
 * like `train.optimizer.lr`), or null when they are equal. Object keys are
 * compared regardless of order; `undefined` and absent are the same.
 */
export function firstDifference(
  a: unknown,
  b: unknown,
  at = '',
): { path: string; a: unknown; b: unknown } | null {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${at}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (isObject(a) && isObject(b) && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const d = firstDifference(a[k], b[k], at ? `${at}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  if (Object.is(a, b) || (a === undefined && b === undefined)) return null;
  return { path: at || '(whole value)', a, b };
}

/** `field x: folder has A, this run has B` for two identities, or null when equal. */
export function describeDifference(recorded: unknown, wanted: unknown): string | null {
  const d = firstDifference(recorded, wanted);
  return d ? `${d.path} differs: the folder has ${show(d.a)}, this run has ${show(d.b)}` : null;
}

/** Reads a folder's identity.json; undefined when there is none. Malformed files are errors naming the file. */
export function readIdentity(dir: string): Identity | undefined {
  const file = path.join(dir, IDENTITY_FILE);
  if (!existsSync(file)) return undefined;
  const r = { data: readValidated(file, IdentityFileSchema, 'identity.json') };
  return r.data.identity as unknown as Identity;
}

/** Whether a folder holds anything (a checkpoint, a result) besides nothing at all. */
function hasContent(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).length > 0;
}

const FRESH = 'start fresh with a new --out folder, or delete that folder to re-run it';

/**
 * Checks that `dir` (a run or pre-training folder) may be reused by a run of
 * `wanted`: a missing or empty folder may; a folder whose recorded identity
 * differs, or that has content but no record (written by a trit older than
 * these checks), is a {@link StaleResultsError} naming the field that
 * differs, both values, and how to start fresh.
 */
export function checkFolder(dir: string, wanted: Identity, what: string): boolean {
  const recorded = readIdentity(dir);
  if (recorded === undefined) {
    if (hasContent(dir))
      throw new StaleResultsError(
        `${dir} holds ${what} written without a recorded configuration (by an older trit), so it cannot be checked against this run; ${FRESH}`,
      );
    return false;
  }
  const diff = describeDifference(recorded, wanted);
  if (diff)
    throw new StaleResultsError(
      `${dir} holds ${what} of a different configuration: ${diff}; ${FRESH}`,
    );
  return true;
}

/** {@link checkFolder}, then records `wanted` in the folder if it has no record yet. */
export function claimFolder(dir: string, wanted: Identity, what: string): void {
  if (!checkFolder(dir, wanted, what))
    writeJsonAtomic(path.join(dir, IDENTITY_FILE), {
      format: 'trit-run-identity',
      identity: wanted,
    });
}
