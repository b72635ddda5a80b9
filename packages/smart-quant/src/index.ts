/**
 * @trit/smart-quant: Smart Quantization (Razani, Morin, Sari, Partovi Nia,
 * "Adaptive Binary-Ternary Quantization", CVPR Workshops 2021,
 * arXiv:1909.12205), in the form reconstructed by the trit algorithms
 * reference. Each layer ends up binary or ternary through a regularizer with
 * a trainable shape parameter `β`. Importing this package registers the `'sq'`
 * quantizer.
 * @packageDocumentation
 */

export { type SQMemoryLayer, type SQMemoryReport, sqMemoryReport } from './sq-memory.js';
export {
  SQ_BETA_MAX,
  SQ_BETA_MIN,
  SQ_DEFAULT_BINARY_MARGIN,
  SQ_MAX_BINARY_MARGIN,
  type SQQuantizeOptions,
  sqDelta,
  sqIsBinary,
  sqQuantize,
} from './sq-quantize.js';
export { SQ_ALPHA_MIN, SQ_DEFAULTS, type SQConfig, SQQuantizer } from './sq-quantizer.js';
export { type SQRegularizerOptions, sqRegularizer } from './sq-regularizer.js';
