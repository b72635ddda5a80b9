/** Merge layers: `Add`, `Concatenate`. */
import type { LayerConverter } from '../converter.js';

/** `Add` of two or more equally shaped inputs. */
export const convertAdd: LayerConverter = (ctx) => {
  const inputs = ctx.inputs();
  if (inputs.length < 2) ctx.fail(`has ${inputs.length} input(s), expected 2 or more`);
  return { ops: [{ op: 'add', name: ctx.layer.name, inputs }] };
};

/** `Concatenate` along the last (channel) axis. */
export const convertConcatenate: LayerConverter = (ctx) => {
  const inputs = ctx.inputs();
  if (inputs.length < 2) ctx.fail(`has ${inputs.length} input(s), expected 2 or more`);
  const rank = ctx.inputShapes()[0]!.length;
  const axis = (ctx.config.axis as number | undefined) ?? -1;
  if (!(axis === -1 || axis === rank - 1))
    ctx.fail(`concatenates axis ${axis}; only the last (channel) axis is supported`);
  return { ops: [{ op: 'concat', name: ctx.layer.name, inputs }] };
};
