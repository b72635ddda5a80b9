/**
 * Learning: every quantizer must train a small conv net on a separable
 * synthetic task (16x16 images of horizontal, vertical, diagonal and
 * anti-diagonal bars in pixel noise, 4 classes) to at least 90% test
 * accuracy within a few seconds, with `model.fit` and `QuantizerCallback`.
 * Every layer is quantized, the first conv and the last dense included
 * (`keepFirstLastFP32: false`), so that no full-precision layer can carry the
 * task alone; and every latent kernel must have moved, so gradients reach
 * them through the quantizer.
 */
import * as tf from '@tensorflow/tfjs';
import {
  customGradient,
  initBackend,
  type LayerQuantStats,
  modelSummary,
  Quantizer,
  QuantizerCallback,
  type QuantizerConfig,
  quantizeModel,
  quantLayers,
  registerQuantizer,
} from '@trit/quant-core';
import { SQ_BETA_MAX, SQ_BETA_MIN } from '@trit/smart-quant';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accuracy, bars, barsNet, QUANTIZERS } from './support.js';

const TARGET = 0.9;
const EPOCHS = 6;
const BATCH = 32;

interface Run {
  readonly label: string;
  readonly quantizer: string;
  readonly config?: QuantizerConfig;
  /** Bits per weight the quantized layers must end at. */
  readonly bits?: number;
}

const RUNS: Run[] = [
  // The bars net has no BatchNorm after its quantized layers, the case where TTQ's README advises
  // `init: 'mean'`: with the official Wp = Wn = 1.0 the quantized kernels are ~10x the latent ones and
  // fc1's latent kernel moved only 4.3% in 6 epochs. (BN networks use the default; see the quick bench.)
  ...QUANTIZERS.map((q) =>
    q === 'ttq'
      ? { label: 'ttq (init mean)', quantizer: q, config: { init: 'mean' } }
      : { label: q, quantizer: q },
  ),
  // SQ held at each end: ternary (β from its lower clip, no binary reward) and binary (β from its
  // upper clip). Adam moves β by about the learning rate per step whatever λ is, so the binary run
  // needs a binary reward γ that outweighs the zero well's pull: on this task layers started binary
  // turned ternary within 6 epochs with γ = 0.05 and γ = 1, and stayed binary with γ = 10.
  {
    label: 'sq (ternary layers)',
    quantizer: 'sq',
    config: { betaInit: SQ_BETA_MIN, gamma: 0 },
    bits: 2,
  },
  {
    label: 'sq (binary layers)',
    quantizer: 'sq',
    config: { betaInit: SQ_BETA_MAX, gamma: 10 },
    bits: 1,
  },
];

/**
 * Negative control: BWN's forward with no gradient to the kernel. A network
 * of such layers cannot learn (only its biases move), so the learning test
 * must fail for it: this shows the test can tell a broken quantizer.
 */
class NoGradientQuantizer extends Quantizer<Record<string, never>> {
  readonly name = 'control-no-gradient';
  constructor() {
    super({});
  }
  precision() {
    return 1;
  }
  quantize(kernel: tf.Tensor): tf.Tensor {
    return customGradient(([w]) => ({
      value: tf.tidy(() => tf.mul(tf.mean(tf.abs(w!)), tf.sign(w!))),
      gradFunc: (dy) => [tf.zerosLike(dy)],
    }))(kernel);
  }
  stats(kernel: tf.Tensor): LayerQuantStats {
    return {
      quantizer: this.name,
      bits: 1,
      numWeights: kernel.size,
      share: { negative: 0, zero: 0, positive: 1 },
      scales: {},
    };
  }
  exportTernary() {
    return null;
  }
}
registerQuantizer(
  { name: 'control-no-gradient', description: 'test control' },
  () => new NoGradientQuantizer(),
);

