import * as tf from '@tensorflow/tfjs';
import { customGradient } from './tensor-ops.js';

/**
 * Kernel running TensorFlow's `FusedBatchNormV3` in training mode on the
 * native backend. Inputs `{x, scale, offset}` (NHWC, float32), attr
 * `{epsilon}`; outputs `[y, batchMean, batchVariance, reserve1, reserve2,
 * reserve3]`, `batchVariance` Bessel-corrected (`n / (n - 1)` times the
 * population variance, as TensorFlow returns it).
 * @internal
 */
export const FUSED_BATCH_NORM_KERNEL = 'TritFusedBatchNorm';

/**
 * Kernel running TensorFlow's `FusedBatchNormGradV3` (training mode) on the
 * native backend. Inputs `{dy, x, scale, reserve1, reserve2, reserve3}`
 * (the reserve spaces of {@link FUSED_BATCH_NORM_KERNEL}), attr `{epsilon}`;
 * outputs `[dx, dScale, dOffset]`.
 * @internal
 */
export const FUSED_BATCH_NORM_GRAD_KERNEL = 'TritFusedBatchNormGrad';

type Attr = { name: string; type: number; value: number | boolean | string };

/** The slice of tfjs-node's backend the kernels use. */
interface NativeBackend {
  readonly binding: {
    readonly TF_ATTR_TYPE: number;
    readonly TF_ATTR_FLOAT: number;
    readonly TF_ATTR_BOOL: number;
    readonly TF_ATTR_STRING: number;
    readonly TF_FLOAT: number;
  };
  executeMultipleOutputs(
    name: string,
    attrs: Attr[],
    inputs: tf.TensorInfo[],
    numOutputs: number,
  ): tf.TensorInfo[];
  write(values: Float32Array, shape: number[], dtype: 'float32'): tf.DataId;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

/** Attributes both ops share: float32 data and statistics, NHWC, training mode. */
function commonAttrs(native: NativeBackend, epsilon: number): Attr[] {
  const b = native.binding;
  return [
    { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: 'U', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: 'epsilon', type: b.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: b.TF_ATTR_BOOL, value: true },
  ];
}

/**
 * Registers the two native kernels on the `tensorflow` backend, once (also
 * when two copies of this module are loaded). Registration does not need the
 * backend to be loaded; the kernels only run on it.
 */
export function registerFusedBatchNormKernels(): void {
  if (!tf.getKernel(FUSED_BATCH_NORM_KERNEL, 'tensorflow')) {
    tf.registerKernel({
      kernelName: FUSED_BATCH_NORM_KERNEL,
      backendName: 'tensorflow',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const native = backend as unknown as NativeBackend;
        const { x, scale, offset } = inputs as Record<'x' | 'scale' | 'offset', tf.TensorInfo>;
        const { epsilon } = attrs as { epsilon: number };
        // Training mode takes no population statistics: empty mean and variance.
        const empty = { dataId: native.write(new Float32Array(0), [0], 'float32'), shape: [0] };
        const emptyInfo = { ...empty, dtype: 'float32' as const };
        try {
          return native.executeMultipleOutputs(
            'FusedBatchNormV3',
            [
              ...commonAttrs(native, epsilon),
              // 1 makes the "running" statistics outputs the batch's own.
              {
                name: 'exponential_avg_factor',
                type: native.binding.TF_ATTR_FLOAT,
                value: 1,
              },
            ],
            [x, scale, offset, emptyInfo, emptyInfo],
            6,
          );
        } finally {
          native.disposeData(empty.dataId);
        }
      },
    });
  }
  if (!tf.getKernel(FUSED_BATCH_NORM_GRAD_KERNEL, 'tensorflow')) {
    tf.registerKernel({
      kernelName: FUSED_BATCH_NORM_GRAD_KERNEL,
      backendName: 'tensorflow',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const native = backend as unknown as NativeBackend;
        const { dy, x, scale, reserve1, reserve2, reserve3 } = inputs as Record<
          'dy' | 'x' | 'scale' | 'reserve1' | 'reserve2' | 'reserve3',
          tf.TensorInfo
        >;
        const { epsilon } = attrs as { epsilon: number };
        const outs = native.executeMultipleOutputs(
          'FusedBatchNormGradV3',
          commonAttrs(native, epsilon),
          [dy, x, scale, reserve1, reserve2, reserve3],
          5,
        );
        // Outputs 4 and 5 are unused placeholders (reserve_space_4/5).
        for (const unused of outs.slice(3)) native.disposeData(unused.dataId);
        return outs.slice(0, 3);
      },
    });
  }
}

