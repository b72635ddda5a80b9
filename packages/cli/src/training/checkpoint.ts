/**
 * Training checkpoints: model variables, optimizer state and a JSON `state`
 * in a folder (`checkpoint.json` + `tensors.bin`). Version 2 stores a CRC-32
 * per tensor (the one of `@trit/runtime`'s export format); version 1 (no
 * checksums) still loads, with a notice. The previous checkpoint is kept next
 * to the newest (`<dir>.prev`) so a bad newest one can fall back to it.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { crc32, crc32Hex } from '@trit/runtime';
import { z } from 'zod';

/** The version {@link saveCheckpoint} writes; {@link readCheckpointIndex} reads it and version 1. */
export const CHECKPOINT_VERSION = 2;

/** A checkpoint that cannot be used: unreadable, malformed, corrupted, or not this model's. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** The first schema issue as `<file>: field "<path>": <message>`. */
export function schemaError(
  file: string,
  error: z.ZodError,
  prefix: readonly (string | number)[] = [],
): CheckpointError {
  const issue = error.issues[0]!;
  const field = [...prefix, ...issue.path.map(String)].join('.');
  return new CheckpointError(`${file}: field "${field}": ${issue.message}`);
}

const TensorEntryV1 = z.strictObject({
  group: z.enum(['model', 'optimizer']),
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
});
const TensorEntryV2 = TensorEntryV1.extend({
  /** CRC-32 of the tensor's bytes in tensors.bin, 8 lower-case hex digits. */
  crc32: z.string().regex(/^[0-9a-f]{8}$/, 'expected 8 lower-case hex digits'),
});
const indexSchema = <T extends z.ZodType>(version: 1 | 2, tensor: T) =>
  z.strictObject({
    format: z.literal('trit-checkpoint'),
    version: z.literal(version),
    tensors: z.array(tensor),
    bytes: z.number().int().nonnegative(),
    state: z.record(z.string(), z.unknown()),
  });
const IndexSchemas = { 1: indexSchema(1, TensorEntryV1), 2: indexSchema(2, TensorEntryV2) };
const HeaderSchema = z.object({ format: z.literal('trit-checkpoint'), version: z.unknown() });

export type CheckpointTensor = z.infer<typeof TensorEntryV1> & { readonly crc32?: string };
export interface CheckpointIndex {
  readonly format: 'trit-checkpoint';
  readonly version: 1 | 2;
  readonly tensors: readonly CheckpointTensor[];
  readonly bytes: number;
  readonly state: Record<string, unknown>;
}

export interface Checkpoint<S = Record<string, unknown>> {
  readonly dir: string;
  readonly state: S;
  readonly version: 1 | 2;
}

export interface LoadCheckpointOptions<S> {
  /**
   * Validates the saved `state` before any variable is written; throw (a
   * {@link CheckpointError} to let {@link loadLatestCheckpoint} fall back) to refuse it.
   */
  readonly parseState?: (state: Record<string, unknown>, file: string) => S;
  /** Where the version-1 notice and the fall-back line go (default: stderr). */
  readonly log?: (line: string) => void;
}

const defaultLog = (line: string) => console.error(line);

/** The folder that holds the checkpoint before the newest one. */
export function previousCheckpointDir(dir: string): string {
  return `${dir}.prev`;
}

const BYTES_PER_FLOAT = 4;

