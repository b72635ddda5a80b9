/**
 * Writing a model: a {@link GraphSpec} (plain data, typically produced by a
 * walker over a trained tfjs model) to a manifest and one binary.
 */
import { crc32, crc32Hex } from './crc32.js';
import { TritFormatError } from './errors.js';
import { checkGraph } from './graph.js';
import {
  FORMAT_NAME,
  FORMAT_VERSION,
  type KernelEntry,
  type Manifest,
  OP_TYPES,
  type OpEntry,
  parseManifest,
  TENSOR_ALIGNMENT,
  type TensorRef,
  type WeightTensors,
} from './manifest.js';
import { kernelGeometry, packBits, packTrits, shapeSize } from './pack.js';
import { type GraphSpec, isQuantizedKernel, type OpSpec, type Pair } from './spec.js';
import { RUNTIME_VERSION } from './version.js';

/** Options of {@link encodeModel}. */
export interface EncodeOptions {
  /**
   * Fold a BatchNorm (or affine) op into the conv2d/dense op before it, when
   * it is that op's only consumer and the op has no activation: the
   * per-channel factor multiplies the kernel (a quantized kernel's levels,
   * which become per-channel; or, for per-layer asymmetric levels such as
   * TTQ's `Wp`/`Wn`, the kernel's separate per-channel `scale`) and the bias
   * absorbs the shift. Default true.
   */
  readonly foldBatchNorm?: boolean;
  /** Fuse a ReLU (softmax) op into the conv2d/dense/affine/add (conv2d/dense) op before it, under the same condition. Default true. */
  readonly fuseActivations?: boolean;
  /** File name of the binary recorded in the manifest. Default `model.bin`. */
  readonly binaryFile?: string;
}

/** A model in the trit format: the manifest and the bytes of its binary. */
export interface EncodedModel {
  readonly manifest: Manifest;
  readonly binary: Uint8Array;
}

type DraftKernel =
  | {
      readonly encoding: 'float32';
      readonly shape: readonly number[];
      values: Float64Array | Float32Array;
    }
  | {
      readonly encoding: 'ternary' | 'binary';
      readonly bits: 1 | 2;
      readonly quantizer: string | null;
      readonly shape: readonly number[];
      readonly codes: Int8Array;
      positive: Float64Array | Float32Array;
      negative: Float64Array | Float32Array;
      /** Per-channel factor of both levels (folded BatchNorms), when kept apart from them. */
      scale?: Float64Array;
    };

interface Draft {
  readonly name: string;
  readonly op: OpEntry['op'];
  readonly inputs: readonly string[];
  readonly fused: string[];
  activation?: 'linear' | 'relu' | 'softmax';
  kernel?: DraftKernel;
  bias?: Float64Array | Float32Array | null;
  scale?: Float64Array;
  shift?: Float64Array;
  readonly attrs: Record<string, unknown>;
}

function bad(message: string): never {
  throw new TritFormatError('bad-graph', message);
}

function pair(
  v: Pair | undefined,
  fallback: readonly [number, number],
  what: string,
): [number, number] {
  if (v === undefined) return [fallback[0], fallback[1]];
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [v[0]!, v[1]!];
  return bad(`${what}: expected a number or [height, width], got ${JSON.stringify(v)}`);
}

function finite(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!))
      throw new TritFormatError('non-finite', `${what} holds ${a[i]} at index ${i}`);
  }
}

function f32(v: unknown, what: string, length?: number): Float32Array {
  if (!(v instanceof Float32Array)) bad(`${what} must be a Float32Array`);
  if (length !== undefined && v.length !== length)
    bad(`${what} has ${v.length} values, expected ${length}`);
  finite(v, what);
  return v;
}

