/** Activation layers: `Activation`, `ReLU`, `Softmax`. */
import type { LayerConverter } from '../converter.js';

/** Activations with a runtime op of their own. */
const ACTIVATION_OPS: readonly string[] = ['relu', 'softmax'];

/** `Activation`: `linear` is the identity, the others their runtime op. */
export const convertActivation: LayerConverter = (ctx) => {
  const a = ctx.config.activation;
  const input = ctx.input();
  if (a === 'linear') return { ops: [], output: input };
  if (typeof a === 'string' && ACTIVATION_OPS.includes(a)) {
    return {
      ops: [{ op: a as 'relu' | 'softmax', name: ctx.layer.name, inputs: [input] }],
    };
  }
  return ctx.fail(
    `activation ${JSON.stringify(a)} is not supported (${[...ACTIVATION_OPS, 'linear'].join(', ')} are)`,
  );
};

/** `ReLU` without a `maxValue`. */
export const convertReLU: LayerConverter = (ctx) => {
  const max = ctx.config.maxValue;
  if (max != null) ctx.fail(`maxValue ${max} (a clipped ReLU) is not supported`);
  return { ops: [{ op: 'relu', name: ctx.layer.name, inputs: [ctx.input()] }] };
};

/** `Softmax` over the last axis. */
export const convertSoftmax: LayerConverter = (ctx) => {
  const axis = ctx.config.axis;
  if (!(axis === -1 || axis === undefined)) ctx.fail(`axis ${axis} is not supported (only -1)`);
  return { ops: [{ op: 'softmax', name: ctx.layer.name, inputs: [ctx.input()] }] };
};