/** Writes `data` to `file` and flushes it to the disk, so a rename after it publishes complete bytes. */
function writeDurably(file: string, data: string | Uint8Array): void {
  writeFileSync(file, data);
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flushes a folder's entries (renames) to the disk; not every platform can open a folder. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // best effort: Windows cannot fsync a folder
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface SaveCheckpointOptions {
  /**
   * Keep the checkpoint being replaced as `<dir>.prev` (default true). A
   * fresh run passes false for its first save: what is there belongs to an
   * earlier run and must not become its fall-back.
   */
  readonly keepPrevious?: boolean;
}

/**
 * Writes model variables, optimizer state and a JSON `state` into `dir`, with
 * a CRC-32 per tensor. Everything goes to a sibling temp folder (flushed to
 * the disk) that is renamed into place; the checkpoint it replaces becomes
 * `<dir>.prev`. A crash at any moment leaves at least one complete
 * checkpoint: `dir`, `<dir>.prev`, or the complete temp folder that
 * {@link recoverCheckpoint} puts in place.
 */
export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: Record<string, unknown>,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  const entries: { group: 'model' | 'optimizer'; name: string; tensor: tf.Tensor }[] = [];
  for (const w of model.weights)
    entries.push({ group: 'model', name: w.originalName, tensor: w.read() });
  const optWeights = await optimizer.getWeights();
  for (const w of optWeights) entries.push({ group: 'optimizer', name: w.name, tensor: w.tensor });
  const chunks: Uint8Array[] = [];
  const tensors: CheckpointTensor[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = new Uint8Array(Float32Array.from(e.tensor.dataSync() as Float32Array).buffer);
    tensors.push({
      group: e.group,
      name: e.name,
      shape: [...e.tensor.shape],
      offset,
      length: data.byteLength,
      crc32: crc32Hex(crc32(data)),
    });
    chunks.push(data);
    offset += data.byteLength;
  }
  // getWeights() makes a fresh scalar for the iteration count; the rest are the optimizer's own variables.
  tf.dispose(optWeights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  const index: CheckpointIndex = {
    format: 'trit-checkpoint',
    version: CHECKPOINT_VERSION,
    tensors,
    bytes: offset,
    state,
  };
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp, { recursive: true });
    writeDurably(path.join(tmp, 'tensors.bin'), Buffer.concat(chunks));
    // Written last: a temp folder with a valid index is complete (see recoverCheckpoint).
    writeDurably(path.join(tmp, 'checkpoint.json'), `${JSON.stringify(index)}\n`);
    syncDir(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  // `tmp` is complete from here on; without `dir`, recoverCheckpoint puts it in place.
  const prev = previousCheckpointDir(dir);
  rmSync(prev, { recursive: true, force: true });
  const aside = options.keepPrevious === false ? `${dir}.old-${process.pid}` : prev;
  if (existsSync(dir)) renameSync(dir, aside);
  renameSync(tmp, dir);
  if (aside !== prev) rmSync(aside, { recursive: true, force: true });
  syncDir(path.dirname(dir));
}

/** True if `dir` holds a checkpoint that passes every check (index, size, checksums). */
function isComplete(dir: string): boolean {
  try {
    readVerified(dir, () => {});
    return true;
  } catch {
    return false;
  }
}

/**
 * Repairs what a process killed inside {@link saveCheckpoint} leaves next to
 * `dir`: without `dir`, the newest complete temp folder (`dir.tmp-<pid>`, the
 * checkpoint being written) becomes `dir`, else the newest complete
 * `dir.old-<pid>` (the checkpoint a version-1 writer, or a save with
 * `keepPrevious: false`, moved aside). Every other `dir.tmp-*` / `dir.old-*`
 * is removed; `<dir>.prev` is left for {@link loadLatestCheckpoint}. Call it
 * before reading a checkpoint that a killed run may have been writing.
 */
export function recoverCheckpoint(dir: string): void {
  const parent = path.dirname(dir);
  if (!existsSync(parent)) return;
  const base = path.basename(dir);
  const leftovers = readdirSync(parent)
    .filter((n) => n.startsWith(`${base}.tmp-`) || n.startsWith(`${base}.old-`))
    .map((n) => path.join(parent, n));
  if (!existsSync(dir)) {
    const newest = (ds: string[]) =>
      ds
        .filter(isComplete)
        .sort(
          (a, b) =>
            statSync(path.join(b, 'checkpoint.json')).mtimeMs -
            statSync(path.join(a, 'checkpoint.json')).mtimeMs,
        )[0];
    const pick =
      newest(leftovers.filter((d) => path.basename(d).startsWith(`${base}.tmp-`))) ??
      newest(leftovers.filter((d) => path.basename(d).startsWith(`${base}.old-`)));
    if (pick) renameSync(pick, dir);
  }
  for (const d of leftovers) if (existsSync(d)) rmSync(d, { recursive: true, force: true });
}

/**
 * Reads a checkpoint's index with clear errors for a missing, truncated or
 * foreign one: every field is checked, and every tensor's length against its
 * shape (float32) and its offset (tensors lie back to back, covering `bytes`).
 */
export function readCheckpointIndex(dir: string): CheckpointIndex {
  const file = path.join(dir, 'checkpoint.json');
  if (!existsSync(file))
    throw new CheckpointError(`no checkpoint at ${dir} (missing checkpoint.json)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CheckpointError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const header = HeaderSchema.safeParse(raw);
  if (!header.success) throw schemaError(file, header.error);
  const { version } = header.data;
  if (version !== 1 && version !== 2) {
    throw new CheckpointError(
      `${file}: field "version": ${JSON.stringify(version)} is not a checkpoint version this trit reads (1 or ${CHECKPOINT_VERSION})`,
    );
  }
  const parsed = IndexSchemas[version].safeParse(raw);
  if (!parsed.success) throw schemaError(file, parsed.error);
  const index = parsed.data as CheckpointIndex;
  let offset = 0;
  index.tensors.forEach((t, i) => {
    const what = `${file}: tensor "${t.name}" (tensors.${i})`;
    const expected = t.shape.reduce((a, b) => a * b, 1) * BYTES_PER_FLOAT;
    if (t.length !== expected) {
      throw new CheckpointError(
        `${what}: length ${t.length} bytes, its shape [${t.shape}] needs ${expected} (float32)`,
      );
    }
    if (t.offset !== offset) {
      throw new CheckpointError(
        `${what}: offset ${t.offset}, expected ${offset} (tensors lie back to back in tensors.bin)`,
      );
    }
    offset += t.length;
  });
  if (offset !== index.bytes) {
    throw new CheckpointError(
      `${file}: field "bytes": ${index.bytes}, the tensors add up to ${offset}`,
    );
  }
  return index;
}

/** The index and the bytes of tensors.bin, after the size check and (version 2) every checksum. */
function readVerified(
  dir: string,
  log: (line: string) => void,
): { index: CheckpointIndex; bin: Buffer } {
  const index = readCheckpointIndex(dir);
  const binFile = path.join(dir, 'tensors.bin');
  let bin: Buffer;
  try {
    bin = readFileSync(binFile);
  } catch (err) {
    throw new CheckpointError(`${binFile}: cannot be read (${(err as Error).message})`);
  }
  if (bin.byteLength !== index.bytes) {
    throw new CheckpointError(
      `${binFile}: ${bin.byteLength} bytes, the index expects ${index.bytes} (truncated or mismatched)`,
    );
  }
  if (index.version === 1) {
    log(
      `${dir}: checkpoint format version 1 has no checksums, its tensors are loaded unverified ` +
        `(checkpoints written from now on are version ${CHECKPOINT_VERSION})`,
    );
  } else {
    for (const t of index.tensors) {
      const crc = crc32Hex(crc32(bin.subarray(t.offset, t.offset + t.length)));
      if (crc !== t.crc32) {
        throw new CheckpointError(
          `${binFile}: tensor "${t.name}" (${t.group}) fails its checksum: CRC-32 is ${crc}, ` +
            `the index says ${t.crc32} (corrupted)`,
        );
      }
    }
  }
  return { index, bin };
}

/**
 * Restores model variables (matched by order, checked by shape) and, when an
 * optimizer is given, its state saved by {@link saveCheckpoint}; returns the
 * saved `state` (validated by `options.parseState`). Every check (index,
 * size, checksums, state, shapes) passes before the first variable is
 * written, so a refused checkpoint leaves the model as it was. Without an
 * optimizer it loads weights only (fine-tuning, export).
 */
export async function loadCheckpoint<S = Record<string, unknown>>(
  dir: string,
  model: tf.LayersModel,
  optimizer?: tf.Optimizer,
  options: LoadCheckpointOptions<S> = {},
): Promise<Checkpoint<S>> {
  const { index, bin } = readVerified(dir, options.log ?? defaultLog);
  const state = options.parseState
    ? options.parseState(index.state, path.join(dir, 'checkpoint.json'))
    : (index.state as S);
  const modelEntries = index.tensors.filter((t) => t.group === 'model');
  if (modelEntries.length !== model.weights.length) {
    throw new CheckpointError(
      `${dir}: checkpoint has ${modelEntries.length} model variables, the model has ${model.weights.length}`,
    );
  }
  model.weights.forEach((w, i) => {
    const e = modelEntries[i]!;
    if (e.shape.join('x') !== w.shape.join('x')) {
      throw new CheckpointError(
        `${dir}: variable ${i} (${e.name}) has shape [${e.shape}], the model's ${w.originalName} has [${w.shape}]`,
      );
    }
  });
  const read = (t: CheckpointTensor) =>
    tf.tensor(
      new Float32Array(
        bin.buffer.slice(bin.byteOffset + t.offset, bin.byteOffset + t.offset + t.length),
      ),
      t.shape,
    );
  model.weights.forEach((w, i) => {
    const value = read(modelEntries[i]!);
    w.write(value);
    value.dispose();
  });
  const optEntries = index.tensors.filter((t) => t.group === 'optimizer');
  if (optimizer && optEntries.length > 0) {
    const named = optEntries.map((e) => ({ name: e.name, tensor: read(e) }));
    await optimizer.setWeights(named);
    for (const n of named) n.tensor.dispose();
  }
  return { dir, state, version: index.version };
}

