import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, TritBatchNormalization } from '@trit/quant-core';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ResNetCifarOptions, resnetCifar } from '../src/models/index.js';
import {
  loadCheckpoint,
  readCheckpointIndex,
  recoverCheckpoint,
  saveCheckpoint,
} from '../src/training/checkpoint.js';

// Lets a test make one file write fail (a full disk) inside saveCheckpoint.
const failWrite = vi.hoisted(() => ({ endingWith: null as string | null }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const writeFileSync = (...args: Parameters<typeof fs.writeFileSync>) => {
    if (failWrite.endingWith && String(args[0]).endsWith(failWrite.endingWith)) {
      throw new Error(`ENOSPC: no space left on device, write '${String(args[0])}'`);
    }
    return fs.writeFileSync(...args);
  };
  return { ...fs, default: { ...fs, writeFileSync }, writeFileSync };
});

let work: string;
beforeAll(async () => {
  await initBackend({ quiet: true });
});
beforeEach(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'trit-ckpt-'));
  failWrite.endingWith = null;
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
  tf.disposeVariables();
});

/** A small model with trainable and non-trainable (BN moving stats) variables, fixed initial values. */
function smallModel(seed = 1): tf.LayersModel {
  const input = tf.input({ shape: [3] });
  let h = tf.layers
    .dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed }), name: 'd1' })
    .apply(input);
  h = tf.layers.batchNormalization({ name: 'bn' }).apply(h);
  const out = tf.layers
    .dense({
      units: 2,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
      name: 'd2',
    })
    .apply(h);
  return tf.model({ inputs: input, outputs: out as tf.SymbolicTensor });
}

const X = () => tf.tensor2d([1, 2, 3, -1, 0.5, 2, 0, -2, 1, 3, 1, -1], [4, 3]);
const Y = () => tf.tensor2d([1, 0, 0, 1, 1, 0, 0, 1], [4, 2]);

function step(model: tf.LayersModel, opt: tf.Optimizer): void {
  tf.tidy(() => {
    const x = X();
    const y = Y();
    opt.minimize(
      () =>
        tf.losses.softmaxCrossEntropy(
          y,
          model.apply(x, { training: true }) as tf.Tensor,
        ) as tf.Scalar,
    );
  });
}

const values = (model: tf.LayersModel) => model.weights.map((w) => Array.from(w.read().dataSync()));

async function optimizerValues(opt: tf.Optimizer) {
  const ws = await opt.getWeights();
  return ws.map((w) => ({ name: w.name, value: Array.from(w.tensor.dataSync()) }));
}

describe('saveCheckpoint / loadCheckpoint', () => {
  it('round-trips model variables (BN moving stats included), Adam state and the JSON state', async () => {
    const model = smallModel();
    const opt = tf.train.adam(0.05);
    for (let i = 0; i < 3; i++) step(model, opt);
    const dir = path.join(work, 'checkpoint');
    await saveCheckpoint(dir, model, opt, { epoch: 3, note: 'x', nested: { a: [1, 2] } });

    const index = readCheckpointIndex(dir);
    // model.weights order: trainable first (d1 kernel/bias, bn γ/β, d2 kernel/bias), then BN's moving mean/variance.
    expect(index.tensors.filter((t) => t.group === 'model').map((t) => [t.name, t.shape])).toEqual([
      ['d1/kernel', [3, 4]],
      ['d1/bias', [4]],
      ['bn/gamma', [4]],
      ['bn/beta', [4]],
      ['d2/kernel', [4, 2]],
      ['d2/bias', [2]],
      ['bn/moving_mean', [4]],
      ['bn/moving_variance', [4]],
    ]);
    // iterations + m and v for the 6 trainable variables.
    expect(index.tensors.filter((t) => t.group === 'optimizer')).toHaveLength(13);

    const other = smallModel(99);
    const otherOpt = tf.train.adam(0.05);
    expect(values(other)).not.toEqual(values(model));
    const { state } = await loadCheckpoint(dir, other, otherOpt);
    expect(state).toEqual({ epoch: 3, note: 'x', nested: { a: [1, 2] } });
    expect(values(other)).toEqual(values(model));
    const a = await optimizerValues(opt);
    const b = await optimizerValues(otherOpt);
    expect(b.map((w) => w.value)).toEqual(a.map((w) => w.value));
    expect(b[0]!.value).toEqual([3]); // the iteration count

    // The restored optimizer continues exactly as the original (bias correction included).
    step(model, opt);
    step(other, otherOpt);
    expect(values(other)).toEqual(values(model));
  });

  it('without an optimizer loads the weights only', async () => {
    const model = smallModel();
    const dir = path.join(work, 'checkpoint');
    await saveCheckpoint(dir, model, tf.train.sgd(0.1), { epoch: 1 });
    const other = smallModel(7);
    await loadCheckpoint(dir, other);
    expect(values(other)).toEqual(values(model));
  });

  it('leaves no temp or old folders behind after repeated saves', async () => {
    const model = smallModel();
    const opt = tf.train.momentum(0.1, 0.9);
    const dir = path.join(work, 'checkpoint');
    for (let epoch = 1; epoch <= 3; epoch++) {
      step(model, opt);
      await saveCheckpoint(dir, model, opt, { epoch });
      expect(readdirSync(work)).toEqual(['checkpoint']);
      expect(readdirSync(dir).sort()).toEqual(['checkpoint.json', 'tensors.bin']);
    }
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 3 });
  });

  it('a save that fails half-way (disk full) keeps the previous checkpoint intact and leaves no temp folder', async () => {
    const model = smallModel();
    const opt = tf.train.momentum(0.1, 0.9);
    const dir = path.join(work, 'checkpoint');
    await saveCheckpoint(dir, model, opt, { epoch: 1 });
    const before = {
      json: readFileSync(path.join(dir, 'checkpoint.json')),
      bin: readFileSync(path.join(dir, 'tensors.bin')),
    };
    const saved = values(model);
    step(model, opt);
    failWrite.endingWith = `${path.sep}checkpoint.json`;
    await expect(saveCheckpoint(dir, model, opt, { epoch: 2 })).rejects.toThrow('ENOSPC');
    failWrite.endingWith = null;
    expect(readdirSync(work)).toEqual(['checkpoint']);
    expect(readFileSync(path.join(dir, 'checkpoint.json'))).toEqual(before.json);
    expect(readFileSync(path.join(dir, 'tensors.bin'))).toEqual(before.bin);
    const other = smallModel(5);
    expect((await loadCheckpoint(dir, other)).state).toEqual({ epoch: 1 });
    expect(values(other)).toEqual(saved);
  });
});

