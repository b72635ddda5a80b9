// A training config's `quantizerParams`: the quantizers' own parameters (TTQ's
// wp/wn, SQ's alpha/beta) on a learning rate or an optimizer of their own.
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, quantLayers } from '@trit/quant-core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TrainConfigInput, TrainConfigSchema, train } from '../src/training/train.js';
import { removeDir, tempDir, tinyData, tinyModel, weightValues } from './bench-support.js';

let work: string;
beforeAll(async () => {
  await initBackend({ quiet: true });
});
beforeEach(() => {
  work = tempDir('trit-qparams-');
});
afterEach(() => {
  removeDir(work);
  tf.disposeVariables();
});

/** One plain SGD step (no momentum, no decay, no augmentation) at lr 0.1. */
const ONE_STEP: TrainConfigInput = {
  epochs: 1,
  batchSize: 16,
  maxStepsPerEpoch: 1,
  augment: false,
  optimizer: { type: 'sgd', lr: 0.1, momentum: 0 },
  weightDecay: { kernel: 0, quantizerScales: 0, bias: 0, batchNorm: 0 },
};

/** Every quantizer parameter of the model as `layer/name` → value. */
function quantizerParams(model: tf.LayersModel): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of quantLayers(model))
    for (const [name, v] of Object.entries(l.quantizerParams())) out[`${l.name}/${name}`] = v;
  return out;
}

async function step(method: string, config: TrainConfigInput, name: string) {
  const model = tinyModel(method);
  const params0 = quantizerParams(model);
  const weights0 = weightValues(model);
  await train({ model, data: tinyData(), config, outDir: path.join(work, name), progress: false });
  return {
    model,
    params0,
    params1: quantizerParams(model),
    weights0,
    weights1: weightValues(model),
  };
}

