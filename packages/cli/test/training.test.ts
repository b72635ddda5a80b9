import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  initBackend,
  QuantConv2D,
  QuantDense,
  quantizeModel,
  Rng,
  TritBatchNormalization,
  trainStep,
} from '@trit/quant-core';
import { testBackends, withBackend } from '@trit/quant-core/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadCheckpoint, readCheckpointIndex } from '../src/training/checkpoint.js';
import { learningRateAt, type ScheduleConfig } from '../src/training/optimizer.js';
import {
  type TrainConfigInput,
  type TrainData,
  TrainingDivergedError,
  train,
  WeightDecaySchema,
} from '../src/training/train.js';
import {
  removeDir,
  tempDir,
  tinyData,
  tinyModel,
  weightValues,
  withoutTiming,
} from './bench-support.js';

let work: string;
beforeAll(async () => {
  await initBackend({ quiet: true });
});
beforeEach(() => {
  work = tempDir('trit-train-');
});
afterEach(() => {
  removeDir(work);
  tf.disposeVariables();
});

const dir = (name: string) => path.join(work, name);

/** Every trainable weight of `model` by its original name, as plain numbers. */
function weightsByName(model: tf.LayersModel): Map<string, number[]> {
  return new Map(
    model.trainableWeights.map((w) => [w.originalName, Array.from(w.read().dataSync())]),
  );
}

type Step = { w0: Map<string, number[]>; w1: Map<string, number[]> };

/**
 * The weight decay each weight effectively got in one plain SGD step from the
 * same start, with (`decayed`) and without (`plain`) decay:
 * (plain − decayed) · w0 / (lr · |w0|²), rounded to 4 decimals.
 */
function effectiveDecay(plain: Step, decayed: Step, lr: number): Record<string, number> {
  const effective: Record<string, number> = {};
  for (const [name, w0] of plain.w0) {
    const a = plain.w1.get(name)!;
    const b = decayed.w1.get(name)!;
    let num = 0;
    let den = 0;
    w0.forEach((w, i) => {
      num += (a[i]! - b[i]!) * w;
      den += lr * w * w;
    });
    effective[name] = Math.round((num / den) * 1e4) / 1e4;
  }
  return effective;
}

describe('learningRateAt', () => {
  it('constant', () => {
    expect(learningRateAt(0.1, { type: 'constant' }, 7.5, 10)).toBe(0.1);
  });

  it('step: multiplies by gamma at each passed milestone (whole epochs)', () => {
    const s: ScheduleConfig = { type: 'step', milestones: [2, 4], gamma: 0.1 };
    expect(learningRateAt(0.1, s, 0, 6)).toBe(0.1);
    expect(learningRateAt(0.1, s, 1.99, 6)).toBe(0.1); // epoch 1, late step: no milestone passed
    expect(learningRateAt(0.1, s, 2, 6)).toBeCloseTo(0.01, 15); // 0.1 · 0.1
    expect(learningRateAt(0.1, s, 3.5, 6)).toBeCloseTo(0.01, 15);
    expect(learningRateAt(0.1, s, 4, 6)).toBeCloseTo(0.001, 15); // 0.1 · 0.1²
    expect(learningRateAt(0.1, s, 5.9, 6)).toBeCloseTo(0.001, 15);
  });

  it('cosine with linear warm-up from 0 and a floor', () => {
    const s: ScheduleConfig = { type: 'cosine', warmupEpochs: 2, minLr: 0.001 };
    // warm-up: base · epoch / 2
    expect(learningRateAt(0.1, s, 0, 10)).toBe(0);
    expect(learningRateAt(0.1, s, 1, 10)).toBeCloseTo(0.05, 15);
    expect(learningRateAt(0.1, s, 1.5, 10)).toBeCloseTo(0.075, 15);
    // then minLr + ½ (base − minLr)(1 + cos(π t)), t = (epoch − 2) / 8
    expect(learningRateAt(0.1, s, 2, 10)).toBeCloseTo(0.1, 15); // t = 0
    expect(learningRateAt(0.1, s, 6, 10)).toBeCloseTo(0.0505, 15); // t = ½: 0.001 + 0.0495
    expect(learningRateAt(0.1, s, 8, 10)).toBeCloseTo(0.01549821, 8); // t = ¾: 0.001 + 0.0495 · (1 − 0.7071068) = 0.001 + 0.0144982
    expect(learningRateAt(0.1, s, 10, 10)).toBeCloseTo(0.001, 15); // t = 1
    expect(learningRateAt(0.1, s, 12, 10)).toBeCloseTo(0.001, 15); // clamped past the end
    // no warm-up, no floor: ½ · 0.2 · (1 + cos(π/4)) = 0.1 · 1.7071068
    expect(learningRateAt(0.2, { type: 'cosine', warmupEpochs: 0, minLr: 0 }, 1, 4)).toBeCloseTo(
      0.17071068,
      8,
    );
  });

  it('train() follows the schedule step by step (the record holds the epoch’s last step’s rate)', async () => {
    const base = {
      batchSize: 16,
      augment: false,
      optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9 },
    } as const;
    const step = await train({
      model: tinyModel('fp32'),
      data: tinyData(),
      config: { ...base, epochs: 3, schedule: { type: 'step', milestones: [1, 2], gamma: 0.5 } },
      outDir: dir('step'),
      progress: false,
    });
    expect(step.history.map((h) => h.lr)).toEqual([0.1, 0.05, 0.025]);
    // 3 steps per epoch, last step at epoch + 2/3: warm-up 0.1 · 2/3, then ½ · 0.1 · (1 + cos(2π/3)) = 0.025
    const cos = await train({
      model: tinyModel('fp32'),
      data: tinyData(),
      config: { ...base, epochs: 2, schedule: { type: 'cosine', warmupEpochs: 1, minLr: 0 } },
      outDir: dir('cos'),
      progress: false,
    });
    expect(cos.history[0]!.lr).toBeCloseTo(0.1 * (2 / 3), 12);
    expect(cos.history[1]!.lr).toBeCloseTo(0.025, 12);
  });

  it('the optimizer really uses the scheduled rate: a warm-up step at rate 0 moves no weight (SGD and Adam)', async () => {
    for (const optimizer of [
      { type: 'sgd', lr: 0.5, momentum: 0.9 },
      { type: 'adam', lr: 0.5 },
    ] as const) {
      const model = tinyModel('ttq');
      const trainable = () => model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
      const before = trainable();
      const r = await train({
        model,
        data: tinyData(),
        config: {
          epochs: 1,
          batchSize: 16,
          maxStepsPerEpoch: 1,
          optimizer,
          schedule: { type: 'cosine', warmupEpochs: 1, minLr: 0 },
        },
        outDir: dir(optimizer.type),
        progress: false,
      });
      expect(r.history[0]!.lr).toBe(0);
      expect(trainable()).toEqual(before);
    }
  });
});

