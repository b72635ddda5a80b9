import type { TrainConfigInput } from '../training/train.js';

/** How a model is built for a preset. */
export type ModelSpec =
  | {
      readonly type: 'resnet-cifar';
      readonly depth: number;
      readonly shortcut?: 'A' | 'B';
      readonly widths?: [number, number, number];
    }
  | { readonly type: 'resnet18-64'; readonly widths?: [number, number, number, number] };

/** Where a preset's data comes from. */
export type DataSpec =
  | {
      readonly type: 'synthetic';
      readonly size: number;
      readonly numClasses: number;
      readonly numTrain: number;
      readonly numTest: number;
    }
  | {
      readonly type: 'dataset';
      readonly name: string;
      readonly classes?: number;
      readonly perClass?: number;
    };

/**
 * A benchmark protocol. `finetune`: train FP32 once per seed, then fine-tune
 * every method from that checkpoint (TTQ's CIFAR protocol; FP32 itself is
 * fine-tuned for the same epochs so every method gets the same budget).
 * `scratch`: every method trains from random initialization.
 */
export interface Preset {
  readonly name: string;
  readonly description: string;
  readonly data: DataSpec;
  readonly model: ModelSpec;
  readonly protocol: 'finetune' | 'scratch';
  readonly methods: readonly string[];
  readonly seeds: readonly number[];
  /** Pre-training (finetune protocol) or the whole run (scratch protocol). */
  readonly pretrain: TrainConfigInput;
  /** Fine-tuning of each method (finetune protocol only). */
  readonly finetune?: TrainConfigInput;
  /** Per-method quantizer configs (defaults otherwise). */
  readonly quantizerConfigs?: Readonly<Record<string, Record<string, unknown>>>;
}

const ALL_METHODS = ['fp32', 'bwn', 'twn', 'ttq', 'sq', 'hla'] as const;

/** `epochs` of SGD (momentum 0.9) at the constant learning rate `lr`. */
function sgdConstant(epochs: number, batchSize: number, lr: number): TrainConfigInput {
  return {
    epochs,
    batchSize,
    optimizer: { type: 'sgd', lr, momentum: 0.9 },
    schedule: { type: 'constant' },
  };
}

/**
 * `epochs` of SGD (momentum 0.9): `warmupEpochs` of linear warm-up to `lr`,
 * then cosine decay to `minLr`.
 */
function sgdCosine(
  epochs: number,
  batchSize: number,
  lr: number,
  { warmupEpochs, minLr }: { warmupEpochs: number; minLr: number },
): TrainConfigInput {
  return {
    epochs,
    batchSize,
    optimizer: { type: 'sgd', lr, momentum: 0.9 },
    schedule: { type: 'cosine', warmupEpochs, minLr },
  };
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  smoke: {
    name: 'smoke',
    description:
      'tiny ResNet-8 on a 16x16 synthetic 4-class task, a few seconds per method (tests and CI)',
    data: { type: 'synthetic', size: 16, numClasses: 4, numTrain: 256, numTest: 64 },
    model: { type: 'resnet-cifar', depth: 8, widths: [8, 16, 32] },
    protocol: 'finetune',
    methods: ALL_METHODS,
    seeds: [0],
    pretrain: sgdConstant(2, 32, 0.05),
    finetune: sgdConstant(2, 32, 0.01),
  },
  quick: {
    name: 'quick',
    description:
      'ResNet-20 on the committed CIFAR-10 sample, about 8 minutes on 2 idle cores with the native backend',
    data: { type: 'dataset', name: 'cifar10-sample' },
    model: { type: 'resnet-cifar', depth: 20 },
    protocol: 'finetune',
    methods: ALL_METHODS,
    seeds: [0],
    pretrain: sgdCosine(8, 128, 0.1, { warmupEpochs: 1, minLr: 0.001 }),
    finetune: sgdCosine(3, 128, 0.01, { warmupEpochs: 0, minLr: 0.0005 }),
  },
  'cifar10-resnet20': {
    name: 'cifar10-resnet20',
    description: 'ResNet-20 on full CIFAR-10: FP32 then fine-tune each method (TTQ protocol)',
    data: { type: 'dataset', name: 'cifar10' },
    model: { type: 'resnet-cifar', depth: 20 },
    protocol: 'finetune',
    methods: ALL_METHODS,
    seeds: [0],
    pretrain: sgdCosine(30, 128, 0.1, { warmupEpochs: 1, minLr: 0 }),
    finetune: sgdCosine(5, 128, 0.01, { warmupEpochs: 0, minLr: 0 }),
  },
  'cifar10-resnet20-long': {
    name: 'cifar10-resnet20-long',
    description:
      'ResNet-20 on full CIFAR-10, the citable protocol: 100 epochs of FP32 pre-training (weight decay 5e-4), then 15 fine-tuning epochs per method and seed',
    data: { type: 'dataset', name: 'cifar10' },
    model: { type: 'resnet-cifar', depth: 20 },
    protocol: 'finetune',
    methods: ALL_METHODS,
    seeds: [0, 1, 2],
    pretrain: {
      ...sgdCosine(100, 128, 0.1, { warmupEpochs: 1, minLr: 0 }),
      weightDecay: { kernel: 5e-4, quantizerScales: 5e-4, bias: 0, batchNorm: 0 },
    },
    finetune: sgdCosine(15, 128, 0.01, { warmupEpochs: 0, minLr: 0 }),
  },
  'tiny-imagenet-10': {
    name: 'tiny-imagenet-10',
    description:
      'ResNet-18 (64x64 variant) on the first 10 Tiny ImageNet classes: FP32 then fine-tune each method',
    data: { type: 'dataset', name: 'tiny-imagenet-10' },
    model: { type: 'resnet18-64', widths: [32, 64, 128, 256] },
    protocol: 'finetune',
    methods: ALL_METHODS,
    seeds: [0],
    pretrain: sgdCosine(20, 64, 0.05, { warmupEpochs: 1, minLr: 0 }),
    finetune: sgdCosine(6, 64, 0.005, { warmupEpochs: 0, minLr: 0 }),
  },
  'tiny-imagenet-100': {
    name: 'tiny-imagenet-100',
    description: 'ResNet-18 (64x64 variant) on the 100-class Tiny ImageNet subset',
    data: { type: 'dataset', name: 'tiny-imagenet-100' },
    model: { type: 'resnet18-64', widths: [32, 64, 128, 256] },
    protocol: 'finetune',
    methods: ALL_METHODS,
    seeds: [0],
    pretrain: sgdCosine(30, 64, 0.05, { warmupEpochs: 1, minLr: 0 }),
    finetune: sgdCosine(8, 64, 0.005, { warmupEpochs: 0, minLr: 0 }),
  },
};

export function getPreset(name: string): Preset {
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown preset "${name}"; presets: ${Object.keys(PRESETS).join(', ')}`);
  return p;
}
