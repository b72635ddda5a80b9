/** Layers that compute the identity at inference (dropout, noise): no op, consumers read their input. */
import type { LayerConverter } from '../converter.js';

/** Classes the identity converter is registered for. */
export const IDENTITY_CLASSES = [
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
] as const;

/** The identity: no op, the layer's output is its input. */
export const convertIdentity: LayerConverter = (ctx) => ({ ops: [], output: ctx.input() });

/** An `InputLayer` that is not one of the model's inputs (those become `input` ops before any converter). */
export const convertStrayInput: LayerConverter = (ctx) =>
  ctx.fail('is an input layer that is not one of the model inputs');
