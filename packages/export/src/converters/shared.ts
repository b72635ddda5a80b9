/** Config readers every converter family uses. */
import type * as tf from '@tensorflow/tfjs';
import type { FloatTensor } from '@trit/runtime';
import type { ConverterContext } from '../converter.js';

/** The float32 values of `t` (a copy). */
export const f32 = (t: tf.Tensor): Float32Array => Float32Array.from(t.dataSync() as Float32Array);

/** `t`'s shape and values. */
export function readTensor(t: tf.Tensor): FloatTensor {
  return { shape: [...t.shape], values: f32(t) };
}

/** A Keras `[height, width]` config value (or one number for both). */
export function pairOf(ctx: ConverterContext, v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n)))
    return [v[0] as number, v[1] as number];
  return ctx.fail(`${what} ${JSON.stringify(v)} is not a number or [height, width]`);
}

/** Refuses channels-first data: the runtime is NHWC. */
export function requireChannelsLast(ctx: ConverterContext): void {
  const f = ctx.config.dataFormat ?? 'channelsLast';
  if (f !== 'channelsLast')
    ctx.fail(`dataFormat ${JSON.stringify(f)} is not supported (the runtime is NHWC)`);
}

/** `'same'` or `'valid'` padding of a conv or pool layer. */
export function paddingOf(ctx: ConverterContext): 'same' | 'valid' {
  const padding = ctx.config.padding ?? 'valid';
  if (padding !== 'same' && padding !== 'valid')
    ctx.fail(`padding ${JSON.stringify(padding)} is not supported`);
  return padding as 'same' | 'valid';
}