describe('a checkpoint written with tfjs BatchNormalization', () => {
  it('resumes in the same model built with TritBatchNormalization (weights, moving stats, momentum)', async () => {
    // The new model (bn() builds TritBatchNormalization) and the old one: the
    // same topology with tfjs's BatchNormalization, as runs started before the switch built it.
    const opts: ResNetCifarOptions = { depth: 8, seed: 3, inputShape: [16, 16, 3], shortcut: 'B' };
    const json = JSON.stringify(resnetCifar(opts).toJSON(null, false));
    expect(json).toContain('"class_name":"TritBatchNormalization"');
    const old = await tf.models.modelFromJSON({
      modelTopology: JSON.parse(
        json.replaceAll(
          '"class_name":"TritBatchNormalization"',
          '"class_name":"BatchNormalization"',
        ),
      ),
    });
    const bnClasses = (m: tf.LayersModel) =>
      [...new Set(m.layers.map((l) => l.getClassName()))].filter((c) => c.includes('BatchNorm'));
    expect(bnClasses(old)).toEqual(['BatchNormalization']);

    const x = tf.randomNormal([4, 16, 16, 3], 0, 1, 'float32', 5);
    const y = tf.oneHot(tf.tensor1d([1, 7, 3, 0], 'int32'), 10);
    // As train.ts does: an explicit variable list in model.layers order (the
    // optimizer's state is matched by position in it).
    const trainStep = (model: tf.LayersModel, opt: tf.Optimizer) =>
      tf.tidy(() => {
        opt.minimize(
          () =>
            tf.losses.softmaxCrossEntropy(
              y,
              model.apply(x, { training: true }) as tf.Tensor,
            ) as tf.Scalar,
          false,
          model.trainableWeights.map((w) => w.read() as tf.Variable),
        );
      });
    const oldOpt = tf.train.momentum(0.1, 0.9);
    for (let i = 0; i < 2; i++) trainStep(old, oldOpt);
    const dir = path.join(work, 'checkpoint');
    await saveCheckpoint(dir, old, oldOpt, { epoch: 2 });

    const resumed = resnetCifar(opts);
    expect(bnClasses(resumed)).toEqual([TritBatchNormalization.className]);
    expect(resumed.weights.map((w) => w.originalName)).toEqual(
      old.weights.map((w) => w.originalName),
    );
    const opt = tf.train.momentum(0.1, 0.9);
    expect((await loadCheckpoint(dir, resumed, opt)).state).toEqual({ epoch: 2 });
    expect(values(resumed)).toEqual(values(old));
    expect((await optimizerValues(opt)).map((w) => w.value)).toEqual(
      (await optimizerValues(oldOpt)).map((w) => w.value),
    );

    // Both continue alike (the fused native path matches tfjs's to float32 rounding).
    trainStep(old, oldOpt);
    trainStep(resumed, opt);
    const a = values(resumed);
    const b = values(old);
    let worst = 0;
    for (const [i, w] of b.entries()) {
      for (const [j, v] of w.entries()) worst = Math.max(worst, Math.abs(a[i]![j]! - v));
    }
    expect(worst).toBeLessThan(1e-5);
    expect(values(resumed)).not.toEqual(values(old).map((w) => w.map(() => 0))); // trained, not zeroed
    tf.dispose([x, y]);
  });
});