/** What {@link loadLatestCheckpoint} loaded, and why the newest checkpoint was passed over. */
export interface LatestCheckpoint<S> extends Checkpoint<S> {
  /** Set when the newest checkpoint was unusable and `<dir>.prev` was loaded instead. */
  readonly fellBackBecause?: string;
}

/**
 * Loads the newest usable checkpoint: `dir`, else `<dir>.prev` when `dir` is
 * missing or refused with a {@link CheckpointError} (any other error, e.g. a
 * different training config, is thrown as is). A fall-back is logged in one
 * line naming what was wrong with the newest; the caller should then call
 * {@link discardNewestCheckpoint} so the next save keeps the good one.
 * Returns null when neither exists; throws naming both when both are bad.
 */
export async function loadLatestCheckpoint<S = Record<string, unknown>>(
  dir: string,
  model: tf.LayersModel,
  optimizer: tf.Optimizer | undefined,
  options: LoadCheckpointOptions<S> = {},
): Promise<LatestCheckpoint<S> | null> {
  const log = options.log ?? defaultLog;
  const prev = previousCheckpointDir(dir);
  const has = (d: string) => existsSync(path.join(d, 'checkpoint.json'));
  if (!has(dir) && !has(prev)) return null;
  let newestError: CheckpointError;
  try {
    return await loadCheckpoint(dir, model, optimizer, options);
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    newestError = err;
  }
  if (!has(prev)) throw newestError;
  let loaded: Checkpoint<S>;
  try {
    loaded = await loadCheckpoint(prev, model, optimizer, options);
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    throw new CheckpointError(
      `no usable checkpoint: the newest is bad (${newestError.message}) and so is the previous one (${err.message})`,
    );
  }
  log(
    `checkpoint ${dir} is unusable (${newestError.message}); falling back to the previous checkpoint ${prev}`,
  );
  return { ...loaded, fellBackBecause: newestError.message };
}

/**
 * After a fall-back to `<dir>.prev`: moves the refused newest checkpoint
 * aside to `<dir>.rejected` (replacing an earlier one; kept for inspection,
 * never loaded) and makes the previous one the newest again, so the next save
 * keeps the good checkpoint as its fall-back. Either folder holds a good
 * checkpoint at every moment.
 */
export function discardNewestCheckpoint(dir: string): void {
  const rejected = `${dir}.rejected`;
  rmSync(rejected, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, rejected);
  renameSync(previousCheckpointDir(dir), dir);
  syncDir(path.dirname(dir));
}
