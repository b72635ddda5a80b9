export {
  type Checkpoint,
  type CheckpointIndex,
  loadCheckpoint,
  readCheckpointIndex,
  recoverCheckpoint,
  saveCheckpoint,
} from './checkpoint.js';
export {
  learningRateAt,
  makeOptimizer,
  type OptimizerConfig,
  OptimizerSchema,
  type ScheduleConfig,
  type ScheduledOptimizer,
  ScheduleSchema,
} from './optimizer.js';
export { type SyntheticOptions, syntheticData } from './synthetic-data.js';
export {
  type ArrayBatch,
  type EpochRecord,
  type LayerStatsRecord,
  type TrainConfig,
  type TrainConfigInput,
  TrainConfigSchema,
  type TrainData,
  TrainingDivergedError,
  type TrainOptions,
  type TrainResult,
  train,
  WeightDecaySchema,
} from './train.js';
