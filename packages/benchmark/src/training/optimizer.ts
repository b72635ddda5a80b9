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