function draftKernel(
  spec: Extract<OpSpec, { op: 'conv2d' | 'depthwiseConv2d' | 'dense' }>,
  at: string,
): DraftKernel {
  const k = spec.kernel as unknown;
  if (typeof k !== 'object' || k === null) bad(`${at}: kernel is missing`);
  const kernel = spec.kernel;
  if (!Array.isArray(kernel.shape)) bad(`${at}: kernel.shape must be an array`);
  if (isQuantizedKernel(kernel)) {
    if (kernel.bits !== 1 && kernel.bits !== 2)
      bad(`${at}: kernel.bits must be 1 or 2, got ${kernel.bits}`);
    const { cout } = kernelGeometry(kernel.shape, `${at} kernel`);
    for (const f of ['positive', 'negative'] as const) {
      const s = f32(kernel[f], `${at}: kernel.${f}`);
      if (s.length !== 1 && s.length !== cout)
        bad(`${at}: kernel.${f} has ${s.length} values, expected 1 or ${cout}`);
    }
    const quantizer = 'quantizer' in spec ? spec.quantizer : undefined;
    if (quantizer !== undefined && typeof quantizer !== 'string')
      bad(`${at}: quantizer must be a string`);
    return {
      encoding: kernel.bits === 2 ? 'ternary' : 'binary',
      bits: kernel.bits,
      quantizer: quantizer ?? null,
      shape: [...kernel.shape],
      codes: kernel.codes,
      positive: kernel.positive,
      negative: kernel.negative,
    };
  }
  const values = f32(kernel.values, `${at}: kernel.values`, shapeSize(kernel.shape));
  return { encoding: 'float32', shape: [...kernel.shape], values };
}

function draft(spec: OpSpec, index: number): Draft {
  if (typeof spec !== 'object' || spec === null) bad(`graph.ops[${index}] is not an object`);
  if (typeof spec.name !== 'string' || spec.name.length === 0)
    bad(`graph.ops[${index}]: name must be a non-empty string`);
  const at = `op "${spec.name}" (${String(spec.op)})`;
  if (!OP_TYPES.includes(spec.op as OpEntry['op']) && spec.op !== 'batchNorm') {
    throw new TritFormatError(
      'unknown-op',
      `op "${spec.name}": unknown op ${JSON.stringify(spec.op)}; supported: ${[...OP_TYPES, 'batchNorm'].join(', ')}`,
    );
  }
  const inputs = spec.op === 'input' ? [] : spec.inputs;
  if (!Array.isArray(inputs) || !inputs.every((s) => typeof s === 'string'))
    bad(`${at}: inputs must be an array of op names`);
  const base = {
    name: spec.name,
    inputs: [...inputs],
    fused: [] as string[],
    attrs: {} as Record<string, unknown>,
  };
  switch (spec.op) {
    case 'input':
      return { ...base, op: 'input', attrs: { shape: spec.shape } };
    case 'conv2d':
    case 'depthwiseConv2d':
    case 'dense': {
      const kernel = draftKernel(spec, at);
      if (spec.op === 'depthwiseConv2d' && kernel.encoding !== 'float32')
        bad(`${at}: a depthwise kernel must be float (no ternary or binary depthwise kernels)`);
      if (spec.op === 'depthwiseConv2d' && kernel.shape.length !== 4)
        bad(`${at}: kernel shape [${kernel.shape.join(', ')}] should have rank 4`);
      const cout = outChannels(spec.op, kernel.shape);
      const bias = spec.bias == null ? null : f32(spec.bias, `${at}: bias`, cout);
      const activation = spec.activation ?? 'linear';
      if (!['linear', 'relu', 'softmax'].includes(activation))
        bad(`${at}: unknown activation ${JSON.stringify(activation)}`);
      const attrs =
        spec.op !== 'dense'
          ? {
              strides: pair(spec.strides, [1, 1], `${at}: strides`),
              padding: spec.padding ?? 'valid',
            }
          : {};
      return { ...base, op: spec.op, kernel, bias, activation, attrs };
    }
    case 'batchNorm': {
      const mean = f32(spec.mean, `${at}: mean`);
      const c = mean.length;
      const variance = f32(spec.variance, `${at}: variance`, c);
      const gamma = spec.gamma == null ? null : f32(spec.gamma, `${at}: gamma`, c);
      const beta = spec.beta == null ? null : f32(spec.beta, `${at}: beta`, c);
      const eps = spec.epsilon ?? 1e-3;
      if (typeof eps !== 'number' || !(eps >= 0))
        bad(`${at}: epsilon must be a number >= 0, got ${eps}`);
      const scale = new Float64Array(c);
      const shift = new Float64Array(c);
      for (let i = 0; i < c; i++) {
        const denom = variance[i]! + eps;
        if (!(denom > 0))
          bad(`${at}: variance + epsilon is ${denom} at channel ${i}; it must be > 0`);
        scale[i] = (gamma ? gamma[i]! : 1) / Math.sqrt(denom);
        shift[i] = (beta ? beta[i]! : 0) - mean[i]! * scale[i]!;
      }
      return { ...base, op: 'affine', scale, shift, activation: 'linear' };
    }
    case 'affine': {
      const scale = f32(spec.scale, `${at}: scale`);
      const shift = f32(spec.shift, `${at}: shift`, scale.length);
      return {
        ...base,
        op: 'affine',
        scale: Float64Array.from(scale),
        shift: Float64Array.from(shift),
        activation: 'linear',
      };
    }
    case 'add':
      return { ...base, op: 'add', activation: 'linear' };
    case 'concat':
      return { ...base, op: 'concat' };
    case 'maxPool':
    case 'avgPool': {
      const poolSize = pair(spec.poolSize, [0, 0], `${at}: poolSize`);
      return {
        ...base,
        op: spec.op,
        attrs: {
          poolSize,
          strides: pair(spec.strides, poolSize, `${at}: strides`),
          padding: spec.padding ?? 'valid',
        },
      };
    }
    case 'zeroPad': {
      const p = spec.padding ?? 0;
      const padding =
        typeof p === 'number'
          ? [
              [p, p],
              [p, p],
            ]
          : p;
      return { ...base, op: 'zeroPad', attrs: { padding, channels: spec.channels ?? [0, 0] } };
    }
    case 'subsample':
      return {
        ...base,
        op: 'subsample',
        attrs: { strides: pair(spec.strides, [1, 1], `${at}: strides`) },
      };
    case 'relu':
    case 'relu6':
    case 'sigmoid':
    case 'tanh':
    case 'softmax':
    case 'flatten':
    case 'globalAvgPool':
    case 'globalMaxPool':
      return { ...base, op: spec.op };
  }
}

