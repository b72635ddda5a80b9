/**
 * @trit/quant-core: the shared quantizer interface and registry, quantized
 * layers, training glue, mix and match, model summary, backend
 * selection, and the FP32 and BWN baselines.
 * @packageDocumentation
 */

export {
  BACKENDS,
  type BackendInfo,
  type BackendName,
  type InitBackendOptions,
  initBackend,
} from './backend.js';
export { BWNQuantizer, bwnQuantize } from './baselines/bwn.js';
export { FP32Quantizer } from './baselines/fp32.js';
export {
  type BatchNormalizationArgs,
  batchNormalization,
  TritBatchNormalization,
} from './layers/batch-norm.js';
export { QuantConv2D, type QuantConv2DArgs } from './layers/quant-conv2d.js';
export { QuantDense, type QuantDenseArgs } from './layers/quant-dense.js';
export {
  isQuantLayer,
  type LayerArgs,
  type QuantizerSpec,
  type QuantizerVariable,
  QuantLayer,
  type QuantLayerArgs,
  type QuantLayerType,
} from './layers/quant-layer.js';
export {
  type LayerAssignment,
  type LayerMatch,
  type QuantAssignment,
  type QuantizedModel,
  type QuantRule,
  quantizeModel,
} from './mix-and-match.js';
export {
  type LayerQuantStats,
  Quantizer,
  type QuantizerConfig,
  type QuantizerParamSpec,
  type QuantizerParams,
  type QuantizerState,
  runFraction,
  type TernaryExport,
  type TrainingProgress,
} from './quantizer.js';
export { Rng, seededRandom } from './random.js';
export {
  getQuantizer,
  listQuantizers,
  type QuantizerFactory,
  type QuantizerInfo,
  quantizerInfo,
  registerQuantizer,
} from './registry.js';
export {
  formatBytes,
  formatSummary,
  modelSummary,
  type QuantLayerSummary,
  type QuantModelSummary,
} from './summary.js';
export {
  type CustomGradientResult,
  codeShares,
  customGradient,
  dequantizeExport,
  groupSize,
  makeTernaryExport,
  maskedMeanAbs,
  maxAbsValue,
  meanAbsValue,
  overflowScale,
  readScale,
  recordingGradients,
  reductionAxes,
  stopGradient,
  tidyValue,
} from './tensor-ops.js';
export {
  allLayers,
  clipQuantizerParams,
  type LossFn,
  type ModelQuantizerVariable,
  NonFiniteLossError,
  QuantizerCallback,
  type QuantizerCallbackOptions,
  quantizerStep,
  quantizerVariables,
  quantLayers,
  type TrainStepOptions,
  type TrainStepResult,
  trainStep,
} from './training.js';
export {
  assertFiniteKernel,
  assertKernelTensor,
  checkConfigObject,
  checkNumber,
  type NumberRule,
  resolveConfig,
} from './validation.js';
