/**
 * @trit/hyperspherical: hyperspherical loss-aware ternary quantization (HLA,
 * Liu & Liu, arXiv:2212.12649), reconstructed as in docs/algorithms.md#hla.
 * Importing the package registers the `'hla'` quantizer.
 * @packageDocumentation
 */
export { type HLAQuantizeOptions, hlaGradientScale, hlaQuantize } from './hla-quantize.js';
export {
  HLA_DEFAULTS,
  type HLAConfig,
  HLAQuantizer,
  type HLAState,
  hlaSchedule,
} from './hla-quantizer.js';
export { type HLARegularizerOptions, hlaRegularizer } from './hla-regularizer.js';