/** Output channels of a weighted op's kernel: the last axis, or `cin * multiplier` for a depthwise one. */
function outChannels(op: string, shape: readonly number[]): number {
  return op === 'depthwiseConv2d' ? shape[2]! * shape[3]! : shape[shape.length - 1]!;
}

/** Multiplies output channel `c` of `d`'s kernel and bias by `scale[c]` and adds `shift[c]` to the bias. */
function foldAffine(d: Draft, scale: Float64Array, shift: Float64Array): void {
  const k = d.kernel!;
  // Row-major kernels have the output channel as the fastest-varying index (depthwise: c * mult + m).
  const cout = outChannels(d.op, k.shape);
  if (scale.length !== cout) {
    bad(
      `op "${d.name}": cannot fold an affine/BatchNorm of ${scale.length} channels into ${cout} output channels`,
    );
  }
  if (k.encoding === 'float32') {
    const v = Float64Array.from(k.values);
    for (let i = 0; i < v.length; i++) v[i] = v[i]! * scale[i % cout]!;
    k.values = v;
  } else if (
    k.scale !== undefined ||
    (k.positive.length === 1 &&
      k.negative.length === 1 &&
      Math.fround(k.positive[0]!) !== Math.fround(k.negative[0]!))
  ) {
    // Per-layer asymmetric levels (TTQ's Wp, Wn): keep them per layer and
    // store the factor once per channel (cout + 2 values instead of 2 cout).
    const s = new Float64Array(cout);
    for (let c = 0; c < cout; c++) s[c] = (k.scale ? k.scale[c]! : 1) * scale[c]!;
    k.scale = s;
  } else {
    const pos = new Float64Array(cout);
    const neg = new Float64Array(cout);
    for (let c = 0; c < cout; c++) {
      pos[c] = (k.positive.length === 1 ? k.positive[0]! : k.positive[c]!) * scale[c]!;
      neg[c] = (k.negative.length === 1 ? k.negative[0]! : k.negative[c]!) * scale[c]!;
    }
    k.positive = pos;
    k.negative = neg;
  }
  const bias = new Float64Array(cout);
  for (let c = 0; c < cout; c++) bias[c] = (d.bias ? d.bias[c]! : 0) * scale[c]! + shift[c]!;
  d.bias = bias;
}