/** Statistics of one training batch, handed to {@link fusedBatchNormTraining}'s callback. */
export type BatchStatsCallback = (mean: tf.Tensor1D, variance: tf.Tensor1D) => void;

/**
 * Training-mode batch normalization over the last axis of an NHWC float32
 * tensor, as TensorFlow's two fused ops: the same function and gradient as
 * `tf.moments` + `tf.batchNorm` (what tfjs-layers' `BatchNormalization`
 * trains with), in a fraction of the time.
 *
 * Forward, per channel c over the n = N·H·W positions:
 * `μ = mean(x)`, `σ² = mean((x − μ)²)` (population variance),
 * `x̂ = (x − μ) / √(σ² + ε)`, `y = γ·x̂ + β`.
 *
 * Backward (the full gradient, through μ and σ²):
 * `dβ = Σ dy`, `dγ = Σ dy·x̂`,
 * `dx = γ / √(σ² + ε) · (dy − mean(dy) − x̂·mean(dy·x̂))`.
 *
 * `onBatchStats(μ, σ²)` is called once, inside the forward pass, with the
 * batch mean and the POPULATION variance (TensorFlow returns the
 * Bessel-corrected one, `σ²·n/(n−1)`; it is converted back so that moving
 * averages match tfjs-layers'). The tensors are disposed after the call:
 * write derived values into variables, do not keep them.
 *
 * Needs the `tensorflow` backend (tfjs-node); registers its kernels on
 * first use.
 *
 * @throws if the active backend is not `tensorflow`, or on a wrong rank,
 *   dtype or parameter shape.
 */
export function fusedBatchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  epsilon: number,
  onBatchStats?: BatchStatsCallback,
): tf.Tensor4D {
  if (tf.getBackend() !== 'tensorflow') {
    throw new Error(
      `fusedBatchNormTraining: needs the native "tensorflow" backend, the active one is "${tf.getBackend()}"`,
    );
  }
  const channels = x.shape[3];
  if (x.rank !== 4 || x.dtype !== 'float32') {
    throw new Error(
      `fusedBatchNormTraining: x must be a 4-D float32 NHWC tensor, got ${x.dtype} [${x.shape.join(', ')}]`,
    );
  }
  for (const [name, t] of [
    ['gamma', gamma],
    ['beta', beta],
  ] as const) {
    if (t.rank !== 1 || t.shape[0] !== channels || t.dtype !== 'float32') {
      throw new Error(
        `fusedBatchNormTraining: ${name} must be float32 of shape [${channels}], got ${t.dtype} [${t.shape.join(', ')}]`,
      );
    }
  }
  registerFusedBatchNormKernels();
  const n = x.size / channels!;
  // TensorFlow's batch variance is the population variance times n / max(n − 1, 1).
  const unbias = n > 1 ? (n - 1) / n : 1;
  const op = customGradient(([xIn, gammaIn, betaIn], save) => {
    const [y, mean, variance, r1, r2, r3] = tf
      .engine()
      .runKernel(
        FUSED_BATCH_NORM_KERNEL,
        { x: xIn!, scale: gammaIn!, offset: betaIn! },
        { epsilon },
      ) as tf.Tensor[];
    save([xIn!, gammaIn!, r1!, r2!, r3!]);
    if (onBatchStats) onBatchStats(mean as tf.Tensor1D, tf.mul(variance!, unbias) as tf.Tensor1D);
    return {
      value: y!,
      gradFunc: (dy, [sx, sGamma, s1, s2, s3]) =>
        tf
          .engine()
          .runKernel(
            FUSED_BATCH_NORM_GRAD_KERNEL,
            { dy, x: sx!, scale: sGamma!, reserve1: s1!, reserve2: s2!, reserve3: s3! },
            { epsilon },
          ) as tf.Tensor[],
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}
