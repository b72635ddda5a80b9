import {
  cpSync,
  existsSync,
  mkdirSync,
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
import { crc32 } from '@trit/runtime';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ResNetCifarOptions, resnetCifar } from '../src/models/index.js';
import {
  CHECKPOINT_VERSION,
  CheckpointError,
  discardNewestCheckpoint,
  loadCheckpoint,
  loadLatestCheckpoint,
  readCheckpointIndex,
  recoverCheckpoint,
  saveCheckpoint,
} from '../src/training/checkpoint.js';

// Lets a test make one file write fail (a full disk) inside saveCheckpoint, or
// stop the process's file operations after the n-th change (a crash at that moment).
const failWrite = vi.hoisted(() => ({
  endingWith: null as string | null,
  crashAfter: null as number | null,
}));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  /** True when this change must not happen: the process "died" before it. */
  const dead = () => {
    if (failWrite.crashAfter === null) return false;
    if (failWrite.crashAfter > 0) {
      failWrite.crashAfter--;
      return false;
    }
    return true;
  };
  const crash = (what: string): never => {
    throw new Error(`simulated crash before ${what}`);
  };
  const writeFileSync = (...args: Parameters<typeof fs.writeFileSync>) => {
    if (failWrite.endingWith && String(args[0]).endsWith(failWrite.endingWith)) {
      throw new Error(`ENOSPC: no space left on device, write '${String(args[0])}'`);
    }
    if (dead()) {
      // Killed half-way through the write: half the bytes reach the file.
      const data = args[1];
      if (typeof data === 'string' || data instanceof Uint8Array)
        fs.writeFileSync(args[0], data.slice(0, Math.floor(data.length / 2)));
      crash(`finishing ${String(args[0])}`);
    }
    return fs.writeFileSync(...args);
  };
  const guarded =
    <A extends unknown[], R>(name: string, f: (...a: A) => R) =>
    (...a: A): R =>
      dead() ? crash(`${name} ${String(a[0])}`) : f(...a);
  const overrides = {
    writeFileSync,
    renameSync: guarded('rename', fs.renameSync),
    rmSync: guarded('rm', fs.rmSync),
    mkdirSync: guarded('mkdir', fs.mkdirSync),
  };
  return { ...fs, default: { ...fs, ...overrides }, ...overrides };
});

