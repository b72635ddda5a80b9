import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';

const CHECKPOINT_VERSION = 1;

const IndexSchema = z.object({
  format: z.literal('trit-checkpoint'),
  version: z.literal(CHECKPOINT_VERSION),
  tensors: z.array(
    z.object({
      group: z.enum(['model', 'optimizer']),
      name: z.string(),
      shape: z.array(z.number().int().nonnegative()),
      offset: z.number().int().nonnegative(),
      length: z.number().int().nonnegative(),
    }),
  ),
  bytes: z.number().int().nonnegative(),
  state: z.record(z.string(), z.unknown()),
});
export type CheckpointIndex = z.infer<typeof IndexSchema>;

export interface Checkpoint {
  readonly dir: string;
  readonly state: Record<string, unknown>;
}

/**
 * Writes model variables, optimizer state and a JSON `state` into `dir`
 * atomically: everything goes to a sibling temp folder that is renamed into
 * place, so a crash leaves either the old checkpoint or the new one.
 */
export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  state: Record<string, unknown>,
): Promise<void> {
  const entries: { group: 'model' | 'optimizer'; name: string; tensor: tf.Tensor }[] = [];
  for (const w of model.weights)
    entries.push({ group: 'model', name: w.originalName, tensor: w.read() });
  const optWeights = await optimizer.getWeights();
  for (const w of optWeights) entries.push({ group: 'optimizer', name: w.name, tensor: w.tensor });
  const chunks: Uint8Array[] = [];
  const tensors: CheckpointIndex['tensors'] = [];
  let offset = 0;
  for (const e of entries) {
    const data = new Uint8Array(Float32Array.from(e.tensor.dataSync() as Float32Array).buffer);
    tensors.push({
      group: e.group,
      name: e.name,
      shape: [...e.tensor.shape],
      offset,
      length: data.byteLength,
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
    writeFileSync(path.join(tmp, 'tensors.bin'), Buffer.concat(chunks));
    // Written last: a temp folder with a valid index is complete (see recoverCheckpoint).
    writeFileSync(path.join(tmp, 'checkpoint.json'), `${JSON.stringify(index)}\n`);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** True if `dir` holds a checkpoint whose index parses and whose tensors.bin has the size it names. */
function isComplete(dir: string): boolean {
  try {
    return statSync(path.join(dir, 'tensors.bin')).size === readCheckpointIndex(dir).bytes;
  } catch {
    return false;
  }
}

/**
 * Repairs what a process killed inside {@link saveCheckpoint} leaves next to
 * `dir`. Between its two renames there is no `dir`, only `dir.old-<pid>` (the
 * previous checkpoint) and `dir.tmp-<pid>` (the new one, complete): the newest
 * complete temp folder becomes `dir`, else the old checkpoint is put back.
 * Every other `dir.tmp-*` / `dir.old-*` is removed. Call it before reading a
 * checkpoint that a killed run may have been writing.
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

/** Reads a checkpoint's index, with clear errors for a missing, truncated or foreign one. */
export function readCheckpointIndex(dir: string): CheckpointIndex {
  const file = path.join(dir, 'checkpoint.json');
  if (!existsSync(file)) throw new Error(`no checkpoint at ${dir} (missing checkpoint.json)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = IndexSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: field "${issue.path.join('.')}": ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Restores model variables (matched by order, checked by shape) and, when an
 * optimizer is given, its state saved by {@link saveCheckpoint}; returns the
 * saved `state`. Without an optimizer it loads weights only (fine-tuning).
 */
export async function loadCheckpoint(
  dir: string,
  model: tf.LayersModel,
  optimizer?: tf.Optimizer,
): Promise<Checkpoint> {
  const index = readCheckpointIndex(dir);
  const binFile = path.join(dir, 'tensors.bin');
  const bin = readFileSync(binFile);
  if (bin.byteLength !== index.bytes) {
    throw new Error(
      `${binFile}: ${bin.byteLength} bytes, the index expects ${index.bytes} (truncated or mismatched)`,
    );
  }
  const read = (t: CheckpointIndex['tensors'][number]) =>
    tf.tensor(
      new Float32Array(
        bin.buffer.slice(bin.byteOffset + t.offset, bin.byteOffset + t.offset + t.length),
      ),
      t.shape,
    );
  const modelEntries = index.tensors.filter((t) => t.group === 'model');
  if (modelEntries.length !== model.weights.length) {
    throw new Error(
      `${dir}: checkpoint has ${modelEntries.length} model variables, the model has ${model.weights.length}`,
    );
  }
  model.weights.forEach((w, i) => {
    const e = modelEntries[i]!;
    if (e.shape.join('x') !== w.shape.join('x')) {
      throw new Error(
        `${dir}: variable ${i} (${e.name}) has shape [${e.shape}], the model's ${w.originalName} has [${w.shape}]`,
      );
    }
    const value = read(e);
    w.write(value);
    value.dispose();
  });
  const optEntries = index.tensors.filter((t) => t.group === 'optimizer');
  if (optimizer && optEntries.length > 0) {
    const named = optEntries.map((e) => ({ name: e.name, tensor: read(e) }));
    await optimizer.setWeights(named);
    for (const n of named) n.tensor.dispose();
  }
  return { dir, state: index.state };
}
