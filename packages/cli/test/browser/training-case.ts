/**
 * One training case, run the same way in Node and in the browser (bundled by
 * ../browser-training.test.ts): a small conv + dense model with one
 * quantizer in both quantized layers, seeded weights and data; its loss and
 * gradients, three `trainStep`s, then a save and a load through `store`.
 * `tf` and quant-core are passed in, so both sides use their own builds.
 */
import type * as TF from '@tensorflow/tfjs';
import type * as Core from '@trit/quant-core';

export interface CaseResult {
  readonly backend: string;
  /** Loss and gradient of every trainable weight, before any step. */
  readonly loss: number;
  readonly grads: Record<string, number[]>;
  /** Losses of the three training steps. */
  readonly losses: number[];
  /** Predictions after training, and of the model saved and loaded back. */
  readonly trained: number[];
  readonly reloaded: number[];
}

export async function trainCase(
  tf: typeof TF,
  core: typeof Core,
  quantizer: string,
  store: TF.io.IOHandler | string,
  load: TF.io.IOHandler | string,
): Promise<CaseResult> {
  const init = (seed: number) => ({
    className: 'RandomUniform',
    config: { minval: -0.2, maxval: 0.2, seed },
  });
  const model = tf.sequential({
    layers: [
      new core.QuantConv2D({
        name: 'conv',
        filters: 8,
        kernelSize: 3,
        inputShape: [6, 6, 4],
        padding: 'same',
        activation: 'relu',
        quantizer,
        kernelInitializer: init(1),
      }),
      tf.layers.flatten(),
      new core.QuantDense({ name: 'fc', units: 3, quantizer, kernelInitializer: init(2) }),
    ],
  });
  const rand = core.seededRandom(42); // the project's one seeded PRNG, from the side's own build
  const x = tf.tensor4d(
    Float32Array.from({ length: 8 * 6 * 6 * 4 }, () => rand() * 2 - 1),
    [8, 6, 6, 4],
  );
  const y = tf.tensor2d(
    Float32Array.from({ length: 8 * 3 }, () => rand()),
    [8, 3],
  );
  const lossFn = (t: TF.Tensor, p: TF.Tensor) => tf.losses.meanSquaredError(t, p);
  const variables = model.trainableWeights.map((w) => w.read() as TF.Variable);
  const { value, grads } = tf.variableGrads(() => {
    let loss = tf.mean(lossFn(y, model.apply(x, { training: true }) as TF.Tensor)) as TF.Scalar;
    for (const extra of model.calculateLosses()) loss = tf.add(loss, extra);
    return loss;
  }, variables);
  const gradValues: Record<string, number[]> = {};
  model.trainableWeights.forEach((w, i) => {
    gradValues[w.originalName] = [...grads[variables[i]!.name]!.dataSync()];
  });
  const loss = value.dataSync()[0]!;
  tf.dispose([value, ...Object.values(grads)]);
  // Adam: bounded steps whatever the scale of a quantizer's first loss.
  const optimizer = tf.train.adam(0.01);
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) losses.push(core.trainStep(model, optimizer, x, y, lossFn).loss);
  const trained = [...(model.predict(x) as TF.Tensor).dataSync()];
  await model.save(store);
  const back = await tf.loadLayersModel(load);
  const reloaded = [...(back.predict(x) as TF.Tensor).dataSync()];
  return { backend: tf.getBackend(), loss, grads: gradValues, losses, trained, reloaded };
}