class BinaryWriter {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  /** Appends `bytes` at the next multiple of {@link TENSOR_ALIGNMENT} (zero padding before). */
  add(bytes: Uint8Array): TensorRef {
    const pad = (TENSOR_ALIGNMENT - (this.length % TENSOR_ALIGNMENT)) % TENSOR_ALIGNMENT;
    if (pad > 0) {
      this.chunks.push(new Uint8Array(pad));
      this.length += pad;
    }
    const ref: TensorRef = [this.length, bytes.length, crc32Hex(crc32(bytes))];
    this.chunks.push(bytes);
    this.length += bytes.length;
    return ref;
  }

  /**
   * Appends `values` as float32. Every one must stay finite in float32: the
   * inputs are checked finite, but a folded BatchNorm multiplies them (in
   * float64), and a product beyond float32's range (3.4e38) would be written
   * as Infinity, a file the reader refuses.
   */
  addFloat(values: ArrayLike<number>, tensor: string): TensorRef {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(Math.fround(v))) {
        throw new TritFormatError(
          'non-finite',
          `tensor "${tensor}" would hold ${Math.fround(v)} at index ${i}: ${v} does not fit in float32 ` +
            '(a folded BatchNorm scale too large for the weights?)',
        );
      }
      view.setFloat32(4 * i, v, true);
    }
    return this.add(out);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

/**
 * Writes a conv2d/dense op's kernel and bias: the float32 values, or the
 * codes (base 3 / bits, row-major) then `positive`, `negative` (only when
 * its float32 values differ from `positive`'s) and `scale` (only when kept
 * apart, see {@link foldAffine}); then the bias.
 */
function writeWeights(
  w: BinaryWriter,
  name: string,
  k: DraftKernel,
  bias: Float64Array | Float32Array | null | undefined,
): { kernel: KernelEntry; tensors: WeightTensors } {
  const withBias = (t: WeightTensors): WeightTensors =>
    bias ? { ...t, bias: w.addFloat(bias, `${name}/bias`) } : t;
  if (k.encoding === 'float32') {
    const kernel: KernelEntry = { encoding: 'float32', shape: k.shape };
    return { kernel, tensors: withBias({ kernel: w.addFloat(k.values, `${name}/kernel`) }) };
  }
  const what = `op "${name}" kernel`;
  const codes = w.add(
    k.bits === 2 ? packTrits(k.codes, k.shape, what) : packBits(k.codes, k.shape, what),
  );
  const positive = w.addFloat(k.positive, `${name}/positive`);
  // Symmetric levels (TWN, SQ, HLA, BWN; also after folding a BatchNorm into
  // them) are stored once: an absent `negative` means "equal to positive".
  const negative = sameFloat32(k.positive, k.negative)
    ? {}
    : { negative: w.addFloat(k.negative, `${name}/negative`) };
  const scale = k.scale ? { scale: w.addFloat(k.scale, `${name}/scale`) } : {};
  const kernel: KernelEntry = {
    encoding: k.encoding,
    ...(k.quantizer !== null ? { quantizer: k.quantizer } : {}),
    shape: k.shape,
  };
  return { kernel, tensors: withBias({ codes, positive, ...negative, ...scale }) };
}

