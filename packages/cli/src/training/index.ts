export {
  CHECKPOINT_VERSION,
  type Checkpoint,
  CheckpointError,
  type CheckpointIndex,
  discardNewestCheckpoint,
  type LatestCheckpoint,
  type LoadCheckpointOptions,
  loadCheckpoint,
  loadLatestCheckpoint,
  previousCheckpointDir,
  readCheckpointIndex,
  recoverCheckpoint,
  type SaveCheckpointOptions,
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
  type EpochRecord,
  type LayerStatsRecord,
  MAX_SEED,
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
export {
  EpochRecordSchema,
  LayerStatsRecordSchema,
  parseTrainState,
  type TrainState,
  TrainStateSchema,
} from './train-state.js';
