/**
 * @trit/twn: Ternary Weight Networks (Li, Zhang, Liu, arXiv:1605.04711).
 * Importing this module registers the `'twn'` quantizer with `@trit/quant-core`.
 * @packageDocumentation
 */
export {
  TWN_DEFAULTS,
  TWN_PRESETS,
  type TWNConfig,
  type TWNOptions,
  type TWNTernary,
  twnQuantize,
  twnTernarize,
} from './twn-quantize.js';
export { TWNQuantizer } from './twn-quantizer.js';
