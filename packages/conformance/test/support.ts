/**
 * Shared fixtures of the conformance suite: the registered quantizers, a
 * non-default config for each known one, progress points, a memory save/load
 * round trip, small models, and the synthetic bars data set.
 */
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import * as tf from '@tensorflow/tfjs';
import {
  listQuantizers,
  QuantConv2D,
  QuantDense,
  type QuantizerConfig,
  type QuantizerSpec,
  type TrainingProgress,
} from '@trit/quant-core';
import { seededRandom } from '@trit/quant-core/testing';

/** Every quantizer registered once the four algorithm packages are imported (plus fp32 and bwn). */
export const QUANTIZERS = listQuantizers();

/** The algorithm packages this suite expects to find registered. */
export const EXPECTED = ['fp32', 'bwn', 'twn', 'ttq', 'sq', 'hla'];

/**
 * A valid non-default config per known quantizer, so that the round trips
 * check options, not only defaults. Quantizers not listed run with defaults.
 */
export const VARIANT_CONFIG: Readonly<Record<string, QuantizerConfig>> = {
  twn: { deltaFactor: 0.75, perChannel: true },
  ttq: { threshold: 0.1, init: 'one' },
  sq: { lambda: 0.01, gamma: 1e-4, betaInit: 1.2 },
  hla: { lambdaMax: 0.5, tau: 1, tauMax: 4, phase1Fraction: 0.3 },
};

/** `[default config, variant config]` of a quantizer (just the default when it has no variant). */
export function configsOf(name: string): { label: string; config: QuantizerConfig }[] {
  const variant = VARIANT_CONFIG[name];
  return variant
    ? [
        { label: 'default config', config: {} },
        { label: 'variant config', config: variant },
      ]
    : [{ label: 'default config', config: {} }];
}

/** Progress at a fraction of a 4-epoch, 10-steps-per-epoch run. */
export function progressAt(fraction: number): TrainingProgress {
  const step = Math.round(fraction * 40);
  return { epoch: Math.floor(step / 10), epochs: 4, step: step % 10, stepsPerEpoch: 10 };
}

/** Saves a model to memory and loads it back. */
export async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tf.loadLayersModel(tf.io.fromMemory(artifacts!));
}

/** QuantConv2D (3x3, 3 filters) → flatten → QuantDense (4 units), both with `quantizer`; seeded weights. */
export function smallModel(quantizer: QuantizerSpec, seed = 1): tf.LayersModel {
  return tf.sequential({
    layers: [
      new QuantConv2D({
        name: 'qconv',
        filters: 3,
        kernelSize: 3,
        inputShape: [6, 6, 2],
        activation: 'relu',
        quantizer,
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
        biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: seed + 1 }),
      }),
      tf.layers.flatten(),
      new QuantDense({
        name: 'qdense',
        units: 4,
        quantizer,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }),
        biasInitializer: tf.initializers.randomNormal({ stddev: 0.1, seed: seed + 3 }),
      }),
    ],
  });
}

/** Standard normal numbers from a uniform [0, 1) source (Box–Muller). */
function gaussian(next: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

export const BAR_CLASSES = ['horizontal', 'vertical', 'diagonal', 'anti-diagonal'] as const;

/**
 * `n` 16x16x1 images, each one line two pixels thick at a random offset,
 * horizontal, vertical, diagonal or anti-diagonal (the label, balanced), at
 * intensity 1 on a background of N(0, noise²) pixel noise.
 */
export function bars(
  n: number,
  seed: number,
  noise = 0.3,
): { x: tf.Tensor4D; y: tf.Tensor2D; labels: number[] } {
  const S = 16;
  const next = seededRandom(seed);
  const normal = gaussian(next);
  const pixels = new Float32Array(n * S * S);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 4;
    labels.push(label);
    const offset = 2 + Math.floor(next() * (S - 5)); // line position, 2..12
    const shift = Math.floor(next() * 7) - 3; // diagonal offset, -3..3
    for (let r = 0; r < S; r++) {
      for (let c = 0; c < S; c++) {
        let on = false;
        if (label === 0) on = r === offset || r === offset + 1;
        else if (label === 1) on = c === offset || c === offset + 1;
        else if (label === 2) on = c - r === shift || c - r === shift + 1;
        else on = r + c === S - 1 + shift || r + c === S + shift;
        pixels[i * S * S + r * S + c] = (on ? 1 : 0) + noise * normal();
      }
    }
  }
  const x = tf.tensor4d(pixels, [n, S, S, 1]);
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 4) as tf.Tensor2D;
  return { x, y, labels };
}

/**
 * The learning-test network at full precision, seeded:
 * conv1 (8 filters) → pool → conv2 (16) → pool → flatten → fc1 (32) → fc2 (4, softmax).
 */
export function barsNet(seed = 7): tf.Sequential {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        name: 'conv1',
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        inputShape: [16, 16, 1],
        kernelInitializer: init(1),
      }),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
      tf.layers.conv2d({
        name: 'conv2',
        filters: 16,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(2),
      }),
      tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'fc1', units: 32, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.dense({ name: 'fc2', units: 4, activation: 'softmax', kernelInitializer: init(4) }),
    ],
  });
}

/** Share of rows where the arg-max of `probs` equals the label. */
export function accuracy(probs: tf.Tensor, labels: readonly number[]): number {
  const predicted = tf.tidy(() => tf.argMax(probs, -1).dataSync());
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) hits++;
  return hits / labels.length;
}
