/**
 * The README's way to keep SQ's α at its initial value in a tfjs model
 * ("Fine-tuning a converged model"): `frozenParams: ['alpha']` in the
 * layer's quantizer spec. Checked under `model.fit` and `trainStep`, and
 * across a save/load round trip.
 */
import * as tf from '@tensorflow/tfjs';
import { QuantDense, QuantizerCallback, quantizerVariables, trainStep } from '@trit/quant-core';
import { testBackends, withBackend } from '@trit/quant-core/testing';
import { describe, expect, it } from 'vitest';
import '../src/index.js';

const backends = await testBackends();

/** Two SQ dense layers on a small regression task; λ, γ large enough that β moves in a few steps. */
function model(keepAlpha: boolean): tf.Sequential {
  const quantizer = {
    name: 'sq',
    config: { lambda: 0.1, gamma: 0.3 },
    ...(keepAlpha ? { frozenParams: ['alpha'] } : {}),
  };
  return tf.sequential({
    layers: [
      new QuantDense({ units: 8, inputShape: [6], activation: 'relu', quantizer }),
      new QuantDense({ units: 3, quantizer }),
    ],
  });
}

const values = (m: tf.LayersModel, name: string) =>
  quantizerVariables(m)
    .filter((p) => p.name === name)
    .map((p) => p.variable.read().dataSync()[0]!);

const moved = (a: number[], b: number[], by: number) => a.every((v, i) => Math.abs(v - b[i]!) > by);

describe.each(backends)("SQ with frozenParams: ['alpha'] (%s)", (backend) => {
  it('model.fit: α stays at its initial value while β and the kernels train; without it α moves', async () => {
    await withBackend(backend, async () => {
      const x = tf.randomNormal([32, 6], 0, 1, 'float32', 11);
      const y = tf.randomNormal([32, 3], 0, 1, 'float32', 12);
      for (const keepAlpha of [false, true]) {
        const m = model(keepAlpha);
        m.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
        const alpha0 = values(m, 'alpha');
        const beta0 = values(m, 'beta');
        const kernel0 = Array.from((m.layers[0] as QuantDense).kernel!.read().dataSync());
        await m.fit(x, y, {
          epochs: 3,
          batchSize: 8,
          verbose: 0,
          callbacks: [new QuantizerCallback()],
        });
        if (keepAlpha) expect(values(m, 'alpha')).toEqual(alpha0);
        else expect(moved(values(m, 'alpha'), alpha0, 1e-4)).toBe(true);
        expect(moved(values(m, 'beta'), beta0, 1e-3)).toBe(true);
        expect(Array.from((m.layers[0] as QuantDense).kernel!.read().dataSync())).not.toEqual(
          kernel0,
        );
        m.dispose();
      }
      tf.dispose([x, y]);
    });
  });

  it('trainStep, and a saved and loaded model, keep α frozen', async () => {
    await withBackend(backend, async () => {
      const m = model(true);
      const alpha0 = values(m, 'alpha');
      const beta0 = values(m, 'beta');
      const optimizer = tf.train.adam(0.05);
      const x = tf.randomNormal([32, 6], 0, 1, 'float32', 11);
      const y = tf.randomNormal([32, 3], 0, 1, 'float32', 12);
      for (let i = 0; i < 4; i++) trainStep(m, optimizer, x, y, tf.losses.meanSquaredError);
      expect(values(m, 'alpha')).toEqual(alpha0);
      expect(moved(values(m, 'beta'), beta0, 1e-3)).toBe(true);
      let saved: tf.io.ModelArtifacts | undefined;
      await m.save(
        tf.io.withSaveHandler(async (a) => {
          saved = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
      expect(values(loaded, 'alpha')).toEqual(values(m, 'alpha'));
      expect(values(loaded, 'beta')).toEqual(values(m, 'beta'));
      expect(quantizerVariables(loaded).map((p) => [p.name, p.variable.trainable])).toEqual([
        ['alpha', false],
        ['beta', true],
        ['alpha', false],
        ['beta', true],
      ]);
      tf.dispose([x, y]);
      optimizer.dispose();
      m.dispose();
      loaded.dispose();
    });
  });
});
