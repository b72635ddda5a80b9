/**
 * The common contract, run for every registered quantizer: config and state
 * round trips, layer save/load with trained parameters, no tensor leaks, and
 * the same forward values and gradients on the native and the cpu backends.
 */
import * as tf from '@tensorflow/tfjs';
import {
  getQuantizer,
  initBackend,
  type QuantizerParams,
  quantizerInfo,
  quantizerStep,
  quantLayers,
  trainStep,
} from '@trit/quant-core';
import { maxAbsDiff, tensorGrowth, testBackends, withBackend } from '@trit/quant-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { configsOf, EXPECTED, progressAt, QUANTIZERS, roundTrip, smallModel } from './support.js';

const backends = await testBackends();
const TOLERANCE = 1e-5;

beforeAll(async () => {
  await initBackend({ quiet: true });
});

const json = <T>(x: T): T => JSON.parse(JSON.stringify(x));

/** Parameter tensors from each spec's init on `kernel`. */
function initParams(name: string, config: object, kernel: tf.Tensor): QuantizerParams {
  const q = getQuantizer(name, config as Record<string, unknown>);
  return Object.fromEntries(q.paramSpecs().map((s) => [s.name, tf.scalar(s.init(kernel))]));
}

describe('registry', () => {
  it('has every algorithm package registered', () => {
    expect(QUANTIZERS).toEqual(expect.arrayContaining(EXPECTED));
    for (const name of QUANTIZERS)
      expect(quantizerInfo(name).description.length).toBeGreaterThan(0);
  });
});