/** Whether `a` and `b` have the same length and the same values once rounded to float32. */
function sameFloat32(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.fround(a[i]!) !== Math.fround(b[i]!)) return false;
  return true;
}

/** Checks each op of `graph` and turns it into a draft; op names must be unique. */
function draftOps(graph: GraphSpec): Draft[] {
  if (
    typeof graph !== 'object' ||
    graph === null ||
    !Array.isArray(graph.ops) ||
    graph.ops.length === 0
  ) {
    bad('graph.ops must be a non-empty array of ops');
  }
  const drafts = graph.ops.map(draft);
  const seen = new Set<string>();
  for (const d of drafts) {
    if (seen.has(d.name)) bad(`op name "${d.name}" is used twice`);
    seen.add(d.name);
  }
  return drafts;
}

/**
 * Merges each op into the one before it where {@link EncodeOptions} allow:
 * when it is that op's only consumer (and not a model output) and that op
 * has no activation yet, a BatchNorm/affine is folded into a conv2d/dense,
 * a ReLU fused into a conv2d/dense/affine/add, a softmax into a
 * conv2d/dense. The absorbing draft records the merged names in `fused`.
 * Returns the drafts that remain, in order.
 */
function mergeOps(
  drafts: readonly Draft[],
  outputs: readonly string[],
  options: EncodeOptions,
): Draft[] {
  const foldBn = options.foldBatchNorm ?? true;
  const fuseAct = options.fuseActivations ?? true;
  const uses = new Map<string, number>();
  for (const d of drafts) for (const n of d.inputs) uses.set(n, (uses.get(n) ?? 0) + 1);
  for (const o of outputs) uses.set(o, (uses.get(o) ?? 0) + 1);

  const kept: Draft[] = [];
  const byName = new Map<string, Draft>();
  for (const d of drafts) {
    const src = d.inputs.length === 1 ? byName.get(d.inputs[0]!) : undefined;
    if (src && uses.get(d.inputs[0]!) === 1 && src.activation === 'linear') {
      const weighted = src.op === 'conv2d' || src.op === 'depthwiseConv2d' || src.op === 'dense';
      let merged = false;
      if (d.op === 'affine' && foldBn && weighted) {
        foldAffine(src, d.scale!, d.shift!);
        merged = true;
      } else if (
        d.op === 'relu' &&
        fuseAct &&
        (weighted || src.op === 'affine' || src.op === 'add')
      ) {
        src.activation = 'relu';
        merged = true;
      } else if (d.op === 'softmax' && fuseAct && weighted) {
        src.activation = 'softmax';
        merged = true;
      }
      if (merged) {
        src.fused.push(d.name);
        byName.set(d.name, src);
        continue;
      }
    }
    kept.push(d);
    byName.set(d.name, d);
  }
  return kept;
}

