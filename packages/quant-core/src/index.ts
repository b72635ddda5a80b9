/**
 * @trit/quant-core: the shared quantizer interface and registry, backend
 * selection, and the FP32 and BWN baselines.
 * @packageDocumentation
 */
export {
  Quantizer,
  runFraction,
  type LayerQuantStats,
  type QuantizerConfig,
  type QuantizerParamSpec,
  type QuantizerParams,
  type QuantizerState,
  type TernaryExport,
  type TrainingProgress,
} from './quantizer.js';
export {
  getQuantizer,
  listQuantizers,
  quantizerInfo,
  registerQuantizer,
  type QuantizerFactory,
  type QuantizerInfo,
} from './registry.js';
export { assertFiniteKernel, checkNumber, resolveConfig, type NumberRule } from './validation.js';
export {
  codeShares,
  dequantizeExport,
  groupSize,
  makeTernaryExport,
  maskedMeanAbs,
  readScale,
  reductionAxes,
  stopGradient,
  customGradient,
  type CustomGradientResult,
} from './tensor-ops.js';
export { FP32Quantizer } from './baselines/fp32.js';
export { BWNQuantizer, bwnQuantize } from './baselines/bwn.js';
export { BACKENDS, initBackend, type BackendInfo, type BackendName, type InitBackendOptions } from './backend.js';