describe('weight-decay groups', () => {
  /** conv c1 (TTQ: kernel, bias, wp, wn) -> BN -> conv c2 (SQ: kernel, alpha, beta) -> GAP -> dense fc (kernel, bias). */
  function decayModel(): tf.LayersModel {
    const input = tf.input({ shape: [4, 4, 2] });
    let h = tf.layers
      .conv2d({
        filters: 3,
        kernelSize: 3,
        padding: 'same',
        name: 'c1',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }),
        biasInitializer: tf.initializers.constant({ value: 0.3 }),
      })
      .apply(input);
    h = tf.layers
      .batchNormalization({ name: 'bn', betaInitializer: tf.initializers.constant({ value: 0.2 }) })
      .apply(h);
    h = tf.layers.activation({ activation: 'relu' }).apply(h);
    h = tf.layers
      .conv2d({
        filters: 3,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        name: 'c2',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }),
      })
      .apply(h);
    h = tf.layers.globalAveragePooling2d({}).apply(h);
    const out = tf.layers
      .dense({
        units: 2,
        name: 'fc',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 13 }),
        biasInitializer: tf.initializers.constant({ value: -0.1 }),
      })
      .apply(h) as tf.SymbolicTensor;
    const base = tf.model({ inputs: input, outputs: out });
    const { model } = quantizeModel(base, {
      keepFirstLastFP32: false,
      rules: [
        { match: { name: 'c1' }, quantizer: 'ttq' },
        { match: { name: 'c2' }, quantizer: 'sq' },
      ],
    });
    base.dispose();
    return model;
  }

  const data: TrainData = {
    inputShape: [4, 4, 2],
    numClasses: 2,
    numTrain: 8,
    numTest: 8,
    *trainBatches() {
      const rng = new Rng(5);
      yield {
        x: Float32Array.from({ length: 8 * 32 }, () => rng.next() * 2 - 1),
        shape: [8, 4, 4, 2],
        y: Int32Array.from([0, 1, 0, 1, 1, 0, 1, 0]),
        size: 8,
        indices: Uint32Array.from([0, 1, 2, 3, 4, 5, 6, 7]),
        epoch: 0,
        step: 0,
      };
    },
    *testBatches() {
      yield* this.trainBatches(0, 8, 0, false);
    },
  };

  it('defaults: 1e-4 on kernels and quantizer scales, none on biases and BatchNorm', () => {
    expect(WeightDecaySchema.parse({})).toEqual({
      kernel: 1e-4,
      quantizerScales: 1e-4,
      bias: 0,
      batchNorm: 0,
    });
  });

  it('decays each variable with its group’s coefficient: kernels, biases, BN, TTQ/SQ scales; never SQ’s β; not in the reported loss', async () => {
    // One plain SGD step from the same start with and without decay: the difference of the
    // results is lr · wd · w0 for a decayed variable (the data gradient is the same), 0 otherwise.
    const lr = 0.1;
    const run = async (weightDecay: TrainConfigInput['weightDecay'], name: string) => {
      const model = decayModel();
      const w0 = weightsByName(model);
      const { history } = await train({
        model,
        data,
        config: {
          epochs: 1,
          batchSize: 8,
          augment: false,
          optimizer: { type: 'sgd', lr, momentum: 0 },
          weightDecay,
        },
        outDir: dir(name),
        progress: false,
      });
      const w1 = weightsByName(model);
      return { w0, w1, loss: history[0]!.trainLoss };
    };
    const plain = await run({ kernel: 0, quantizerScales: 0, bias: 0, batchNorm: 0 }, 'plain');
    const decayed = await run(
      { kernel: 0.5, quantizerScales: 0.25, bias: 0.125, batchNorm: 0.0625 },
      'decayed',
    );
    expect(decayed.w0).toEqual(plain.w0); // same start
    const effective = effectiveDecay(plain, decayed, lr);
    expect(effective).toEqual({
      'c1/kernel': 0.5,
      'c1/bias': 0.125,
      'c1/wp': 0.25,
      'c1/wn': 0.25,
      'bn/gamma': 0.0625,
      'bn/beta': 0.0625,
      'c2/kernel': 0.5,
      'c2/alpha': 0.25,
      'c2/beta': 0,
      'fc/kernel': 0.5,
      'fc/bias': 0.125,
    });
    // Decay acts on the gradients: the reported loss (taken before the step) leaves it out.
    expect(decayed.loss).toBe(plain.loss);
  });

  it('groups quantizer parameters by the layer’s own map: a user weight named like one ("gate_beta") is decayed as a kernel, not skipped as SQ’s β, and not put in the quantizer group; freezeQuantizerParams keeps a parameter at its initial value', async () => {
    /** A user's QuantDense with a weight of its own whose name ends like SQ's `beta`. */
    class GatedDense extends QuantDense {
      gate: tf.LayerVariable | null = null;
      override build(inputShape: tf.Shape | tf.Shape[]): void {
        super.build(inputShape);
        this.gate = this.addWeight(
          'gate_beta',
          [],
          'float32',
          tf.initializers.constant({ value: 0.75 }),
        );
      }
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(super.call(inputs), this.gate!.read());
      }
    }
    const gatedModel = () => {
      const input = tf.input({ shape: [4, 4, 2] });
      const h = tf.layers.flatten().apply(input);
      const out = new GatedDense({
        units: 2,
        name: 'g',
        quantizer: 'sq',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 21 }),
        biasInitializer: tf.initializers.constant({ value: 0.2 }),
      }).apply(h) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: out });
    };
    const lr = 0.1;
    const run = async (config: Partial<TrainConfigInput>, name: string) => {
      const model = gatedModel();
      const w0 = weightsByName(model);
      await train({
        model,
        data,
        config: {
          epochs: 1,
          batchSize: 8,
          augment: false,
          optimizer: { type: 'sgd', lr, momentum: 0 },
          weightDecay: { kernel: 0, quantizerScales: 0, bias: 0, batchNorm: 0 },
          ...config,
        },
        outDir: dir(name),
        progress: false,
      });
      const w1 = weightsByName(model);
      return { w0, w1 };
    };
    const plain = await run({}, 'plain');
    const decayed = await run(
      { weightDecay: { kernel: 0.5, quantizerScales: 0.25, bias: 0.125, batchNorm: 0.0625 } },
      'decayed',
    );
    const effective = effectiveDecay(plain, decayed, lr);
    expect(effective).toEqual({
      'g/kernel': 0.5,
      'g/bias': 0.125,
      'g/alpha': 0.25,
      'g/beta': 0,
      'g/gate_beta': 0.5,
    });
    // SQ's β on a 10× rate moves 10× as far; the user's gate_beta exactly as without the group.
    const grouped = await run({ quantizerParams: { params: ['beta'], lrScale: 10 } }, 'grouped');
    const moved = (r: typeof plain, name: string) => r.w1.get(name)![0]! - r.w0.get(name)![0]!;
    expect(moved(plain, 'g/beta')).not.toBe(0);
    // (β's step is small next to β: float32 rounding of the difference allows ~1%.)
    expect(moved(grouped, 'g/beta') / moved(plain, 'g/beta')).toBeCloseTo(10, 0);
    expect(grouped.w1.get('g/gate_beta')).toEqual(plain.w1.get('g/gate_beta'));
    expect(grouped.w1.get('g/kernel')).toEqual(plain.w1.get('g/kernel'));
    // A frozen α keeps its initial value, decay or not; everything else steps as without it.
    expect(moved(decayed, 'g/alpha')).not.toBe(0);
    const frozen = await run(
      {
        weightDecay: { kernel: 0.5, quantizerScales: 0.25, bias: 0.125, batchNorm: 0.0625 },
        freezeQuantizerParams: ['alpha'],
      },
      'frozen',
    );
    expect(frozen.w1.get('g/alpha')).toEqual(frozen.w0.get('g/alpha'));
    for (const name of ['g/kernel', 'g/bias', 'g/beta', 'g/gate_beta'])
      expect(frozen.w1.get(name), name).toEqual(decayed.w1.get(name));
    // With β on its own rate too, and the errors: an unknown name, a name both frozen and trained.
    const both = await run(
      { freezeQuantizerParams: ['alpha'], quantizerParams: { params: ['beta'], lrScale: 10 } },
      'frozen-grouped',
    );
    expect(both.w1.get('g/alpha')).toEqual(both.w0.get('g/alpha'));
    expect(both.w1.get('g/beta')).toEqual(grouped.w1.get('g/beta'));
    await expect(run({ freezeQuantizerParams: ['alpah'] }, 'typo')).rejects.toThrow(
      /freezeQuantizerParams: "alpah" is not a parameter of this model's quantizers \(alpha, beta\)/,
    );
    await expect(
      run(
        { freezeQuantizerParams: ['beta'], quantizerParams: { params: ['beta'], lrScale: 10 } },
        'conflict',
      ),
    ).rejects.toThrow(/freezeQuantizerParams: "beta" is also in quantizerParams.params/);
  });
});

