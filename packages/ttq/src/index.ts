/**
 * @trit/ttq: Trained Ternary Quantization (Zhu, Han, Mao, Dally, ICLR 2017,
 * arXiv:1612.01064). Importing this module registers the `'ttq'` quantizer.
 * @packageDocumentation
 */
export {
  TTQ_DEFAULT_THRESHOLD,
  TTQ_PAPER,
  type TTQConfig,
  type TTQInit,
  type TTQInitScales,
  type TTQOptions,
  TTQQuantizer,
  ttqCodes,
  ttqInitScales,
  ttqQuantize,
  ttqThreshold,
} from './ttq-quantize.js';
