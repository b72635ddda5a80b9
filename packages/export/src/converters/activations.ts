/** Activation layers: `Activation`, `ReLU`, `Softmax`. */
import type { LayerConverter } from '../converter.js';

/** Activations with a runtime op of their own (the op has the activation's name). */
export const ACTIVATION_OPS = ['relu', 'relu6', 'sigmoid', 'tanh', 'softmax'] as const;
/** One of {@link ACTIVATION_OPS}. */
export type ActivationOp = (typeof ACTIVATION_OPS)[number];

/** Whether `a` is a Keras activation name with a runtime op. */
export function isActivationOp(a: unknown): a is ActivationOp {
  return typeof a === 'string' && (ACTIVATION_OPS as readonly string[]).includes(a);
}

/** The activations the export maps, for error messages. */
export const SUPPORTED_ACTIVATIONS = ['linear', ...ACTIVATION_OPS].join(', ');

/** `Activation`: `linear` is the identity, the others their runtime op. */
export const convertActivation: LayerConverter = (ctx) => {
  const a = ctx.config.activation;
  const input = ctx.input();
  if (a === 'linear') return { ops: [], output: input };
  if (isActivationOp(a)) return { ops: [{ op: a, name: ctx.layer.name, inputs: [input] }] };
  return ctx.fail(
    `activation ${JSON.stringify(a)} is not supported (${SUPPORTED_ACTIVATIONS} are)`,
  );
};

/**
 * `ReLU`: plain (`relu`) or clipped at 6 (`relu6`); a negative slope, a
 * threshold or another `maxValue` have no runtime op.
 */
export const convertReLU: LayerConverter = (ctx) => {
  const { maxValue, negativeSlope, threshold } = ctx.config;
  if (negativeSlope != null && negativeSlope !== 0)
    ctx.fail(`negativeSlope ${negativeSlope} (a leaky ReLU) is not supported`);
  if (threshold != null && threshold !== 0) ctx.fail(`threshold ${threshold} is not supported`);
  if (maxValue != null && maxValue !== 6)
    ctx.fail(`maxValue ${maxValue} (a clipped ReLU) is not supported; only 6 (relu6) is`);
  const op = maxValue === 6 ? 'relu6' : 'relu';
  return { ops: [{ op, name: ctx.layer.name, inputs: [ctx.input()] }] };
};

/** `Softmax` over the last axis. */
export const convertSoftmax: LayerConverter = (ctx) => {
  const axis = ctx.config.axis;
  const last = ctx.inputShapes()[0]!.length - 1;
  if (!(axis === -1 || axis === undefined || axis === last))
    ctx.fail(`axis ${axis} is not supported (only the last, -1 or ${last})`);
  return { ops: [{ op: 'softmax', name: ctx.layer.name, inputs: [ctx.input()] }] };
};
