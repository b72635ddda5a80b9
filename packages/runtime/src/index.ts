/**
 * @trit/runtime: a compact format for ternary/binary-weight models (2 bits
 * or 1 bit per quantized weight, float32 scales) and a dependency-free
 * inference runtime that computes directly from the packed codes.
 *
 * Node file helpers live in `@trit/runtime/node`.
 * @packageDocumentation
 */

export { crc32, crc32Hex } from './crc32.js';
export { type DecodeOptions, decodeModel } from './decode.js';
export { type EncodedModel, type EncodeOptions, encodeModel } from './encode.js';
export { type TritErrorCode, TritFormatError } from './errors.js';
export type { Feed, FeedData, Feeds, FeedTensor } from './feeds.js';
export {
  manifestTensors,
  opTensors,
  type TensorDType,
  type TensorEntry,
} from './graph.js';
export type { Backend } from './kernels/engine.js';
export { type LoadModelOptions, loadModel } from './loader.js';
export {
  activationOf,
  FORMAT_NAME,
  FORMAT_VERSION,
  isPlainFileName,
  type KernelEncoding,
  type KernelEntry,
  MAX_MANIFEST_BYTES,
  type Manifest,
  type OpEntry,
  type ParseManifestOptions,
  parseManifest,
  SUPPORTED_VERSIONS,
  TENSOR_ALIGNMENT,
  type TensorRef,
  type WeightTensors,
} from './manifest.js';
export { type LayerSummary, type ModelSummary, type TensorData, TritModel } from './model.js';
export {
  codesByteLength,
  packBinary,
  packBits,
  packedByteLength,
  packTernary,
  packTrits,
  unpackBinary,
  unpackBits,
  unpackTernary,
  unpackTrits,
} from './pack.js';
export type {
  Activation,
  AddSpec,
  AffineSpec,
  BatchNormSpec,
  ConcatSpec,
  Conv2DSpec,
  DenseSpec,
  DepthwiseConv2DSpec,
  FlattenSpec,
  FloatTensor,
  GlobalAvgPoolSpec,
  GraphSpec,
  InputSpec,
  OpSpec,
  Pair,
  Pool2DSpec,
  QuantizedKernel,
  ReluSpec,
  SoftmaxSpec,
  SubsampleSpec,
  UnaryActivationSpec,
  ZeroPadSpec,
} from './spec.js';
export { RUNTIME_VERSION } from './version.js';
export { initWasm } from './wasm/module.js';
