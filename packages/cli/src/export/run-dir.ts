/**
 * Rebuilding a trained model from a bench run folder:
 * `<out>/runs/<method>-seed<S>/` holds `model.json` (the tfjs topology,
 * written when training starts) and `checkpoint/` (weights after the last
 * finished epoch, and each quantizer's schedule state).
 */
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import '../models/index.js'; // registers TritChannelPadShortcut for deserialization
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { quantLayers } from '@trit/quant-core';
import { readIdentity } from '../bench/identity.js';
import type { RunResult } from '../bench/run.js';
import type { Study } from '../bench/study.js';
import {
  CheckpointError,
  loadCheckpoint,
  previousCheckpointDir,
  readCheckpointIndex,
} from '../training/checkpoint.js';
import { parseTrainState } from '../training/train-state.js';

/** A trained model rebuilt from a run folder, with what the folder says about it. */
export interface LoadedRun {
  readonly model: tf.LayersModel;
  /** The run folder (holds model.json). */
  readonly runDir: string;
  readonly checkpointDir: string;
  /** Epochs finished when the checkpoint was written. */
  readonly epoch: number | null;
  /** `result.json` of a finished run, if present. */
  readonly result: RunResult | null;
  /** The run's data: from its identity.json, else the bench folder's results.json; null if neither says. */
  readonly preset: Pick<Study, 'data'> | null;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${what} ${file} cannot be read: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} ${file} is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * The run folder and checkpoint folder for `dir`, which may be the run folder
 * or its `checkpoint/` subfolder. Throws a clear error when `model.json` or
 * the checkpoint is missing.
 */
export function resolveRunDir(dir: string): { runDir: string; checkpointDir: string } {
  const abs = path.resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new Error(
      `${abs} is not a folder (expected a bench run folder such as <out>/runs/ttq-seed0)`,
    );
  }
  const isCheckpoint = existsSync(path.join(abs, 'checkpoint.json'));
  const runDir = isCheckpoint ? path.dirname(abs) : abs;
  const checkpointDir = isCheckpoint ? abs : path.join(abs, 'checkpoint');
  if (!existsSync(path.join(runDir, 'model.json'))) {
    throw new Error(
      `${runDir} has no model.json (the tfjs topology a bench run writes next to checkpoint/); ` +
        'pass a run folder such as <out>/runs/ttq-seed0 or its checkpoint/ folder',
    );
  }
  if (!existsSync(path.join(checkpointDir, 'checkpoint.json'))) {
    const base = path.basename(checkpointDir);
    const interrupted = readdirSync(path.dirname(checkpointDir)).some(
      (n) => n.startsWith(`${base}.tmp-`) || n.startsWith(`${base}.old-`) || n === `${base}.prev`,
    );
    throw new Error(
      `${runDir} has no checkpoint (missing ${path.join(checkpointDir, 'checkpoint.json')}): ` +
        (interrupted
          ? 'a checkpoint write was interrupted; resume the run (trit bench --resume) to repair it'
          : 'the run did not finish an epoch yet'),
    );
  }
  return { runDir, checkpointDir };
}

/**
 * The data a run folder `<out>/runs/<name>` (or `<out>/pretrain/<name>`) was
 * trained on: from its own identity.json, written when the run started (so a
 * finished run of a sweep still in progress has it), else from the `study`
 * (or, for results written before studies were recorded, `config.preset`) of
 * `<out>/results.json`. A malformed identity.json is an error naming it.
 */
export function findBenchPreset(runDir: string): Pick<Study, 'data'> | null {
  const identity = readIdentity(runDir);
  if (identity) return { data: identity.data };
  const file = path.join(runDir, '..', '..', 'results.json');
  if (!existsSync(file)) return null;
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as {
      study?: Pick<Study, 'data'>;
      config?: { preset?: Pick<Study, 'data'> };
    };
    const p = json.study ?? json.config?.preset;
    return p && typeof p === 'object' && p.data ? { data: p.data } : null;
  } catch {
    return null;
  }
}

/**
 * Rebuilds the trained model of a run folder: `tf.models.modelFromJSON` on
 * `model.json` (the quantized layer classes, the quantizers and the option-A
 * shortcut are registered by this module's imports), the checkpoint's
 * weights (by order, checked by shape), and each quantized layer's schedule
 * state from the checkpoint (e.g. HLA's phase; `model.json` holds the state at
 * the start of training). The checkpoint passes every check first (checksums,
 * every field of its state): a bad one is an error naming the file and the
 * tensor or field, never a model with damaged weights. On any failure the
 * partly built model is disposed.
 */
export async function loadRun(dir: string): Promise<LoadedRun> {
  const { runDir, checkpointDir } = resolveRunDir(dir);
  const topology = readJson(
    path.join(runDir, 'model.json'),
    'model topology',
  ) as tf.io.ModelJSON['modelTopology'];
  readCheckpointIndex(checkpointDir); // a malformed index fails before the model is built
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON(topology as tf.serialization.ConfigDict);
  } catch (err) {
    throw new Error(
      `cannot rebuild the model from ${path.join(runDir, 'model.json')}: ${(err as Error).message}`,
    );
  }
  let epoch: number;
  try {
    const { state } = await loadCheckpoint(checkpointDir, model, undefined, {
      parseState: parseTrainState,
    });
    epoch = state.epoch;
    for (const layer of quantLayers(model)) {
      const s = state.quantizerStates[layer.name];
      if (s && Object.keys(s).length > 0) layer.quantizer.setState(s);
    }
  } catch (err) {
    model.dispose();
    throw err instanceof CheckpointError ? withPreviousHint(err, checkpointDir) : err;
  }
  const resultFile = path.join(runDir, 'result.json');
  const result = existsSync(resultFile) ? (readJson(resultFile, 'run result') as RunResult) : null;
  return { model, runDir, checkpointDir, epoch, result, preset: findBenchPreset(runDir) };
}

/** A bad checkpoint's error, plus where the previous one is and how to get a good newest one from it. */
function withPreviousHint(err: CheckpointError, checkpointDir: string): CheckpointError {
  const prev = previousCheckpointDir(checkpointDir);
  if (!existsSync(path.join(prev, 'checkpoint.json'))) return err;
  return new CheckpointError(
    `${err.message}. The previous checkpoint is kept at ${prev}: export it, or resume the run ` +
      '(trit bench --resume), which falls back to it and trains the last epoch again',
  );
}
