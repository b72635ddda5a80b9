import type * as tf from '@tensorflow/tfjs';

/** Size and cost of a model, for tables. */
export interface ModelComplexity {
  /** All parameters (trainable and not). */
  readonly params: number;
  /** Trainable parameters. */
  readonly trainableParams: number;
  /** Multiply-accumulates of one forward pass of one image, in conv and dense layers. */
  readonly macs: number;
  /** 2 x MACs. */
  readonly flops: number;
}

function dims(shape: tf.Shape | tf.Shape[]): number[] {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
  return s.map((d) => d ?? 1);
}

/** Counts parameters and per-image MACs/FLOPs of conv and dense layers. */
export function modelComplexity(model: tf.LayersModel): ModelComplexity {
  let macs = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const kernel = layer
      .getWeights()
      .find((w) => w.rank >= 2 && w.shape.length === (cls.includes('Dense') ? 2 : 4));
    if (!kernel) continue;
    const out = dims(layer.outputShape);
    if (cls.includes('Conv2D')) {
      const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
      macs += out[1]! * out[2]! * kh * kw * cin * cout;
    } else if (cls.includes('Dense')) {
      macs += kernel.shape[0]! * kernel.shape[1]!;
    }
  }
  const trainableParams = model.trainableWeights.reduce(
    (n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1),
    0,
  );
  return { params: model.countParams(), trainableParams, macs, flops: 2 * macs };
}