let work: string;
beforeAll(async () => {
  await initBackend({ quiet: true });
});
beforeEach(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'trit-ckpt-'));
  failWrite.endingWith = null;
  failWrite.crashAfter = null;
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

  it('keeps the previous checkpoint as checkpoint.prev and leaves no temp folders behind', async () => {
    const model = smallModel();
    const opt = tf.train.momentum(0.1, 0.9);
    const dir = path.join(work, 'checkpoint');
    for (let epoch = 1; epoch <= 3; epoch++) {
      step(model, opt);
      await saveCheckpoint(dir, model, opt, { epoch });
      expect(readdirSync(work).sort()).toEqual(
        epoch === 1 ? ['checkpoint'] : ['checkpoint', 'checkpoint.prev'],
      );
      expect(readdirSync(dir).sort()).toEqual(['checkpoint.json', 'tensors.bin']);
    }
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 3 });
    expect(readCheckpointIndex(`${dir}.prev`).state).toEqual({ epoch: 2 });
    // keepPrevious: false (the first save of a fresh run) drops what was there.
    await saveCheckpoint(dir, model, opt, { epoch: 1 }, { keepPrevious: false });
    expect(readdirSync(work)).toEqual(['checkpoint']);
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 1 });
  });

  it("version 2: one CRC-32 per tensor, of its bytes in tensors.bin (the export format's checksum)", async () => {
    const model = smallModel();
    const dir = path.join(work, 'checkpoint');
    await saveCheckpoint(dir, model, tf.train.sgd(0.1), { epoch: 1 });
    const index = readCheckpointIndex(dir);
    expect(CHECKPOINT_VERSION).toBe(2);
    expect(index.version).toBe(2);
    const bin = readFileSync(path.join(dir, 'tensors.bin'));
    const d1 = index.tensors[0]!;
    expect(d1.name).toBe('d1/kernel');
    // d1/kernel's 12 float32 values, little-endian, as the model holds them.
    const bytes = new Uint8Array(
      Float32Array.from(model.getLayer('d1').getWeights()[0]!.dataSync()).buffer,
    );
    expect(new Uint8Array(bin.subarray(0, 48))).toEqual(bytes);
    expect(d1.crc32).toBe(crc32(bytes).toString(16).padStart(8, '0'));
    for (const t of index.tensors) expect(t.crc32).toMatch(/^[0-9a-f]{8}$/);
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

/** Rewrites a checkpoint's index (as a tool or a bad disk would). */
function editIndex(dir: string, edit: (index: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'checkpoint.json');
  const index = JSON.parse(readFileSync(file, 'utf8'));
  edit(index);
  writeFileSync(file, JSON.stringify(index));
}

/** The index as version 1 wrote it: no checksums. */
function asVersion1(dir: string): void {
  editIndex(dir, (index) => {
    index.version = 1;
    for (const t of index.tensors as Record<string, unknown>[]) delete t.crc32;
  });
}

/** Flips one bit of byte `at` of tensors.bin. */
function flipByte(dir: string, at: number): void {
  const file = path.join(dir, 'tensors.bin');
  const bin = readFileSync(file);
  bin[at]! ^= 0x10;
  writeFileSync(file, bin);
}

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

  it('a flipped byte in tensors.bin fails the checksum of the tensor holding it; the model keeps its weights', async () => {
    // d2/kernel: after d1/kernel (48 bytes), d1/bias, bn/gamma, bn/beta (16 each) -> bytes 96..127.
    const d2 = readCheckpointIndex(dir).tensors[4]!;
    expect([d2.name, d2.offset, d2.length]).toEqual(['d2/kernel', 96, 32]);
    flipByte(dir, 101);
    const model = smallModel(42);
    const before = values(model);
    const err = await loadCheckpoint(dir, model).catch((e: Error) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^${path.join(dir, 'tensors.bin')}: tensor "d2/kernel" \\(model\\) fails its checksum: CRC-32 is [0-9a-f]{8}, the index says ${d2.crc32} \\(corrupted\\)$`,
      ),
    );
    expect(values(model)).toEqual(before); // nothing was written
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

  it('every field of the index is checked, and each tensor against its shape and place', async () => {
    const json = path.join(dir, 'checkpoint.json');
    const original = readFileSync(json, 'utf8');
    const cases: [(index: Record<string, unknown>) => void, string][] = [
      [
        (i) => (i.version = 3),
        `${json}: field "version": 3 is not a checkpoint version this trit reads (1 or 2)`,
      ],
      [(i) => (i.version = '2'), `${json}: field "version": "2" is not a checkpoint version`],
      [(i) => (i.tensors = null), `${json}: field "tensors": `],
      [(i) => (i.state = []), `${json}: field "state": `],
      [(i) => (i.bytes = -4), `${json}: field "bytes": `],
      [(i) => (i.extra = 1), `${json}: field "": Unrecognized key: "extra"`],
      [(i) => ((i.tensors as { crc32?: string }[])[2]!.crc32 = 'xyz'), 'field "tensors.2.crc32"'],
      [(i) => delete (i.tensors as { crc32?: string }[])[2]!.crc32, 'field "tensors.2.crc32"'],
      [(i) => ((i.tensors as { group: string }[])[0]!.group = 'other'), 'field "tensors.0.group"'],
      [(i) => ((i.tensors as { shape: unknown }[])[1]!.shape = [4.5]), 'field "tensors.1.shape.0"'],
      [
        (i) => ((i.tensors as { length: number }[])[1]!.length = 12),
        `${json}: tensor "d1/bias" (tensors.1): length 12 bytes, its shape [4] needs 16 (float32)`,
      ],
      [
        (i) => ((i.tensors as { offset: number }[])[1]!.offset = 52),
        `${json}: tensor "d1/bias" (tensors.1): offset 52, expected 48 (tensors lie back to back in tensors.bin)`,
      ],
      [(i) => (i.bytes = 176), `${json}: field "bytes": 176, the tensors add up to 172`],
    ];
    for (const [edit, message] of cases) {
      writeFileSync(json, original);
      editIndex(dir, edit);
      expect(() => readCheckpointIndex(dir), message).toThrow(message);
      await expect(loadCheckpoint(dir, smallModel()), message).rejects.toThrow(CheckpointError);
    }
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

  it('a state the caller refuses fails before any variable is written', async () => {
    const model = smallModel(42);
    const before = values(model);
    const parseState = (state: Record<string, unknown>, file: string) => {
      if (typeof state.epoch !== 'number') throw new CheckpointError(`${file}: bad epoch`);
      return state;
    };
    editIndex(dir, (i) => ((i.state as Record<string, unknown>).epoch = 'two'));
    await expect(loadCheckpoint(dir, model, undefined, { parseState })).rejects.toThrow(
      `${path.join(dir, 'checkpoint.json')}: bad epoch`,
    );
    expect(values(model)).toEqual(before);
  });
});

describe('version-1 checkpoints (no checksums)', () => {
  it('still load, weights and optimizer state, with a one-line notice', async () => {
    const model = smallModel();
    const opt = tf.train.adam(0.05);
    for (let i = 0; i < 2; i++) step(model, opt);
    const dir = path.join(work, 'checkpoint');
    await saveCheckpoint(dir, model, opt, { epoch: 2 });
    asVersion1(dir);
    expect(readCheckpointIndex(dir).version).toBe(1);
    const log: string[] = [];
    const other = smallModel(9);
    const otherOpt = tf.train.adam(0.05);
    const loaded = await loadCheckpoint(dir, other, otherOpt, { log: (l) => log.push(l) });
    expect(loaded.version).toBe(1);
    expect(loaded.state).toEqual({ epoch: 2 });
    expect(values(other)).toEqual(values(model));
    expect((await optimizerValues(otherOpt)).map((w) => w.value)).toEqual(
      (await optimizerValues(opt)).map((w) => w.value),
    );
    expect(log).toEqual([
      `${dir}: checkpoint format version 1 has no checksums, its tensors are loaded unverified (checkpoints written from now on are version 2)`,
    ]);
  });

  it('a version-1 index is still checked field by field (a crc32 field is foreign to it)', async () => {
    const dir = path.join(work, 'checkpoint');
    await saveCheckpoint(dir, smallModel(), tf.train.sgd(0.1), { epoch: 1 });
    editIndex(dir, (i) => (i.version = 1));
    expect(() => readCheckpointIndex(dir)).toThrow(
      `${path.join(dir, 'checkpoint.json')}: field "tensors.0": Unrecognized key: "crc32"`,
    );
  });
});

describe('loadLatestCheckpoint: the newest good checkpoint', () => {
  /** Checkpoints after epochs 1 and 2 (checkpoint.prev and checkpoint), and the weights of each. */
  async function twoEpochs() {
    const model = smallModel();
    const opt = tf.train.momentum(0.1, 0.9);
    const dir = path.join(work, 'checkpoint');
    step(model, opt);
    await saveCheckpoint(dir, model, opt, { epoch: 1 });
    const epoch1 = values(model);
    step(model, opt);
    await saveCheckpoint(dir, model, opt, { epoch: 2 });
    return { dir, epoch1, epoch2: values(model) };
  }

  it('loads the newest when it is good, and null when there is none', async () => {
    const { dir, epoch2 } = await twoEpochs();
    const model = smallModel(5);
    const log: string[] = [];
    const loaded = await loadLatestCheckpoint(dir, model, undefined, { log: (l) => log.push(l) });
    expect([loaded?.state, loaded?.fellBackBecause, log]).toEqual([{ epoch: 2 }, undefined, []]);
    expect(values(model)).toEqual(epoch2);
    expect(await loadLatestCheckpoint(path.join(work, 'none'), model, undefined)).toBeNull();
  });

  it('a corrupted newest falls back to the previous one, in one logged line naming what was wrong', async () => {
    const { dir, epoch1 } = await twoEpochs();
    flipByte(dir, 3); // in d1/kernel
    const model = smallModel(5);
    const log: string[] = [];
    const loaded = await loadLatestCheckpoint(dir, model, tf.train.momentum(0.1, 0.9), {
      log: (l) => log.push(l),
    });
    expect(loaded?.state).toEqual({ epoch: 1 });
    expect(loaded?.dir).toBe(`${dir}.prev`);
    expect(values(model)).toEqual(epoch1);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(
      new RegExp(
        `^checkpoint ${dir} is unusable \\(${path.join(dir, 'tensors.bin')}: tensor "d1/kernel" \\(model\\) fails its checksum: .*\\); falling back to the previous checkpoint ${dir}\\.prev$`,
      ),
    );
    expect(loaded?.fellBackBecause).toContain('tensor "d1/kernel" (model) fails its checksum');

    // The bad one goes aside, the good one becomes the newest: the next save keeps it as its fall-back.
    discardNewestCheckpoint(dir);
    expect(readdirSync(work).sort()).toEqual(['checkpoint', 'checkpoint.rejected']);
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 1 });
    await saveCheckpoint(dir, model, tf.train.sgd(0.1), { epoch: 2 });
    expect(readCheckpointIndex(`${dir}.prev`).state).toEqual({ epoch: 1 });
  });

  it('a missing or refused newest falls back too; a state error that is no CheckpointError does not', async () => {
    const { dir, epoch1 } = await twoEpochs();
    const parseState = (state: Record<string, unknown>, file: string) => {
      if (state.epoch === 2) throw new CheckpointError(`${file}: refused`);
      return state;
    };
    const model = smallModel(5);
    const log: string[] = [];
    const loaded = await loadLatestCheckpoint(dir, model, undefined, {
      parseState,
      log: (l) => log.push(l),
    });
    expect(loaded?.state).toEqual({ epoch: 1 });
    expect(log).toEqual([
      `checkpoint ${dir} is unusable (${path.join(dir, 'checkpoint.json')}: refused); falling back to the previous checkpoint ${dir}.prev`,
    ]);
    expect(values(model)).toEqual(epoch1);

    const other = () => {
      throw new Error('a different training config');
    };
    await expect(
      loadLatestCheckpoint(dir, model, undefined, { parseState: other }),
    ).rejects.toThrow(/^a different training config$/);

    rmSync(dir, { recursive: true });
    log.length = 0;
    expect(
      (await loadLatestCheckpoint(dir, model, undefined, { log: (l) => log.push(l) }))?.state,
    ).toEqual({ epoch: 1 });
    expect(log).toEqual([
      `checkpoint ${dir} is unusable (no checkpoint at ${dir} (missing checkpoint.json)); falling back to the previous checkpoint ${dir}.prev`,
    ]);
  });

  it('both bad: an error naming both problems', async () => {
    const { dir } = await twoEpochs();
    flipByte(dir, 3);
    truncateSync(path.join(`${dir}.prev`, 'tensors.bin'), 10);
    await expect(loadLatestCheckpoint(dir, smallModel(), undefined)).rejects.toThrow(
      new RegExp(
        `^no usable checkpoint: the newest is bad \\(.*tensor "d1/kernel" \\(model\\) fails its checksum.*\\) and so is the previous one \\(${path.join(`${dir}.prev`, 'tensors.bin')}: 10 bytes, the index expects \\d+ .*\\)$`,
      ),
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
    await saveCheckpoint(dir, model, opt, { epoch: 2 }, { keepPrevious: false });
    return { dir, first };
  }

  it('version-1 writer killed between its two renames: the complete new temp folder becomes the checkpoint', async () => {
    const { dir, first } = await twoCheckpoints();
    // On disk: checkpoint.old-<pid> (epoch 1) and checkpoint.tmp-<pid> (epoch 2), no checkpoint/.
    renameSync(dir, `${dir}.tmp-4242`);
    renameSync(first, `${dir}.old-4242`);
    recoverCheckpoint(dir);
    expect(readdirSync(work)).toEqual(['checkpoint']);
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 2 });
  });

  it('version-1 writer killed while writing the temp folder after moving the old one aside: the old checkpoint is put back', async () => {
    const { dir, first } = await twoCheckpoints();
    renameSync(dir, `${dir}.tmp-4242`);
    truncateSync(path.join(`${dir}.tmp-4242`, 'tensors.bin'), 10); // incomplete
    renameSync(first, `${dir}.old-4242`);
    recoverCheckpoint(dir);
    expect(readdirSync(work)).toEqual(['checkpoint']);
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 1 });
    await loadCheckpoint(dir, smallModel()); // loadable
  });

  it('a temp folder whose bytes fail a checksum is not put in place', async () => {
    const { dir, first } = await twoCheckpoints();
    renameSync(dir, `${dir}.tmp-4242`);
    flipByte(`${dir}.tmp-4242`, 0);
    renameSync(first, `${dir}.old-4242`);
    recoverCheckpoint(dir);
    expect(readCheckpointIndex(dir).state).toEqual({ epoch: 1 });
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

  it('a crash at any moment of a save leaves a good checkpoint: the new one or the one before', async () => {
    const model = smallModel();
    const opt = tf.train.momentum(0.1, 0.9);
    const dir = path.join(work, 'checkpoint');
    const weights: number[][][] = [];
    for (let epoch = 1; epoch <= 2; epoch++) {
      step(model, opt);
      await saveCheckpoint(dir, model, opt, { epoch });
      weights.push(values(model));
    }
    step(model, opt);
    weights.push(values(model));
    const saved = path.join(work, 'saved');
    mkdirSync(saved);
    for (const d of readdirSync(work).filter((n) => n.startsWith('checkpoint')))
      cpSync(path.join(work, d), path.join(saved, d), { recursive: true });

    const seen = new Set<number>();
    let changes = 0;
    for (; ; changes++) {
      // Back to the two checkpoints, then the save of epoch 3 dies after `changes` file changes.
      for (const d of readdirSync(work).filter((n) => n.startsWith('checkpoint')))
        rmSync(path.join(work, d), { recursive: true });
      for (const d of readdirSync(saved))
        cpSync(path.join(saved, d), path.join(work, d), { recursive: true });
      failWrite.crashAfter = changes;
      const completed = await saveCheckpoint(dir, model, opt, { epoch: 3 }).then(
        () => true,
        (e: Error) => {
          expect(e.message).toMatch(/^simulated crash before /);
          return false;
        },
      );
      failWrite.crashAfter = null;
      // The next process.
      recoverCheckpoint(dir);
      const other = smallModel(77);
      const loaded = await loadLatestCheckpoint(dir, other, undefined, { log: () => {} });
      const epoch = loaded?.state.epoch as number;
      expect([2, 3], `crash after ${changes} changes`).toContain(epoch);
      expect(values(other), `crash after ${changes} changes`).toEqual(weights[epoch - 1]);
      seen.add(epoch);
      if (completed) break;
    }
    // rm tmp, mkdir tmp, 2 writes, rm prev, rename to prev, rename into place, and the run finished.
    expect(changes).toBe(7);
    expect([...seen].sort()).toEqual([2, 3]);
  });
});

describe('the published FP32 ResNet-20 (docs/results/cifar10-resnet20-long/state/pretrain/seed0)', () => {
  // What users fine-tune from (a study's `pretrainFrom`, or their own code as in
  // examples/published-fp32): a change to resnetCifar's layers or to the
  // checkpoint reader that stops it loading must fail here, not on their machine.
  const published = path.resolve(
    import.meta.dirname,
    '../../../docs/results/cifar10-resnet20-long/state/pretrain/seed0',
  );
  it('loads into resnetCifar({ depth: 20 }): every variable by name, the file’s values', async () => {
    const dir = path.join(published, 'checkpoint');
    const identity = JSON.parse(readFileSync(path.join(published, 'identity.json'), 'utf8'));
    expect(identity.identity.model).toEqual({ type: 'resnet-cifar', depth: 20 });
    const model = resnetCifar({ depth: 20 });
    const { state } = await loadCheckpoint(dir, model);
    expect((state as { epoch: number }).epoch).toBe(100);
    const entries = readCheckpointIndex(dir).tensors.filter((t) => t.group === 'model');
    expect(entries.map((e) => e.name)).toEqual(model.weights.map((w) => w.originalName));
    const bin = readFileSync(path.join(dir, 'tensors.bin'));
    for (const name of ['conv1/kernel', 'bn1/moving_variance', 's3b3_conv2/kernel', 'fc/bias']) {
      const e = entries.find((t) => t.name === name)!;
      const want = new Float32Array(
        bin.buffer.slice(bin.byteOffset + e.offset, bin.byteOffset + e.offset + e.length),
      );
      const got = model.weights
        .find((w) => w.originalName === name)!
        .read()
        .dataSync();
      expect(Array.from(got), name).toEqual(Array.from(want));
    }
    model.dispose();
  });
});