describe('clear errors for damaged checkpoints', () => {
  let dir: string;
  beforeEach(async () => {
    dir = path.join(work, 'checkpoint');
    await saveCheckpoint(dir, smallModel(), tf.train.sgd(0.1), { epoch: 1 });
  });

  it('a truncated tensors.bin names the file and both sizes', async () => {
    const bin = path.join(dir, 'tensors.bin');
    const bytes = readCheckpointIndex(dir).bytes;
    // model: 3·4 + 4 + 4·4 + 4·2 + 2 = 42 floats; plain SGD: just its iteration count, 1 float -> 43·4 bytes
    expect(bytes).toBe(172);
    truncateSync(bin, 100);
    await expect(loadCheckpoint(dir, smallModel())).rejects.toThrow(
      `${bin}: 100 bytes, the index expects 172 (truncated or mismatched)`,
    );
  });

  it('a missing checkpoint, broken JSON and a foreign index are named', async () => {
    expect(() => readCheckpointIndex(path.join(work, 'nope'))).toThrow(
      `no checkpoint at ${path.join(work, 'nope')} (missing checkpoint.json)`,
    );
    const json = path.join(dir, 'checkpoint.json');
    writeFileSync(json, '{"format": "trit-checkpoint", "vers');
    expect(() => readCheckpointIndex(dir)).toThrow(`${json}: not valid JSON`);
    writeFileSync(
      json,
      JSON.stringify({ format: 'something-else', version: 1, tensors: [], bytes: 0, state: {} }),
    );
    expect(() => readCheckpointIndex(dir)).toThrow(`${json}: field "format"`);
  });

  it('a checkpoint of another model is refused, naming the variable and both shapes', async () => {
    const input = tf.input({ shape: [3] });
    const h = tf.layers.dense({ units: 5, name: 'wide' }).apply(input) as tf.SymbolicTensor;
    let other = tf.model({ inputs: input, outputs: h });
    await expect(loadCheckpoint(dir, other)).rejects.toThrow(
      `${dir}: checkpoint has 8 model variables, the model has 2`,
    );
    const input2 = tf.input({ shape: [3] });
    let g = tf.layers.dense({ units: 5, name: 'd1' }).apply(input2);
    g = tf.layers.batchNormalization({ name: 'bn' }).apply(g);
    g = tf.layers.dense({ units: 2, name: 'd2' }).apply(g);
    other = tf.model({ inputs: input2, outputs: g as tf.SymbolicTensor });
    await expect(loadCheckpoint(dir, other)).rejects.toThrow(
      `${dir}: variable 0 (d1/kernel) has shape [3,4], the model's d1/kernel has [3,5]`,
    );
  });
});

describe('recoverCheckpoint (a process killed inside saveCheckpoint)', () => {
  async function twoCheckpoints() {
    const model = smallModel();
    const opt = tf.train.sgd(0.1);
    const dir = path.join(work, 'checkpoint');
    await saveCheckpoint(dir, model, opt, { epoch: 1 });
    const first = path.join(work, 'first');
    cpSync(dir, first, { recursive: true });
    step(model, opt);
    await saveCheckpoint(dir, model, opt, { epoch: 2 });
    return { dir, first };
  }

  it('killed between the two renames: the complete new temp folder becomes the checkpoint', async () => {
    const { dir, first } = await twoCheckpoints();
    // On disk: checkpoint.old-<pid> (epoch 1) and checkpoint.tmp-<pid> (epoch 2), no checkpoint/.
    renameSync(dir, `${dir}.tmp-4242`);
    renameSync(first, `${dir}.old-4242`);
    recoverCheckpoint(dir);
    expect(readdirSync(work)).toEqual(['checkpoint']);
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 2 });
  });

  it('killed while writing the temp folder after moving the old one aside: the old checkpoint is put back', async () => {
    const { dir, first } = await twoCheckpoints();
    renameSync(dir, `${dir}.tmp-4242`);
    truncateSync(path.join(`${dir}.tmp-4242`, 'tensors.bin'), 10); // incomplete
    renameSync(first, `${dir}.old-4242`);
    recoverCheckpoint(dir);
    expect(readdirSync(work)).toEqual(['checkpoint']);
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 1 });
    await loadCheckpoint(dir, smallModel()); // loadable
  });

  it('killed before the first rename: the current checkpoint stays, the stale temp folder goes', async () => {
    const { dir, first } = await twoCheckpoints();
    renameSync(first, `${dir}.tmp-999`);
    rmSync(path.join(`${dir}.tmp-999`, 'checkpoint.json')); // killed mid-write
    recoverCheckpoint(dir);
    expect(readdirSync(work)).toEqual(['checkpoint']);
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 2 });
  });

  it('does nothing without a checkpoint or leftovers', () => {
    recoverCheckpoint(path.join(work, 'checkpoint'));
    recoverCheckpoint(path.join(work, 'missing-parent', 'checkpoint'));
    expect(existsSync(path.join(work, 'checkpoint'))).toBe(false);
    expect(readdirSync(work)).toEqual([]);
  });
});
