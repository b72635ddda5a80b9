import type * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { resnetCifar } from './resnet-cifar.js';
import { resnet18 } from './resnet18.js';

/** What a model builder learns about the data it is built for. */
export interface ModelDataInfo {
  readonly inputShape: readonly number[];
  readonly numClasses: number;
}

/**
 * A model family a study names by `model.type`. `options` validates the rest
 * of the study's `model` object (and documents it in the study JSON Schema);
 * `build` makes a fresh, seeded tfjs model for the data.
 */
export interface ModelEntry<O extends z.ZodType = z.ZodType> {
  readonly description: string;
  readonly options: O;
  build(options: z.infer<O>, data: ModelDataInfo, seed: number): tf.LayersModel;
}

const registry = new Map<string, ModelEntry>();

const NAME = /^[a-z][a-z0-9._-]*$/;

/**
 * Registers a model family under `type` (lower-case letters, digits, `.`, `_`,
 * `-`). A user's module (`trit bench --import`) calls this to make its model
 * available to study files. Registering a name twice is an error.
 */
export function registerModel<O extends z.ZodType>(type: string, entry: ModelEntry<O>): void {
  if (typeof type !== 'string' || !NAME.test(type))
    throw new Error(
      `registerModel: type ${JSON.stringify(type)} must be lower-case letters, digits, '.', '_' or '-'`,
    );
  if (entry === null || typeof entry !== 'object' || typeof entry.build !== 'function')
    throw new Error(
      `registerModel("${type}"): the entry needs a build(options, data, seed) function`,
    );
  if (!(entry.options instanceof z.ZodType))
    throw new Error(
      `registerModel("${type}"): options must be a zod schema of the model's options`,
    );
  if (registry.has(type)) throw new Error(`registerModel: model "${type}" is already registered`);
  registry.set(type, entry as unknown as ModelEntry);
}

/** The registered model types, in registration order. */
export function listModels(): string[] {
  return [...registry.keys()];
}

/** The entry of a registered model type; unknown types are an error listing the registered ones. */
export function modelEntry(type: string): ModelEntry {
  const e = registry.get(type);
  if (!e) throw new Error(`unknown model "${type}"; registered models: ${listModels().join(', ')}`);
  return e;
}

/** Builds the model a study's `model` spec names, validating its options. */
export function buildRegisteredModel(
  spec: { readonly type: string } & Record<string, unknown>,
  data: ModelDataInfo,
  seed: number,
): tf.LayersModel {
  const { type, ...options } = spec;
  const entry = modelEntry(type);
  return entry.build(entry.options.parse(options), data, seed);
}

const widths = (n: number) =>
  z.array(z.number().int().positive()).length(n).describe(`channels of the ${n} stages`);

registerModel('resnet-cifar', {
  description:
    'CIFAR ResNet (He et al. 2016): 3 stages of basic blocks, depth 6n+2, 16/32/64 channels',
  options: z.strictObject({
    depth: z
      .number()
      .int()
      .refine(
        (d) => d >= 8 && (d - 2) % 6 === 0,
        'depth must be 6n+2 with n >= 1 (8, 14, 20, 32, ...)',
      )
      .describe('network depth, 6n+2: 20 is ResNet-20'),
    shortcut: z
      .enum(['A', 'B'])
      .optional()
      .describe('A: parameter-free zero-padding shortcut (default); B: 1x1 convolution'),
    widths: widths(3).optional(),
  }),
  build: (o, data, seed) =>
    resnetCifar({
      depth: o.depth,
      shortcut: o.shortcut,
      widths: o.widths as [number, number, number] | undefined,
      numClasses: data.numClasses,
      inputShape: [...data.inputShape] as [number, number, number],
      seed: seed * 1000,
    }),
});

registerModel('resnet18-64', {
  description: 'ResNet-18 for 64x64 inputs (Tiny ImageNet): 4 stages of 2 basic blocks',
  options: z.strictObject({ widths: widths(4).optional() }),
  build: (o, data, seed) =>
    resnet18({
      numClasses: data.numClasses,
      inputShape: [...data.inputShape] as [number, number, number],
      widths: o.widths as [number, number, number, number] | undefined,
      seed: seed * 1000,
    }),
});