describe.each(QUANTIZERS)('quantizer "%s"', (name) => {
  describe.each(configsOf(name))('$label', ({ config }) => {
    it('config round trip: getQuantizer(name, getConfig()) has the same config, also through JSON', () => {
      const q = getQuantizer(name, config);
      expect(q.name).toBe(name);
      for (const [k, v] of Object.entries(config)) expect(q.getConfig()[k]).toEqual(v);
      expect(getQuantizer(name, q.getConfig()).getConfig()).toEqual(q.getConfig());
      expect(getQuantizer(name, json(q.getConfig())).getConfig()).toEqual(q.getConfig());
    });

    it('state round trip: a fresh instance with setState(getState()) computes the same', () => {
      const kernel = tf.randomNormal([3, 3, 2, 4], 0, 0.5, 'float32', 11);
      for (const fraction of [0, 0.25, 0.75, 1]) {
        const q = getQuantizer(name, config);
        q.onStep(progressAt(fraction));
        const state = q.getState();
        const copy = getQuantizer(name, q.getConfig());
        copy.setState(json(state));
        expect(copy.getState()).toEqual(state);
        const params = initParams(name, config, kernel);
        const a = q.quantize(kernel, params).dataSync();
        const b = copy.quantize(kernel, params).dataSync();
        expect(Array.from(b)).toEqual(Array.from(a));
        const ra = q.regularizer(kernel, params);
        const rb = copy.regularizer(kernel, params);
        expect(rb === null ? null : rb.dataSync()[0]).toEqual(
          ra === null ? null : ra.dataSync()[0],
        );
        expect(copy.precision(params)).toBe(q.precision(params));
      }
    });

    it('layer save/load round trip (QuantConv2D and QuantDense, trained): identical outputs', async () => {
      const model = smallModel({ name, config });
      const layers = quantLayers(model);
      const initial = layers.map((l) => l.quantizerParams());
      const x = tf.randomNormal([5, 6, 6, 2], 0, 1, 'float32', 12);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 1], 'int32'), 4);
      const optimizer = tf.train.adam(0.05);
      for (let i = 0; i < 4; i++) {
        trainStep(model, optimizer, x, y, tf.losses.softmaxCrossEntropy, {
          progress: progressAt(0.2 + 0.2 * i),
        });
      }
      // Trained parameters are part of what is saved: they moved away from their init.
      layers.forEach((l, i) => {
        for (const [p, v] of Object.entries(l.quantizerParams())) {
          if (p === 'beta') continue; // SQ's beta learns only from its (small) regularizer
          expect(Math.abs(v - initial[i]![p]!), `${l.name}.${p}`).toBeGreaterThan(1e-4);
        }
      });

      const loaded = await roundTrip(model);
      const loadedLayers = quantLayers(loaded);
      expect(loadedLayers.map((l) => l.getClassName())).toEqual([
        'TritQuantConv2D',
        'TritQuantDense',
      ]);
      layers.forEach((l, i) => {
        const m = loadedLayers[i]!;
        expect(m.quantizer.name).toBe(name);
        expect(m.quantizer.getConfig()).toEqual(l.quantizer.getConfig());
        expect(m.quantizer.getState()).toEqual(l.quantizer.getState());
        expect(m.quantizerParams()).toEqual(l.quantizerParams());
        expect(m.precision()).toBe(l.precision());
        expect(m.exportTernary()).toEqual(l.exportTernary());
        expect(Array.from(m.quantizedKernel().dataSync())).toEqual(
          Array.from(l.quantizedKernel().dataSync()),
        );
      });
      expect(loaded.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(
        model.getWeights().map((w) => Array.from(w.dataSync())),
      );
      const out = (model.predict(x) as tf.Tensor).dataSync();
      expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(out));
    });

    it('no tensor leaks over repeated training steps and forward passes', () => {
      const model = smallModel({ name, config });
      const x = tf.randomNormal([4, 6, 6, 2], 0, 1, 'float32', 13);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4);
      const optimizer = tf.train.sgd(0.01);
      for (const fraction of [0.1, 0.9]) {
        const progress = progressAt(fraction);
        expect(
          tensorGrowth(() =>
            trainStep(model, optimizer, x, y, tf.losses.softmaxCrossEntropy, { progress }),
          ),
        ).toBe(0);
        expect(tensorGrowth(() => (model.predict(x) as tf.Tensor).dispose())).toBe(0);
        expect(
          tensorGrowth(() => quantLayers(model).map((l) => [l.stats(), l.exportTernary()])),
        ).toBe(0);
      }
    });

    it.runIf(backends.length > 1).each([0.25, 0.75])(
      'native and cpu agree on forward values and gradients (at %s of the run)',
      async (fraction) => {
        const model = smallModel({ name, config });
        quantizerStep(model, progressAt(fraction));
        const x = tf.randomNormal([3, 6, 6, 2], 0, 1, 'float32', 14);
        const y = tf.oneHot(tf.tensor1d([0, 1, 2], 'int32'), 4);
        const G = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 15);
        const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const run = (backend: string) =>
          withBackend(backend, () => {
            const out = Array.from((model.predict(x) as tf.Tensor).dataSync());
            const { value, grads } = tf.variableGrads(() => {
              let loss = tf.losses.softmaxCrossEntropy(
                y,
                model.apply(x, { training: true }) as tf.Tensor,
              ) as tf.Scalar;
              for (const extra of model.calculateLosses()) loss = tf.add(loss, extra);
              return loss;
            }, variables);
            const gradients = variables.map((v) =>
              grads[v.name] ? Array.from(grads[v.name]!.dataSync()) : [],
            );
            // The quantizer alone, with a non-uniform upstream gradient G.
            const conv = quantLayers(model)[0]!;
            const kernel = conv.kernel!.read();
            const params = Object.fromEntries(
              Object.entries(conv.paramVariables).map(([k, v]) => [k, v.read()]),
            );
            const names = Object.keys(params);
            const qGrads = tf.grads((k: tf.Tensor, ...ps: tf.Tensor[]) =>
              tf.sum(
                tf.mul(
                  conv.quantizer.quantize(k, Object.fromEntries(names.map((n, i) => [n, ps[i]!]))),
                  G,
                ),
              ),
            )([kernel, ...names.map((n) => params[n]!)]);
            return {
              out,
              loss: value.dataSync()[0]!,
              gradients,
              q: Array.from(conv.quantizedKernel().dataSync()),
              qGrads: qGrads.map((g) => Array.from(g.dataSync())),
            };
          });
        const a = await run('tensorflow');
        const b = await run('cpu');
        expect(maxAbsDiff(a.out, b.out)).toBeLessThan(TOLERANCE);
        expect(Math.abs(a.loss - b.loss)).toBeLessThan(TOLERANCE);
        expect(maxAbsDiff(a.q, b.q)).toBeLessThan(TOLERANCE);
        expect(a.gradients.map((g) => g.length)).toEqual(b.gradients.map((g) => g.length));
        a.gradients.forEach((g, i) => {
          expect(maxAbsDiff(g, b.gradients[i]!), `gradient of ${variables[i]!.name}`).toBeLessThan(
            TOLERANCE,
          );
        });
        a.qGrads.forEach((g, i) => {
          expect(maxAbsDiff(g, b.qGrads[i]!), `quantizer gradient ${i}`).toBeLessThan(TOLERANCE);
        });
      },
    );
  });
});