describe('freezeQuantizerParams across a study', () => {
  it('a model without quantizer parameters (an FP32 row under a study-wide setting) trains as without it', async () => {
    const config: TrainConfigInput = {
      epochs: 1,
      batchSize: 16,
      optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 },
    };
    const plain = tinyModel('fp32', 4);
    const frozen = tinyModel('fp32', 4);
    await train({
      model: plain,
      data: tinyData(),
      config,
      outDir: dir('fp32-plain'),
      progress: false,
    });
    await train({
      model: frozen,
      data: tinyData(),
      config: { ...config, freezeQuantizerParams: ['alpha'] },
      outDir: dir('fp32-frozen'),
      progress: false,
    });
    expect(weightValues(frozen)).toEqual(weightValues(plain));
  });
});

describe('reproducibility', () => {
  const config: TrainConfigInput = {
    epochs: 2,
    batchSize: 16,
    optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 },
    schedule: { type: 'cosine', warmupEpochs: 0.5, minLr: 0 },
    seed: 3,
  };

  it('the same seed gives identical histories and weights on the same backend (every backend)', async () => {
    for (const backend of await testBackends()) {
      await withBackend(backend, async () => {
        const runs = [];
        for (const k of [1, 2]) {
          const model = tinyModel('ttq', 4);
          const r = await train({
            model,
            data: tinyData(),
            config,
            outDir: dir(`${backend}-${k}`),
            progress: false,
          });
          runs.push({ history: withoutTiming(r.history), weights: weightValues(model) });
        }
        expect(runs[1]!.history, backend).toEqual(runs[0]!.history);
        expect(runs[1]!.weights, backend).toEqual(runs[0]!.weights);
        // and the run did train: the loss moved
        expect(runs[0]!.history[1]!.trainLoss).not.toBe(runs[0]!.history[0]!.trainLoss);
      });
    }
  });

  it('a different data seed gives a different run', async () => {
    const a = await train({
      model: tinyModel('ttq', 4),
      data: tinyData(),
      config,
      outDir: dir('a'),
      progress: false,
    });
    const b = await train({
      model: tinyModel('ttq', 4),
      data: tinyData(),
      config: { ...config, seed: 4 },
      outDir: dir('b'),
      progress: false,
    });
    expect(b.history[0]!.trainLoss).not.toBe(a.history[0]!.trainLoss);
  });
});

