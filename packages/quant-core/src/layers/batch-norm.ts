import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormTraining } from '../native-batch-norm.js';
import { nativeKernelsEnabled } from '../native-gradients.js';

/** Options of {@link TritBatchNormalization}: exactly those of `tf.layers.batchNormalization`. */
export type BatchNormalizationArgs = NonNullable<
  Parameters<typeof tf.layers.batchNormalization>[0]
>;

/** The members of tfjs-layers' `BatchNormalization` this module reads (private in its typings). */
interface BatchNormalizationLayer extends tf.layers.Layer {
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly gamma?: tf.LayerVariable;
  readonly beta?: tf.LayerVariable;
  readonly movingMean: tf.LayerVariable;
  readonly movingVariance: tf.LayerVariable;
}

/** tfjs-layers' `BatchNormalization` class (not exported by `@tensorflow/tfjs`), typed minimally. */
type BatchNormalizationClass = (new (
  args?: BatchNormalizationArgs,
) => BatchNormalizationLayer) & {
  readonly className: string;
  fromConfig: typeof tf.layers.Layer.fromConfig;
};

function tfjsBatchNormalization(): BatchNormalizationClass {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap.BatchNormalization;
  if (!entry) throw new Error('tfjs-layers did not register its BatchNormalization class');
  return entry[0] as unknown as BatchNormalizationClass;
}

/** tfjs-layers' moving-average update, op for op: `v ← v − (v − value)·(1 − momentum)`. */
function movingAverage(variable: tf.LayerVariable, value: tf.Tensor, momentum: number): void {
  tf.tidy(() => {
    const decay = 1 - momentum;
    const origValue = variable.read();
    const updateDelta = tf.mul(tf.sub(origValue, value), decay);
    variable.write(tf.sub(origValue, updateDelta));
  });
}

/**
 * tfjs-layers' `BatchNormalization` that trains with TensorFlow's fused
 * batch-norm ops on the native backend: same options, weights (`gamma`,
 * `beta`, `moving_mean`, `moving_variance`, named `<layer>/gamma`, ...),
 * config, outputs and gradients, so models and checkpoints move between the
 * two freely; only the class name (`TritBatchNormalization`) differs in a
 * saved topology.
 *
 * Why: tfjs-layers trains through `tf.moments` + `tf.batchNorm`, whose
 * forward and tfjs-derived gradient are ~15 elementwise ops over the whole
 * activation. TensorFlow computes both as one op each (`FusedBatchNormV3`,
 * `FusedBatchNormGradV3`): one BatchNorm on [128, 32, 32, 16], forward +
 * backward, takes 20 ms instead of 72 ms (2 cores), and BatchNorm dominates
 * a CIFAR ResNet's training step on tfjs-node.
 *
 * Math (training, per channel c over the n = N·H·W positions):
 * `μ = mean(x)`, `σ² = mean((x − μ)²)`, `y = γ·(x − μ)/√(σ² + ε) + β`,
 * differentiated through μ and σ² (see {@link fusedBatchNormTraining}); the
 * moving statistics are updated as tfjs-layers does,
 * `m ← m − (m − μ)·(1 − momentum)`, `v ← v − (v − σ²)·(1 − momentum)`, with
 * the population variance σ² (TensorFlow's Bessel-corrected batch variance
 * is converted back). Inference uses the moving statistics, unchanged.
 *
 * The fused path is taken when `training` is true, the active backend is
 * `tensorflow`, the input is a 4-D float32 tensor normalized over its last
 * axis (NHWC), both `center` and `scale` are on, and the native kernels are
 * not turned off (`initBackend({ nativeGradients: false })` or
 * `TRIT_NATIVE_GRADIENTS=0`). Everything else (other backends, ranks or axes,
 * inference) runs tfjs-layers' own code.
 */
export class TritBatchNormalization extends tfjsBatchNormalization() {
  /** Serialization name (unique across tfjs classes). */
  static override readonly className = 'TritBatchNormalization';

  /** Whether a training call on `x` takes the fused native path. */
  usesFusedPath(x: tf.Tensor): boolean {
    return (
      nativeKernelsEnabled() &&
      tf.getBackend() === 'tensorflow' &&
      x.rank === 4 &&
      x.dtype === 'float32' &&
      (this.axis === -1 || this.axis === 3) &&
      this.center &&
      this.scale &&
      this.gamma?.dtype === 'float32' &&
      this.beta?.dtype === 'float32'
    );
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    if (kwargs.training !== true || !x || !this.usesFusedPath(x)) {
      return super.call(inputs, kwargs) as tf.Tensor;
    }
    return tf.tidy(() =>
      fusedBatchNormTraining(
        x,
        this.gamma!.read(),
        this.beta!.read(),
        this.epsilon,
        (mean, variance) => {
          movingAverage(this.movingMean, mean, this.momentum);
          movingAverage(this.movingVariance, variance, this.momentum);
        },
      ),
    );
  }
}
tf.serialization.registerClass(TritBatchNormalization);

/** Makes a {@link TritBatchNormalization}: the drop-in for `tf.layers.batchNormalization(args)`. */
export function batchNormalization(args?: BatchNormalizationArgs): TritBatchNormalization {
  return new TritBatchNormalization(args);
}
