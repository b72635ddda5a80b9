export {};
export * from './data/index.js';
export * from './models/index.js';
export * from './training/index.js';
export { getPreset, PRESETS, type DataSpec, type ModelSpec, type Preset } from './bench/presets.js';
export { buildModel, collectRuns, gridSlice, machineInfo, runBench, runDirName, type BenchOptions, type RunResult } from './bench/run.js';
export { runsCsv, summarize, summaryMarkdown, type MethodSummary } from './bench/aggregate.js';
export { renderReport, type ReportContext } from './bench/report.js';
export { writeBenchOutputs, type BenchMeta } from './bench/outputs.js';
