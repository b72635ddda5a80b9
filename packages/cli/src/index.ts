export {
  type MethodSummary,
  PRETRAINING_NOTE,
  PRETRAINING_TITLE,
  pretrainingLines,
  pretrainingMarkdown,
  runsCsv,
  type SummaryOptions,
  statisticsNote,
  summarize,
  summaryMarkdown,
} from './bench/aggregate.js';
export {
  type DataSource,
  listDataSources,
  loadStudyData,
  registerDataSource,
} from './bench/data-sources.js';
export { firstDifference, StaleResultsError } from './bench/identity.js';
export { type MethodSpec, parseMethod, resolveMethod } from './bench/method-spec.js';
export {
  type BenchMeta,
  formatMachine,
  type OutputOptions,
  writeBenchOutputs,
} from './bench/outputs.js';
export { getPreset, presetNames } from './bench/presets.js';
export { type ReportContext, renderReport } from './bench/report.js';
export { MalformedResultError } from './bench/result-schema.js';
export {
  type BenchOptions,
  buildModel,
  collectPretraining,
  collectRuns,
  gridSlice,
  historyWallSeconds,
  machineInfo,
  type PretrainingResult,
  type RunResult,
  runBench,
  runDirName,
} from './bench/run.js';
export type { Interval, PairedDifference } from './bench/statistics.js';
export {
  type DataSpec,
  type MethodEntry,
  type ModelSpec,
  type ResolvedMethod,
  readStudyFile,
  resolveStudy,
  type Study,
  StudyError,
  type StudyFile,
  studyJsonSchema,
} from './bench/study.js';
export { loadPresetData } from './cli/load-data.js';
export * from './data/index.js';
export * from './export/index.js';
export * from './models/index.js';
export { listModels, type ModelEntry, registerModel } from './models/registry.js';
export * from './training/index.js';