describe('quantizerParams', () => {
  it('lrScale: a plain SGD step moves TTQ’s wp/wn lrScale times as far; every other weight exactly as without it', async () => {
    const plain = await step('ttq', ONE_STEP, 'plain');
    const scaled = await step('ttq', { ...ONE_STEP, quantizerParams: { lrScale: 10 } }, 'scaled');
    expect(Object.keys(plain.params0).length).toBeGreaterThan(0);
    expect(scaled.params0).toEqual(plain.params0); // same seeded model
    for (const k of Object.keys(plain.params0)) {
      const d1 = plain.params1[k]! - plain.params0[k]!;
      const d10 = scaled.params1[k]! - scaled.params0[k]!;
      expect(Math.abs(d1), k).toBeGreaterThan(0);
      // Δ = −lr · g: the same gradient (same start, same batch), ten times the rate.
      // (float32: wp ≈ 1 moves by ~1e-4, so the ratio carries ~1e-3 of rounding)
      expect(d10 / d1, k).toBeCloseTo(10, 1);
    }
    // The kernels, BatchNorm, ... took the identical step (the parameters' values only enter after it).
    const isParam = (model: tf.LayersModel, i: number) =>
      quantLayers(model).some((l) =>
        Object.values(l.paramVariables).some((v) => v.read() === model.weights[i]!.read()),
      );
    plain.weights1.forEach((w, i) => {
      if (!isParam(plain.model, i)) expect(scaled.weights1[i], model(i)).toEqual(w);
    });
    function model(i: number) {
      return plain.model.weights[i]!.originalName;
    }
  });

  it('optimizer: SQ’s beta alone on Adam (first Adam step = lr in size), alpha on the run’s SGD', async () => {
    const plain = await step('sq', ONE_STEP, 'sgd');
    const adam = await step(
      'sq',
      { ...ONE_STEP, quantizerParams: { params: ['beta'], optimizer: { type: 'adam', lr: 0.01 } } },
      'adam',
    );
    const keys = Object.keys(plain.params0);
    const betas = keys.filter((k) => k.endsWith('/beta'));
    const alphas = keys.filter((k) => k.endsWith('/alpha'));
    expect(betas.length).toBeGreaterThan(0);
    expect(alphas.length).toBe(betas.length);
    for (const k of betas) {
      const g = plain.params1[k]! - plain.params0[k]!; // −0.1 · ∂L/∂β
      const d = adam.params1[k]! - adam.params0[k]!;
      if (g === 0) continue;
      // Adam's first step: −lr · m̂/(√v̂ + ε) = −lr · g/(|g| + ε) ≈ −0.01 · sign(g).
      expect(d, k).toBeCloseTo(0.01 * Math.sign(g), 4);
    }
    for (const k of alphas) expect(adam.params1[k], k).toBeCloseTo(plain.params1[k]!, 6);
  });

  it('follows the run’s schedule: the group’s rate is its base times the run’s factor (a warm-up step at 0 moves nothing)', async () => {
    const r = await step(
      'ttq',
      {
        ...ONE_STEP,
        schedule: { type: 'cosine', warmupEpochs: 1, minLr: 0 },
        quantizerParams: { optimizer: { type: 'adam', lr: 0.5 } },
      },
      'warmup',
    );
    expect(r.params1).toEqual(r.params0);
  });

  it('resumes: 2 epochs in one go equal 1 + 1 with a resume (both optimizers’ state is in the checkpoint)', async () => {
    const run = async (quantizerParams: TrainConfigInput['quantizerParams'], name: string) => {
      const config: TrainConfigInput = {
        ...ONE_STEP,
        epochs: 2,
        maxStepsPerEpoch: 2,
        optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 },
        quantizerParams,
      };
      const straight = tinyModel('ttq');
      const data = tinyData();
      await train({
        model: straight,
        data,
        config,
        outDir: path.join(work, `${name}-1`),
        progress: false,
      });
      const out = path.join(work, `${name}-2`);
      await train({
        model: tinyModel('ttq'),
        data,
        config,
        outDir: out,
        progress: false,
        stopAfterEpochs: 1,
      });
      const resumed = tinyModel('ttq');
      const r = await train({
        model: resumed,
        data,
        config,
        outDir: out,
        progress: false,
        resume: true,
      });
      expect(r.resumedFromEpoch).toBe(1);
      const a = weightValues(straight).flat();
      const b = weightValues(resumed).flat();
      return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    };
    // Two momentum optimizers: bit-identical.
    expect(await run({ lrScale: 3 }, 'sgd')).toBe(0);
    // Adam for the parameters: tfjs's Adam recomputes β^t as a power on restore where the
    // straight run multiplies step by step (rounding ~1e-6, the same as a plain Adam run's resume).
    expect(await run({ optimizer: { type: 'adam', lr: 0.01 } }, 'adam')).toBeLessThan(1e-5);
  });

  it('bad configs are errors naming the field; an unknown parameter name lists the model’s', async () => {
    const bad = (q: unknown) =>
      TrainConfigSchema.safeParse({ ...ONE_STEP, quantizerParams: q }).error?.issues[0];
    expect(bad({})?.message).toBe('give exactly one of optimizer and lrScale');
    expect(bad({ lrScale: 2, optimizer: { type: 'adam', lr: 0.1 } })?.message).toBe(
      'give exactly one of optimizer and lrScale',
    );
    expect(bad({ lrScale: -1 })?.path).toEqual(['quantizerParams', 'lrScale']);
    expect(bad({ lrScale: 1, param: ['beta'] })?.code).toBe('unrecognized_keys');
    await expect(
      train({
        model: tinyModel('ttq'),
        data: tinyData(),
        config: { ...ONE_STEP, quantizerParams: { params: ['beta'], lrScale: 2 } },
        outDir: path.join(work, 'unknown'),
        progress: false,
      }),
    ).rejects.toThrow(
      'quantizerParams.params: "beta" is not a parameter of this model\'s quantizers (wp, wn)',
    );
  });
});
