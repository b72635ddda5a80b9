/**
 * @trit/ttq: Trained Ternary Quantization (Zhu, Han, Mao, Dally, ICLR 2017,
 * arXiv:1612.01064). Importing this module registers the `'ttq'` quantizer.
 * @packageDocumentation
 */
export {
  TTQ_DEFAULT_THRESHOLD,
  type TTQInit,
  type TTQInitScales,
  type TTQOptions,
  ttqCodes,
  ttqInitScales,
  ttqQuantize,
  ttqThreshold,
} from './ttq-quantize.js';
export { TTQ_DEFAULTS, TTQ_PAPER, type TTQConfig, TTQQuantizer } from './ttq-quantizer.js';
