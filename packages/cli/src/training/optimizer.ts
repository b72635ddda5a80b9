import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';

export const OptimizerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('sgd'),
    lr: z.number().positive(),
    momentum: z.number().min(0).max(0.999).default(0.9),
    nesterov: z.boolean().default(false),
  }),
  z.strictObject({
    type: z.literal('adam'),
    lr: z.number().positive(),
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.999),
    epsilon: z.number().positive().default(1e-8),
  }),
]);
export type OptimizerConfig = z.infer<typeof OptimizerSchema>;

export const ScheduleSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('constant') }),
  z.strictObject({
    type: z.literal('step'),
    /** Epochs (0-based boundaries) at which the rate is multiplied by `gamma`. */
    milestones: z.array(z.number().int().nonnegative()),
    gamma: z.number().positive().default(0.1),
  }),
  z.strictObject({
    type: z.literal('cosine'),
    /** Linear warm-up from 0 over this many epochs (fractions allowed). */
    warmupEpochs: z.number().nonnegative().default(0),
    minLr: z.number().nonnegative().default(0),
  }),
]);
export type ScheduleConfig = z.infer<typeof ScheduleSchema>;

/** Learning rate at a point of the run, `epoch` fractional (epoch + step / stepsPerEpoch). */
export function learningRateAt(
  base: number,
  schedule: ScheduleConfig,
  epoch: number,
  epochs: number,
): number {
  switch (schedule.type) {
    case 'constant':
      return base;
    case 'step': {
      const passed = schedule.milestones.filter((m) => Math.floor(epoch) >= m).length;
      return base * schedule.gamma ** passed;
    }
    case 'cosine': {
      if (epoch < schedule.warmupEpochs) return (base * epoch) / schedule.warmupEpochs;
      const span = Math.max(1e-9, epochs - schedule.warmupEpochs);
      const t = Math.min(1, (epoch - schedule.warmupEpochs) / span);
      return schedule.minLr + 0.5 * (base - schedule.minLr) * (1 + Math.cos(Math.PI * t));
    }
  }
}

/** A tfjs optimizer whose learning rate the training loop can change every step. */
export interface ScheduledOptimizer {
  readonly optimizer: tf.Optimizer;
  setLearningRate(lr: number): void;
  /** Releases every tensor the optimizer holds (its slots and constants). */
  dispose(): void;
}

export function makeOptimizer(config: OptimizerConfig): ScheduledOptimizer {
  if (config.type === 'sgd') {
    const opt = tf.train.momentum(config.lr, config.momentum, config.nesterov);
    return {
      optimizer: opt,
      setLearningRate: (lr) => opt.setLearningRate(lr),
      dispose: () => {
        opt.dispose();
        // MomentumOptimizer.dispose() skips SGDOptimizer's: its learning-rate scalar would stay.
        tf.SGDOptimizer.prototype.dispose.call(opt);
      },
    };
  }
  const opt = tf.train.adam(config.lr, config.beta1, config.beta2, config.epsilon);
  // AdamOptimizer reads `learningRate` on every applyGradients but has no setter.
  return {
    optimizer: opt,
    setLearningRate: (lr) => ((opt as unknown as { learningRate: number }).learningRate = lr),
    dispose: () => opt.dispose(),
  };
}

/**
 * How a training config treats the quantizers' own parameters (TTQ's `wp`/`wn`,
 * SQ's `alpha`/`beta`, ...): by default they share the run's optimizer; a
 * paper's recipe may give them their own optimizer (e.g. Adam for SQ's β) or
 * a learning-rate multiplier. Their learning rate follows the run's schedule
 * (the same factor of its base rate every step).
 */
export const QuantizerParamsSchema = z
  .strictObject({
    params: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        'which quantizer parameters (by their name in the quantizer: wp, wn, alpha, beta, ...); default all of them',
      ),
    optimizer: OptimizerSchema.optional().describe(
      'their own optimizer, with its own base learning rate',
    ),
    lrScale: z
      .number()
      .positive()
      .optional()
      .describe("the run's optimizer with its learning rate times this factor"),
  })
  .refine((q) => (q.optimizer === undefined) !== (q.lrScale === undefined), {
    message: 'give exactly one of optimizer and lrScale',
  });
export type QuantizerParamsConfig = z.infer<typeof QuantizerParamsSchema>;

const GROUP_PREFIX = 'quantizerParams/';

/** A named tensor as tfjs optimizers take and give their weights. */
type NamedTensor = { name: string; tensor: tf.Tensor };

/**
 * Two optimizers behind one: variables named in `group` are stepped by
 * `second`, the rest by `first`. Its weights are the first's, then the
 * second's with names prefixed `quantizerParams/`, so a checkpoint holds both.
 */
class GroupedOptimizer extends tf.Optimizer {
  constructor(
    private readonly first: tf.Optimizer,
    private readonly second: tf.Optimizer,
    private readonly group: ReadonlySet<string>,
  ) {
    super();
  }

  override applyGradients(grads: tf.NamedTensorMap | NamedTensor[]): void {
    const map: tf.NamedTensorMap = Array.isArray(grads)
      ? Object.fromEntries(grads.map((g) => [g.name, g.tensor]))
      : grads;
    const a: tf.NamedTensorMap = {};
    const b: tf.NamedTensorMap = {};
    for (const [name, g] of Object.entries(map)) (this.group.has(name) ? b : a)[name] = g;
    if (Object.keys(a).length) this.first.applyGradients(a);
    if (Object.keys(b).length) this.second.applyGradients(b);
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const a = await this.first.getWeights();
    const b = await this.second.getWeights();
    return [...a, ...b.map((w) => ({ name: `${GROUP_PREFIX}${w.name}`, tensor: w.tensor }))];
  }

  override async setWeights(weights: NamedTensor[]): Promise<void> {
    const mine = (w: NamedTensor) => w.name.startsWith(GROUP_PREFIX);
    await this.first.setWeights(weights.filter((w) => !mine(w)));
    await this.second.setWeights(
      weights
        .filter(mine)
        .map((w) => ({ name: w.name.slice(GROUP_PREFIX.length), tensor: w.tensor })),
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }

  static get className(): string {
    return 'TritGroupedOptimizer';
  }
}

/**
 * The run's optimizer, with the variables in `group` (quantizer parameters)
 * stepped by an optimizer of their own when `params` says so. The learning
 * rate set each step is the run's; the group gets the same factor of its base.
 */
export function makeTrainOptimizer(
  config: OptimizerConfig,
  params: QuantizerParamsConfig | undefined,
  group: ReadonlySet<string>,
): ScheduledOptimizer {
  const main = makeOptimizer(config);
  if (!params || group.size === 0) return main;
  const groupConfig: OptimizerConfig = params.optimizer ?? {
    ...config,
    lr: config.lr * (params.lrScale ?? 1),
  };
  const second = makeOptimizer(groupConfig);
  return {
    optimizer: new GroupedOptimizer(main.optimizer, second.optimizer, group),
    setLearningRate: (lr) => {
      main.setLearningRate(lr);
      second.setLearningRate((groupConfig.lr * lr) / config.lr);
    },
    dispose: () => {
      main.dispose();
      second.dispose();
    },
  };
}
