/** Layers that move values without computing: `Flatten`, `ZeroPadding2D`. */
import type { LayerConverter } from '../converter.js';
import { requireChannelsLast } from './shared.js';

/** `Flatten` in NHWC memory order (as Keras). */
export const convertFlatten: LayerConverter = (ctx) => ({
  ops: [{ op: 'flatten', name: ctx.layer.name, inputs: [ctx.input()] }],
});

/** `ZeroPadding2D`: `[[top, bottom], [left, right]]` zero rows and columns. */
export const convertZeroPadding2D: LayerConverter = (ctx) => {
  requireChannelsLast(ctx);
  const padding = ctx.config.padding as [[number, number], [number, number]];
  return { ops: [{ op: 'zeroPad', name: ctx.layer.name, inputs: [ctx.input()], padding }] };
};
