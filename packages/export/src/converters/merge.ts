/** Merge layers: `Add`. */
import type { LayerConverter } from '../converter.js';

/** `Add` of two or more equally shaped inputs. */
export const convertAdd: LayerConverter = (ctx) => {
  const inputs = ctx.inputs();
  if (inputs.length < 2) ctx.fail(`has ${inputs.length} input(s), expected 2 or more`);
  return { ops: [{ op: 'add', name: ctx.layer.name, inputs }] };
};