/** The manifest entry of draft `d`, its tensors appended to `w`; fields at their default left out. */
function opEntry(d: Draft, w: BinaryWriter): OpEntry {
  const fused = d.fused.length > 0 ? { fused: d.fused } : {};
  const base = { name: d.name };
  const a = d.attrs;
  const act = d.activation && d.activation !== 'linear' ? { activation: d.activation } : {};
  switch (d.op) {
    case 'input':
      return { ...base, op: 'input', shape: a.shape as number[] };
    case 'conv2d':
    case 'depthwiseConv2d':
    case 'dense': {
      const inputs = [d.inputs[0]!] as [string];
      const { kernel, tensors } = writeWeights(w, d.name, d.kernel!, d.bias);
      if (d.op === 'dense')
        return { ...base, op: 'dense', inputs, kernel, ...act, ...fused, tensors };
      const strides = a.strides as [number, number];
      return {
        ...base,
        op: d.op,
        inputs,
        kernel,
        ...(strides[0] === 1 && strides[1] === 1 ? {} : { strides }),
        padding: a.padding as 'same' | 'valid',
        ...(act as { activation?: 'relu' | 'softmax' }),
        ...fused,
        tensors,
      };
    }
    case 'affine':
      return {
        ...base,
        op: 'affine',
        inputs: [d.inputs[0]!],
        ...(act as { activation?: 'relu' }),
        ...fused,
        tensors: {
          scale: w.addFloat(d.scale!, `${d.name}/scale`),
          shift: w.addFloat(d.shift!, `${d.name}/shift`),
        },
      };
    case 'add':
      return {
        ...base,
        op: 'add',
        inputs: d.inputs,
        ...(act as { activation?: 'relu' }),
        ...fused,
      };
    case 'maxPool':
    case 'avgPool':
      return {
        ...base,
        op: d.op,
        inputs: [d.inputs[0]!],
        poolSize: a.poolSize as [number, number],
        strides: a.strides as [number, number],
        padding: a.padding as 'same' | 'valid',
        ...fused,
      };
    case 'zeroPad': {
      const padding = a.padding as [[number, number], [number, number]];
      const channels = a.channels as [number, number];
      return {
        ...base,
        op: 'zeroPad',
        inputs: [d.inputs[0]!],
        ...(padding.flat().every((v) => v === 0) ? {} : { padding }),
        ...(channels[0] === 0 && channels[1] === 0 ? {} : { channels }),
        ...fused,
      };
    }
    case 'subsample':
      return {
        ...base,
        op: 'subsample',
        inputs: [d.inputs[0]!],
        strides: a.strides as [number, number],
        ...fused,
      };
    case 'concat':
      return { ...base, op: 'concat', inputs: d.inputs, ...fused };
    case 'relu':
    case 'relu6':
    case 'sigmoid':
    case 'tanh':
    case 'softmax':
    case 'flatten':
    case 'globalAvgPool':
    case 'globalMaxPool':
      return { ...base, op: d.op, inputs: [d.inputs[0]!], ...fused };
    default:
      return bad(`op "${d.name}": cannot serialize op ${JSON.stringify(d.op)}`);
  }
}

/** A JSON copy of the graph's metadata (undefined without one); refuses what JSON cannot hold. */
function metadataOf(graph: GraphSpec): Record<string, unknown> | undefined {
  if (graph.metadata === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(graph.metadata)) as Record<string, unknown>;
  } catch (e) {
    return bad(`graph.metadata is not JSON-serializable: ${(e as Error).message}`);
  }
}

/**
 * Encodes a model description into the trit format: a manifest (format
 * `trit-model`, version 2, see docs/format.md) and one binary holding every
 * tensor, 4-byte aligned. Ternary codes take 1.6 bits per weight (5 base-3
 * digits per byte), binary codes 1 bit, scales and full-precision tensors
 * float32. Fields at their default value are left out of the manifest.
 *
 * BatchNorms are folded into the preceding conv/dense and ReLUs fused where
 * possible (see {@link EncodeOptions}); the manifest records what was merged
 * in each op's `fused` list. The graph is checked (references, shapes,
 * codes, finite values) and a {@link TritFormatError} names what is wrong.
 */
export function encodeModel(graph: GraphSpec, options: EncodeOptions = {}): EncodedModel {
  const drafts = draftOps(graph);
  const outputs = graph.outputs ? [...graph.outputs] : [graph.ops[graph.ops.length - 1]!.name];
  const kept = mergeOps(drafts, outputs, options);
  const w = new BinaryWriter();
  const ops = kept.map((d) => opEntry(d, w));
  const binary = w.bytes();
  const metadata = metadataOf(graph);
  const draftManifest = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    producer: `@trit/runtime ${RUNTIME_VERSION}`,
    binary: {
      file: options.binaryFile ?? 'model.bin',
      byteLength: binary.length,
      crc32: crc32Hex(crc32(binary)),
    },
    ops,
    outputs,
    ...(metadata ? { metadata } : {}),
  };
  // The same checks the reader runs: the encoder never writes a model it cannot load.
  const manifest = parseManifest(draftManifest);
  checkGraph(manifest);
  return { manifest, binary };
}
