/**
 * BatchNormalization (tfjs's, or quant-core's `TritBatchNormalization`: same
 * config and weights) becomes a `batchNorm` op with the moving statistics
 * and epsilon. The encoder folds it into the conv/dense just before it when
 * that layer has no activation and no other consumer (its per-channel factor
 * `s = gamma / sqrt(var + eps)` multiplies the kernel, or both scales of a
 * quantized kernel: for TTQ's per-layer `Wp`, `Wn` it is stored once per
 * channel beside them; the shift goes into the bias), and writes it as an
 * `affine` op otherwise. A negative `gamma` gives negative scales, stored as
 * they are (signed float32): the kernel computes
 * `Wp_o * sum(x | +1) - Wn_o * sum(x | -1)`, which is linear in the scales,
 * so the folded layer is the conv followed by the BatchNorm for either sign.
 */
import type { LayerConverter } from '../converter.js';
import { f32 } from './shared.js';

/** `BatchNormalization` over the last (channel) axis: a `batchNorm` op. */
export const convertBatchNorm: LayerConverter = (ctx) => {
  const inputs: [string] = [ctx.input()];
  const cfg = ctx.config;
  const rank = ctx.inputShapes()[0]!.length;
  const axis = cfg.axis as number;
  if (!(axis === -1 || axis === rank - 1)) {
    ctx.fail(`normalizes axis ${axis}; only the last (channel) axis is supported`);
  }
  const w = ctx.layer.getWeights();
  let k = 0;
  const gamma = cfg.scale === false ? null : f32(w[k++]!);
  const beta = cfg.center === false ? null : f32(w[k++]!);
  const mean = f32(w[k++]!);
  const variance = f32(w[k++]!);
  return {
    ops: [
      {
        op: 'batchNorm',
        name: ctx.layer.name,
        inputs,
        gamma,
        beta,
        mean,
        variance,
        epsilon: cfg.epsilon as number,
      },
    ],
  };
};