describe('resume', () => {
  // Adam (moment estimates + step count), a cosine schedule with warm-up, HLA (a stateful quantizer schedule), augmentation.
  const config: TrainConfigInput = {
    epochs: 3,
    batchSize: 16,
    optimizer: { type: 'adam', lr: 0.01 },
    schedule: { type: 'cosine', warmupEpochs: 1, minLr: 0.001 },
    seed: 2,
  };

  it('interrupted after an epoch and resumed in a fresh model = one uninterrupted run', async () => {
    const fullModel = tinyModel('hla', 1);
    const full = await train({
      model: fullModel,
      data: tinyData(),
      config,
      outDir: dir('full'),
      progress: false,
    });
    expect(full.completed).toBe(true);
    expect(full.history).toHaveLength(3);

    const first = await train({
      model: tinyModel('hla', 1),
      data: tinyData(),
      config,
      outDir: dir('split'),
      progress: false,
      stopAfterEpochs: 1,
    });
    expect(first.completed).toBe(false);
    expect(first.history).toHaveLength(1);
    expect(readCheckpointIndex(path.join(dir('split'), 'checkpoint')).state.epoch).toBe(1);

    // A new process would build the model again: different initial weights prove the checkpoint is loaded.
    const resumedModel = tinyModel('hla', 77);
    const epochs: number[] = [];
    const lines: string[] = [];
    const rest = await train({
      model: resumedModel,
      data: tinyData(),
      config,
      outDir: dir('split'),
      progress: false,
      resume: true,
      log: (line) => lines.push(line),
      onEpoch: (r) => epochs.push(r.epoch),
    });
    expect(rest.resumedFromEpoch).toBe(1);
    expect(lines).toEqual([
      `resuming after epoch 1 of 3 from ${path.join(dir('split'), 'checkpoint')}`,
    ]);
    expect(rest.completed).toBe(true);
    expect(epochs).toEqual([2, 3]);
    expect(withoutTiming(rest.history)).toEqual(withoutTiming(full.history));
    expect(rest.initialLayers).toEqual(full.initialLayers);
    expect(weightValues(resumedModel)).toEqual(weightValues(fullModel));

    // Resuming a finished run trains nothing and returns its history.
    const againLines: string[] = [];
    const again = await train({
      model: tinyModel('hla', 5),
      data: tinyData(),
      config,
      outDir: dir('split'),
      progress: false,
      resume: true,
      log: (line) => againLines.push(line),
    });
    expect(again.resumedFromEpoch).toBe(3);
    expect(againLines).toEqual([
      `already trained 3 of 3 epochs (${path.join(dir('split'), 'checkpoint')})`,
    ]);
    expect(withoutTiming(again.history)).toEqual(withoutTiming(full.history));
  });

  it('resumes from the checkpoint a kill inside saveCheckpoint left aside', async () => {
    const full = await train({
      model: tinyModel('twn', 1),
      data: tinyData(),
      config,
      outDir: dir('full'),
      progress: false,
    });
    await train({
      model: tinyModel('twn', 1),
      data: tinyData(),
      config,
      outDir: dir('split'),
      progress: false,
      stopAfterEpochs: 2,
    });
    // Killed between saveCheckpoint's renames: the epoch-2 checkpoint sits at checkpoint.old-<pid>.
    const ck = path.join(dir('split'), 'checkpoint');
    renameSync(ck, `${ck}.old-31337`);
    const rest = await train({
      model: tinyModel('twn', 9),
      data: tinyData(),
      config,
      outDir: dir('split'),
      progress: false,
      resume: true,
    });
    expect(rest.resumedFromEpoch).toBe(2);
    expect(withoutTiming(rest.history)).toEqual(withoutTiming(full.history));
    expect(readdirSync(dir('split')).sort()).toEqual([
      'checkpoint',
      'checkpoint.prev',
      'model.json',
    ]);
  });

  it('refuses to resume a checkpoint written with another training config', async () => {
    await train({
      model: tinyModel('fp32'),
      data: tinyData(),
      config,
      outDir: dir('r'),
      progress: false,
      stopAfterEpochs: 1,
    });
    await expect(
      train({
        model: tinyModel('fp32'),
        data: tinyData(),
        config: { ...config, seed: 9 },
        outDir: dir('r'),
        progress: false,
        resume: true,
      }),
    ).rejects.toThrow(
      `${path.join(dir('r'), 'checkpoint')} was written by a run with a different training config; refusing to resume`,
    );
  });
});

