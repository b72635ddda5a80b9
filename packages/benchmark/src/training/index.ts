export { learningRateAt, makeOptimizer, OptimizerSchema, ScheduleSchema, type OptimizerConfig, type ScheduleConfig, type ScheduledOptimizer } from './optimizer.js';
export { loadCheckpoint, readCheckpointIndex, recoverCheckpoint, saveCheckpoint, type Checkpoint, type CheckpointIndex } from './checkpoint.js';
export {
  train,
  TrainConfigSchema,
  TrainingDivergedError,
  WeightDecaySchema,
  type ArrayBatch,
  type EpochRecord,
  type LayerStatsRecord,
  type TrainConfig,
  type TrainConfigInput,
  type TrainData,
  type TrainOptions,
  type TrainResult,
} from './train.js';
export { mulberry32, syntheticData, type SyntheticOptions } from './synthetic-data.js';
