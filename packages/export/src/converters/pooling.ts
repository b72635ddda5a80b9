/** Pooling layers: `MaxPooling2D`, `AveragePooling2D`, `GlobalAveragePooling2D`, `GlobalMaxPooling2D`. */
import type { LayerConverter } from '../converter.js';
import { pairOf, requireChannelsLast } from './shared.js';

/** `MaxPooling2D` and `AveragePooling2D`: a `maxPool` / `avgPool` op (TensorFlow's padding). */
export const convertPool2D: LayerConverter = (ctx) => {
  requireChannelsLast(ctx);
  const cfg = ctx.config;
  const poolSize = pairOf(ctx, cfg.poolSize, 'poolSize');
  return {
    ops: [
      {
        op: ctx.className === 'MaxPooling2D' ? 'maxPool' : 'avgPool',
        name: ctx.layer.name,
        inputs: [ctx.input()],
        poolSize,
        strides: pairOf(ctx, cfg.strides ?? poolSize, 'strides'),
        padding: (cfg.padding as 'same' | 'valid' | undefined) ?? 'valid',
      },
    ],
  };
};

/** `GlobalAveragePooling2D` / `GlobalMaxPooling2D`: a `globalAvgPool` / `globalMaxPool` op. */
export const convertGlobalPool: LayerConverter = (ctx) => {
  requireChannelsLast(ctx);
  const op = ctx.className === 'GlobalMaxPooling2D' ? 'globalMaxPool' : 'globalAvgPool';
  return { ops: [{ op, name: ctx.layer.name, inputs: [ctx.input()] }] };
};