// biome-ignore lint/suspicious/noExplicitAny: the tests edit a checkpoint's JSON freely, as a broken tool would
type JsonObject = Record<string, any>;

describe('resume from a damaged checkpoint', () => {
  const config: TrainConfigInput = {
    epochs: 3,
    batchSize: 16,
    optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 },
  };
  const ck = () => path.join(dir('run'), 'checkpoint');
  const json = () => path.join(ck(), 'checkpoint.json');
  const run = (options: { seed?: number; resume?: boolean; stop?: number; log?: string[] } = {}) =>
    train({
      model: tinyModel('twn', options.seed ?? 1),
      data: tinyData(),
      config,
      outDir: dir('run'),
      progress: false,
      resume: options.resume,
      stopAfterEpochs: options.stop,
      log: (l) => options.log?.push(l),
    });
  const editIndex = (folder: string, edit: (index: JsonObject) => void) => {
    const file = path.join(folder, 'checkpoint.json');
    const index = JSON.parse(readFileSync(file, 'utf8'));
    edit(index);
    writeFileSync(file, JSON.stringify(index));
  };
  const flipByte = (folder: string, at: number) => {
    const file = path.join(folder, 'tensors.bin');
    const bin = readFileSync(file);
    bin[at]! ^= 0x10;
    writeFileSync(file, bin);
  };
  /** The uninterrupted run, for comparison. */
  const reference = async () => {
    const model = tinyModel('twn', 1);
    const r = await train({
      model,
      data: tinyData(),
      config,
      outDir: dir('full'),
      progress: false,
    });
    return { history: withoutTiming(r.history), weights: weightValues(model) };
  };

  it('a bad state or tensor with no previous checkpoint: an error naming the file and the field or tensor', async () => {
    await run({ stop: 1 });
    expect(readdirSync(dir('run')).sort()).toEqual(['checkpoint', 'model.json']);
    const saved = path.join(work, 'saved');
    cpSync(ck(), saved, { recursive: true });
    const first = readCheckpointIndex(ck()).tensors[0]!;
    const cases: [(i: JsonObject) => void, string | RegExp][] = [
      // Before: epoch "two" resumed as a finished run, history null was a TypeError.
      [
        (i) => (i.state.epoch = 'two'),
        `${json()}: field "state.epoch": Invalid input: expected number, received string`,
      ],
      [
        (i) => (i.state.history = null),
        `${json()}: field "state.history": Invalid input: expected array, received null`,
      ],
      [(i) => (i.state.epoch = -1), `${json()}: field "state.epoch": Too small`],
      [
        (i) => (i.state.epoch = 2),
        `${json()}: field "state.history": 1 epoch records, but "state.epoch" is 2`,
      ],
      [
        (i) => (i.state.history[0].epoch = 3),
        `${json()}: field "state.history.0.epoch": 3, expected 1`,
      ],
      [
        (i) => (i.state.history[0].testAccuracy = 1.5),
        `${json()}: field "state.history.0.testAccuracy"`,
      ],
      [(i) => delete i.state.history[0].layers, `${json()}: field "state.history.0.layers"`],
      [(i) => delete i.state.configKey, `${json()}: field "state.configKey"`],
      [(i) => (i.state.quantizerStates = null), `${json()}: field "state.quantizerStates"`],
      [(i) => (i.state.surprise = 1), `${json()}: field "state": Unrecognized key: "surprise"`],
      [
        (i) => (i.tensors[0].length = 4),
        `${json()}: tensor "${first.name}" (tensors.0): length 4 bytes, its shape [${first.shape}] needs ${first.length} (float32)`,
      ],
    ];
    for (const [edit, message] of cases) {
      rmSync(ck(), { recursive: true });
      cpSync(saved, ck(), { recursive: true });
      editIndex(ck(), edit);
      await expect(run({ resume: true }), String(message)).rejects.toThrow(message);
    }
    rmSync(ck(), { recursive: true });
    cpSync(saved, ck(), { recursive: true });
    flipByte(ck(), first.offset + 2);
    await expect(run({ resume: true })).rejects.toThrow(
      new RegExp(
        `^${path.join(ck(), 'tensors.bin')}: tensor "${first.name}" \\(model\\) fails its checksum`,
      ),
    );
  });

  it('a corrupted newest checkpoint: resume falls back to the previous one, says so, and ends as the uninterrupted run', async () => {
    const full = await reference();
    await run({ stop: 2 });
    expect(readCheckpointIndex(`${ck()}.prev`).state.epoch).toBe(1);
    const index = readCheckpointIndex(ck());
    const kernel = index.tensors.find((t) => t.group === 'model' && t.shape.length === 4)!;
    flipByte(ck(), kernel.offset + 5);
    const log: string[] = [];
    const model = tinyModel('twn', 9);
    const r = await train({
      model,
      data: tinyData(),
      config,
      outDir: dir('run'),
      progress: false,
      resume: true,
      log: (l) => log.push(l),
    });
    expect(log).toHaveLength(2);
    expect(log[1]).toBe(`resuming after epoch 1 of 3 from ${ck()}`);
    expect(log[0]).toMatch(
      new RegExp(
        `^checkpoint ${ck()} is unusable \\(${path.join(ck(), 'tensors.bin')}: tensor "${kernel.name}" \\(model\\) fails its checksum: .*\\); falling back to the previous checkpoint ${ck()}\\.prev$`,
      ),
    );
    expect(r.resumedFromEpoch).toBe(1);
    expect(withoutTiming(r.history)).toEqual(full.history);
    expect(weightValues(model)).toEqual(full.weights);
    // The bad checkpoint is kept aside; the good ones are the newest and its previous.
    expect(readdirSync(dir('run')).sort()).toEqual([
      'checkpoint',
      'checkpoint.prev',
      'checkpoint.rejected',
      'model.json',
    ]);
    expect(readCheckpointIndex(ck()).state.epoch).toBe(3);
    expect(readCheckpointIndex(`${ck()}.prev`).state.epoch).toBe(2);
  });

  it('a newest checkpoint saying epoch "two" falls back to the previous one too', async () => {
    await run({ stop: 2 });
    editIndex(ck(), (i) => (i.state.epoch = 'two'));
    const log: string[] = [];
    const r = await run({ resume: true, stop: 0, log });
    expect(r.resumedFromEpoch).toBe(1);
    expect(r.completed).toBe(false);
    expect(log).toEqual([
      `checkpoint ${ck()} is unusable (${json()}: field "state.epoch": Invalid input: expected number, received string); falling back to the previous checkpoint ${ck()}.prev`,
      `resuming after epoch 1 of 3 from ${ck()}`,
    ]);
  });

  it('a version-1 checkpoint (no checksums) resumes with a one-line notice to the same result; the next one is version 2', async () => {
    const full = await reference();
    await run({ stop: 1 });
    editIndex(ck(), (i) => {
      i.version = 1;
      for (const t of i.tensors) delete t.crc32;
    });
    const log: string[] = [];
    const model = tinyModel('twn', 9);
    const r = await train({
      model,
      data: tinyData(),
      config,
      outDir: dir('run'),
      progress: false,
      resume: true,
      stopAfterEpochs: 1,
      log: (l) => log.push(l),
    });
    expect(log).toEqual([
      `${ck()}: checkpoint format version 1 has no checksums, its tensors are loaded unverified (checkpoints written from now on are version 2)`,
      `resuming after epoch 1 of 3 from ${ck()}`,
    ]);
    expect(readCheckpointIndex(ck()).version).toBe(2);
    expect(readCheckpointIndex(`${ck()}.prev`).version).toBe(1);
    const rest = await run({ seed: 5, resume: true });
    expect(r.resumedFromEpoch).toBe(1);
    expect(rest.resumedFromEpoch).toBe(2);
    expect(withoutTiming(rest.history)).toEqual(full.history);
  });

  it('a run started afresh does not keep an earlier run’s checkpoint as its fall-back', async () => {
    await run({ stop: 2 });
    expect(readdirSync(dir('run')).sort()).toEqual(['checkpoint', 'checkpoint.prev', 'model.json']);
    await run({ seed: 3, stop: 1 });
    expect(readdirSync(dir('run')).sort()).toEqual(['checkpoint', 'model.json']);
    expect(readCheckpointIndex(ck()).state.epoch).toBe(1);
  });
});