async function trainBars(quantizer: string, config?: QuantizerConfig) {
  const { model, assignment } = quantizeModel(barsNet(), {
    default: quantizer,
    defaultConfig: config,
    keepFirstLastFP32: false,
  });
  expect(assignment.map((a) => a.quantizer)).toEqual(Array(4).fill(quantizer));
  const layers = quantLayers(model);
  const initial = layers.map((l) => l.quantizerParams());
  const initialKernels = layers.map((l) => Array.from(l.kernel!.read().dataSync()));
  model.compile({ optimizer: tf.train.adam(0.005), loss: 'categoricalCrossentropy' });
  const start = performance.now();
  await model.fit(TRAIN.x, TRAIN.y, {
    epochs: EPOCHS,
    batchSize: BATCH,
    shuffle: false,
    verbose: 0,
    callbacks: [new QuantizerCallback()],
  });
  const seconds = (performance.now() - start) / 1000;
  const acc = accuracy(model.predict(TEST.x) as tf.Tensor, TEST.labels);
  // Relative change of each latent kernel: ‖W − W0‖ / ‖W0‖.
  const kernelChange = layers.map((l, i) => {
    const now = l.kernel!.read().dataSync();
    const before = initialKernels[i]!;
    let diff = 0;
    let norm = 0;
    for (let j = 0; j < now.length; j++) {
      diff += (now[j]! - before[j]!) ** 2;
      norm += before[j]! ** 2;
    }
    return Math.sqrt(diff / norm);
  });
  return { model, layers, initial, acc, seconds, kernelChange };
}

const results: { run: string; accuracy: number; seconds: number; bits: string; note: string }[] =
  [];
let backend = '';

beforeAll(async () => {
  backend = (await initBackend({ quiet: true })).name;
});

afterAll(() => {
  console.log(
    `learning results (${backend} backend, ${EPOCHS} epochs of 512 images, test on 256):`,
  );
  console.table(results);
});

const TRAIN = bars(512, 1);
const TEST = bars(256, 2);

describe('learning on the bars task', () => {
  it.each(RUNS)('$label reaches 90% test accuracy', async (run) => {
    const { model, layers, initial, acc, seconds, kernelChange } = await trainBars(
      run.quantizer,
      run.config,
    );
    const bits = layers.map((l) => l.precision());
    const notes: string[] = [];

    // The quantized layers really compute with few levels.
    for (const l of layers) {
      if (l.precision() >= 32) continue;
      const levels = new Set(Array.from(l.quantizedKernel().dataSync()).map((v) => v.toFixed(6)));
      expect(levels.size, `${l.name}: distinct values of Q`).toBeLessThanOrEqual(
        l.precision() === 1 ? 2 : 3,
      );
    }
    // Gradients reached every latent kernel: each moved by more than 5% of its norm.
    kernelChange.forEach((change, i) => {
      expect(change, `${layers[i]!.name}: relative change of the latent kernel`).toBeGreaterThan(
        0.05,
      );
    });
    if (run.bits !== undefined) expect(bits).toEqual(Array(4).fill(run.bits));
    if (run.quantizer === 'hla') {
      // The schedule reached phase 2 (ternary forward) within the run.
      for (const l of layers) expect(l.quantizer.getState()).toMatchObject({ phase: 2 });
      notes.push('ended in phase 2');
    }
    if (run.quantizer === 'ttq') {
      // Wp and Wn are learned: they moved away from their initial values.
      layers.forEach((l, i) => {
        const now = l.quantizerParams();
        for (const p of ['wp', 'wn']) {
          const moved = Math.abs(now[p]! - initial[i]![p]!);
          notes.push(`${l.name}.${p} ${initial[i]![p]!.toFixed(3)}→${now[p]!.toFixed(3)}`);
          expect(moved, `${l.name}.${p} moved`).toBeGreaterThan(0.1 * Math.abs(initial[i]![p]!));
        }
      });
    }
    results.push({
      run: run.label,
      accuracy: Number(acc.toFixed(4)),
      seconds: Number(seconds.toFixed(2)),
      bits: bits.join('/'),
      note:
        notes.join('; ') || `${modelSummary(model).totals.compressionRatio.toFixed(2)}x smaller`,
    });
    expect(acc).toBeGreaterThanOrEqual(TARGET);
  });

  it('a quantizer that passes no gradient to the kernel fails it (negative control)', async () => {
    const { acc, kernelChange } = await trainBars('control-no-gradient');
    results.push({
      run: 'control-no-gradient',
      accuracy: Number(acc.toFixed(4)),
      seconds: 0,
      bits: '1/1/1/1',
      note: 'must fail',
    });
    expect(kernelChange.every((c) => c === 0)).toBe(true);
    expect(acc).toBeLessThan(TARGET);
  });
});