describe('memory', () => {
  it('train() leaves no tensors behind but the model’s (optimizer slots, per-step scalars)', async () => {
    // SQ has a regularizer (its per-step value is a kept scalar); momentum has one slot per variable.
    const model = tinyModel('sq', 1);
    const before = tf.memory().numTensors;
    const r = await train({
      model,
      data: tinyData(),
      config: { epochs: 2, batchSize: 16, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 } },
      outDir: dir('memory'),
      progress: false,
    });
    expect(r.history).toHaveLength(2);
    expect(tf.memory().numTensors).toBe(before);
    const adam = await train({
      model,
      data: tinyData(),
      config: { epochs: 1, batchSize: 16, optimizer: { type: 'adam', lr: 0.01 } },
      outDir: dir('memory-adam'),
      progress: false,
    });
    expect(adam.history).toHaveLength(1);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('NaN stop', () => {
  /** The data with one NaN pixel in batch `step` (0-based) of epoch `epoch` (0-based). */
  function poisoned(data: TrainData, epoch: number, step: number): TrainData {
    return {
      ...data,
      *trainBatches(e, batchSize, seed, augment) {
        let i = 0;
        for (const b of data.trainBatches(e, batchSize, seed, augment)) {
          if (e === epoch && i === step) {
            const x = b.x.slice();
            x[5] = Number.NaN;
            yield { ...b, x };
          } else yield b;
          i++;
        }
      },
    };
  }

  const config: TrainConfigInput = {
    epochs: 3,
    batchSize: 16,
    optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 },
  };
  const hash = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

  it('NaN in the data at epoch 2, step 3 stops with TrainingDivergedError; the epoch-1 checkpoint is unchanged and loadable', async () => {
    const model = tinyModel('ttq');
    const ck = path.join(dir('nan'), 'checkpoint');
    let afterEpoch1: { json: string; bin: string; weights: number[][] } | undefined;
    const err = await train({
      model,
      data: poisoned(tinyData(), 1, 2),
      config,
      outDir: dir('nan'),
      progress: false,
      onEpoch: (r) => {
        if (r.epoch === 1) {
          afterEpoch1 = {
            json: hash(path.join(ck, 'checkpoint.json')),
            bin: hash(path.join(ck, 'tensors.bin')),
            weights: weightValues(model),
          };
        }
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const e = err as TrainingDivergedError;
    expect(e.message).toMatch(
      /^training diverged: the loss is NaN at epoch 2, step 3 \(learning rate 0\.05\)\. /,
    );
    expect(e.message).toContain(`The last good checkpoint is kept at ${ck} (after epoch 1).`);
    expect(e.message).toContain('Lower the learning rate or check the data.');
    expect(e.checkpointDir).toBe(ck);
    expect(afterEpoch1).toBeDefined();
    expect(hash(path.join(ck, 'checkpoint.json'))).toBe(afterEpoch1!.json);
    expect(hash(path.join(ck, 'tensors.bin'))).toBe(afterEpoch1!.bin);
    expect(readdirSync(dir('nan')).sort()).toEqual(['checkpoint', 'model.json']);
    const fresh = tinyModel('ttq', 50);
    const { state } = await loadCheckpoint(ck, fresh);
    expect(state.epoch).toBe(1);
    expect(weightValues(fresh)).toEqual(afterEpoch1!.weights);
  });

  it('NaN in the first epoch: no checkpoint yet, and the error says so', async () => {
    const err = await train({
      model: tinyModel('fp32'),
      data: poisoned(tinyData(), 0, 0),
      config,
      outDir: dir('nan0'),
      progress: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toContain('at epoch 1, step 1');
    expect((err as Error).message).toContain('No checkpoint was written yet.');
    expect((err as TrainingDivergedError).checkpointDir).toBeUndefined();
  });

  it('a huge learning rate diverges with the same error', async () => {
    const err = await train({
      model: tinyModel('fp32'),
      data: tinyData(),
      config: { epochs: 5, batchSize: 16, optimizer: { type: 'sgd', lr: 1e30, momentum: 0.9 } },
      outDir: dir('huge'),
      progress: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(
      /^training diverged: the loss is (NaN|Infinity|-Infinity) at epoch \d, step \d \(learning rate 1e\+30\)/,
    );
  });

  it('the diverged step changes no weight: the model is as after the last good step (BatchNorm statistics included)', async () => {
    // Step 3 of epoch 1 holds a NaN; a clean run of the same first two steps is the reference.
    const cfg: TrainConfigInput = { ...config, epochs: 1, augment: false };
    const diverged = tinyModel('sq', 4);
    const err = await train({
      model: diverged,
      data: poisoned(tinyData(), 0, 2),
      config: cfg,
      outDir: dir('nan-weights'),
      progress: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toContain('at epoch 1, step 3');
    const reference = tinyModel('sq', 4);
    await train({
      model: reference,
      data: tinyData(),
      config: { ...cfg, maxStepsPerEpoch: 2 },
      outDir: dir('nan-reference'),
      progress: false,
    });
    const after = weightValues(diverged);
    expect(after.flat().every(Number.isFinite)).toBe(true);
    expect(after).toEqual(weightValues(reference));
  });
});

describe('one training step: the CLI loop and quant-core’s trainStep', () => {
  /** SQ on a conv and a dense layer, the conv also with an L2 kernel regularizer (a layer loss), BN between. */
  function regularizedModel(): tf.LayersModel {
    const input = tf.input({ shape: [8, 8, 3] });
    let h = new QuantConv2D({
      filters: 4,
      kernelSize: 3,
      name: 'rc',
      quantizer: 'sq',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 31 }),
      kernelRegularizer: tf.regularizers.l2({ l2: 0.01 }),
    }).apply(input) as tf.SymbolicTensor;
    h = new TritBatchNormalization({ name: 'rbn' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
    const out = new QuantDense({
      units: 3,
      name: 'rd',
      quantizer: 'hla',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 32 }),
    }).apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out });
  }

  it('gather the same regularization (quantizers’ regularizers and kernel regularizers): identical loss and regularizer sum', async () => {
    const data = tinyData();
    const cfg: TrainConfigInput = {
      epochs: 1,
      batchSize: 16,
      maxStepsPerEpoch: 1,
      augment: false,
      optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 },
    };
    const { history } = await train({
      model: regularizedModel(),
      data,
      config: cfg,
      outDir: dir('one-step'),
      progress: false,
    });
    // The same first batch and model, through the library's step.
    const model = regularizedModel();
    const b = [...data.trainBatches(0, 16, 0, false)][0]!;
    const x = tf.tensor4d(b.x, b.shape);
    const y = tf.oneHot(tf.tensor1d(b.y, 'int32'), 3);
    const step = trainStep(
      model,
      tf.train.sgd(0.05),
      x,
      y,
      (t, p) => tf.losses.softmaxCrossEntropy(t, p),
      { progress: { epoch: 0, epochs: 1, step: 0, stepsPerEpoch: 1 } },
    );
    tf.dispose([x, y]);
    // The L2 term alone is 0.01·Σ rc/kernel² > 0, so a sum without it would differ.
    expect(step.regularization).toBeGreaterThan(0);
    expect(history[0]!.regularizationLoss).toBe(step.regularization);
    expect(history[0]!.trainLoss).toBe(step.loss);
  });
});
