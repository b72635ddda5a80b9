/**
 * The JSON manifest of the trit model format, version 1, and its strict
 * parser. The format is specified in docs/format.md; keep the two in step.
 */
import { TritFormatError } from './errors.js';

/** Value of the manifest's `format` field. */
export const FORMAT_NAME = 'trit-model';
/** The format version this library writes. */
export const FORMAT_VERSION = 1;
/** Format versions this reader accepts. */
export const SUPPORTED_VERSIONS: readonly number[] = [1];
/** Every tensor starts at a multiple of this many bytes in the binary. */
export const TENSOR_ALIGNMENT = 8;

/**
 * Storage type of a tensor in the binary.
 * - `float32`: IEEE-754 single, little-endian, row-major.
 * - `ternary2`: 2 bits per weight in the `bitplane8` layout (pack.ts).
 * - `binary1`: 1 bit per weight in the `bitplane8` layout.
 */
export type TensorDType = 'float32' | 'ternary2' | 'binary1';

/** Where one tensor lives in the binary, and its checksum. */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: TensorDType;
  /** Logical shape (for codes: the kernel's shape, not the packed bytes'). */
  readonly shape: readonly number[];
  readonly byteOffset: number;
  readonly byteLength: number;
  /** CRC-32 of the tensor's `byteLength` bytes, 8 lower-case hex digits. */
  readonly crc32: string;
}

/** A kernel kept in full precision. */
export interface FloatKernelEntry {
  readonly encoding: 'float32';
  readonly bits: 32;
  readonly shape: readonly number[];
  /** Tensor (`float32`) with the values. */
  readonly values: string;
}

/** A ternary or binary kernel: packed codes plus the magnitudes of its levels. */
export interface QuantizedKernelEntry {
  readonly encoding: 'ternary' | 'binary';
  /** 2 for ternary, 1 for binary. */
  readonly bits: 2 | 1;
  /** Registry name of the quantizer that trained it (`'ttq'`, `'twn'`, `'sq'`, ...), or null. */
  readonly quantizer: string | null;
  readonly shape: readonly number[];
  /** Tensor (`ternary2` / `binary1`) with the packed codes. */
  readonly codes: string;
  /** Tensor (`float32`, length 1 or cout) with the magnitude of the +1 level. */
  readonly positive: string;
  /** Tensor (`float32`, length 1 or cout) with the magnitude of the -1 level. */
  readonly negative: string;
}

export type KernelEntry = FloatKernelEntry | QuantizedKernelEntry;

/** Activation applied by an op after its main computation. */
export type FusedActivation = 'linear' | 'relu' | 'softmax';

interface OpEntryBase {
  readonly name: string;
  /**
   * Names of graph-description ops merged into this one at export (a folded
   * BatchNorm, a fused ReLU), in order. The last one's name also refers to
   * this op's output.
   */
  readonly fused?: readonly string[];
}

export interface InputEntry extends OpEntryBase {
  readonly op: 'input';
  readonly shape: readonly number[];
}
export interface Conv2DEntry extends OpEntryBase {
  readonly op: 'conv2d';
  readonly inputs: readonly [string];
  readonly kernel: KernelEntry;
  readonly bias: string | null;
  readonly strides: readonly [number, number];
  readonly padding: 'same' | 'valid';
  readonly activation: FusedActivation;
}
export interface DenseEntry extends OpEntryBase {
  readonly op: 'dense';
  readonly inputs: readonly [string];
  readonly kernel: KernelEntry;
  readonly bias: string | null;
  readonly activation: FusedActivation;
}
export interface AffineEntry extends OpEntryBase {
  readonly op: 'affine';
  readonly inputs: readonly [string];
  readonly scale: string;
  readonly shift: string;
  readonly activation: 'linear' | 'relu';
}
export interface AddEntry extends OpEntryBase {
  readonly op: 'add';
  readonly inputs: readonly string[];
  readonly activation: 'linear' | 'relu';
}
export interface UnaryEntry extends OpEntryBase {
  readonly op: 'relu' | 'softmax' | 'flatten' | 'globalAvgPool';
  readonly inputs: readonly [string];
}
export interface Pool2DEntry extends OpEntryBase {
  readonly op: 'maxPool' | 'avgPool';
  readonly inputs: readonly [string];
  readonly poolSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: 'same' | 'valid';
}
export interface ZeroPadEntry extends OpEntryBase {
  readonly op: 'zeroPad';
  readonly inputs: readonly [string];
  /** `[[top, bottom], [left, right]]`. */
  readonly padding: readonly [readonly [number, number], readonly [number, number]];
  /** `[before, after]` zero channels. */
  readonly channels: readonly [number, number];
}
export interface SubsampleEntry extends OpEntryBase {
  readonly op: 'subsample';
  readonly inputs: readonly [string];
  readonly strides: readonly [number, number];
}

/** One op of the manifest's graph. */
export type OpEntry =
  | InputEntry
  | Conv2DEntry
  | DenseEntry
  | AffineEntry
  | AddEntry
  | UnaryEntry
  | Pool2DEntry
  | ZeroPadEntry
  | SubsampleEntry;

/** Every op type of format version 1. */
export const OP_TYPES: readonly OpEntry['op'][] = [
  'input',
  'conv2d',
  'dense',
  'affine',
  'add',
  'relu',
  'softmax',
  'flatten',
  'globalAvgPool',
  'maxPool',
  'avgPool',
  'zeroPad',
  'subsample',
];

/** The manifest: everything but the tensor bytes. */
export interface Manifest {
  readonly format: typeof FORMAT_NAME;
  readonly version: number;
  /** Who wrote the file, e.g. `@trit/runtime 0.1.0`. */
  readonly producer: string;
  readonly binary: {
    /** File name of the binary, relative to the manifest. */
    readonly file: string;
    readonly byteLength: number;
    /** CRC-32 of the whole binary (including alignment padding). */
    readonly crc32: string;
  };
  /** Ops in execution order. */
  readonly ops: readonly OpEntry[];
  /** Names of the ops whose results the model returns. */
  readonly outputs: readonly string[];
  readonly tensors: readonly TensorEntry[];
  readonly metadata?: Readonly<Record<string, unknown>>;
}

// ---------------------------------------------------------------------------
// Strict parsing: every field checked, errors name the path and the value.

type Obj = Record<string, unknown>;

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function fail(path: string, expected: string, got: unknown): never {
  throw new TritFormatError('bad-manifest', `${path}: expected ${expected}, got ${show(got)}`);
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object', v);
  return v as Obj;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(path, 'a non-empty string', v);
  return v;
}

function int(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    fail(path, `an integer >= ${min}`, v);
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) {
    fail(path, `one of ${values.map((x) => `'${x}'`).join(', ')}`, v);
  }
  return v as T;
}

function shape(v: unknown, path: string): number[] {
  if (!Array.isArray(v)) fail(path, 'an array of positive integers', v);
  return v.map((d, i) => int(d, `${path}[${i}]`, 1));
}

function pair(v: unknown, path: string, min: number): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) fail(path, `[int >= ${min}, int >= ${min}]`, v);
  return [int(v[0], `${path}[0]`, min), int(v[1], `${path}[1]`, min)];
}

function names(v: unknown, path: string, count: number | 'many'): string[] {
  if (!Array.isArray(v)) fail(path, 'an array of op names', v);
  if (count === 'many' ? v.length < 2 : v.length !== count) {
    fail(path, count === 'many' ? 'two or more op names' : `exactly ${count} op name(s)`, v);
  }
  return v.map((s, i) => str(s, `${path}[${i}]`));
}

function parseKernel(v: unknown, path: string): KernelEntry {
  const k = obj(v, path);
  const encoding = oneOf(k.encoding, `${path}.encoding`, ['float32', 'ternary', 'binary'] as const);
  const shp = shape(k.shape, `${path}.shape`);
  if (encoding === 'float32') {
    if (k.bits !== 32) fail(`${path}.bits`, '32 for a float32 kernel', k.bits);
    return { encoding, bits: 32, shape: shp, values: str(k.values, `${path}.values`) };
  }
  const bits = encoding === 'ternary' ? 2 : 1;
  if (k.bits !== bits) fail(`${path}.bits`, `${bits} for a ${encoding} kernel`, k.bits);
  if (k.quantizer !== null && typeof k.quantizer !== 'string') {
    fail(`${path}.quantizer`, 'a string or null', k.quantizer);
  }
  return {
    encoding,
    bits,
    quantizer: k.quantizer as string | null,
    shape: shp,
    codes: str(k.codes, `${path}.codes`),
    positive: str(k.positive, `${path}.positive`),
    negative: str(k.negative, `${path}.negative`),
  };
}

function parseOp(v: unknown, path: string): OpEntry {
  const entry = parseOpFields(v, path);
  const fused = (v as Obj).fused;
  if (fused === undefined) return entry;
  const at = `${path} ("${entry.name}")`;
  if (!Array.isArray(fused)) fail(`${at}.fused`, 'an array of names', fused);
  return { ...entry, fused: fused.map((s, i) => str(s, `${at}.fused[${i}]`)) };
}

function parseOpFields(v: unknown, path: string): OpEntry {
  const o = obj(v, path);
  const name = str(o.name, `${path}.name`);
  const at = `${path} ("${name}")`;
  if (typeof o.op !== 'string' || !OP_TYPES.includes(o.op as OpEntry['op'])) {
    throw new TritFormatError(
      'unknown-op',
      `${at}: unknown op ${show(o.op)}; this runtime supports ${OP_TYPES.join(', ')}`,
    );
  }
  const op = o.op as OpEntry['op'];
  const base = { name };
  const act2 = ['linear', 'relu'] as const;
  const act3 = ['linear', 'relu', 'softmax'] as const;
  switch (op) {
    case 'input':
      return { ...base, op, shape: shape(o.shape, `${at}.shape`) };
    case 'conv2d':
      return {
        ...base,
        op,
        inputs: names(o.inputs, `${at}.inputs`, 1) as [string],
        kernel: parseKernel(o.kernel, `${at}.kernel`),
        bias: o.bias === null ? null : str(o.bias, `${at}.bias`),
        strides: pair(o.strides, `${at}.strides`, 1),
        padding: oneOf(o.padding, `${at}.padding`, ['same', 'valid'] as const),
        activation: oneOf(o.activation, `${at}.activation`, act3),
      };
    case 'dense':
      return {
        ...base,
        op,
        inputs: names(o.inputs, `${at}.inputs`, 1) as [string],
        kernel: parseKernel(o.kernel, `${at}.kernel`),
        bias: o.bias === null ? null : str(o.bias, `${at}.bias`),
        activation: oneOf(o.activation, `${at}.activation`, act3),
      };
    case 'affine':
      return {
        ...base,
        op,
        inputs: names(o.inputs, `${at}.inputs`, 1) as [string],
        scale: str(o.scale, `${at}.scale`),
        shift: str(o.shift, `${at}.shift`),
        activation: oneOf(o.activation, `${at}.activation`, act2),
      };
    case 'add':
      return {
        ...base,
        op,
        inputs: names(o.inputs, `${at}.inputs`, 'many'),
        activation: oneOf(o.activation, `${at}.activation`, act2),
      };
    case 'relu':
    case 'softmax':
    case 'flatten':
    case 'globalAvgPool':
      return { ...base, op, inputs: names(o.inputs, `${at}.inputs`, 1) as [string] };
    case 'maxPool':
    case 'avgPool':
      return {
        ...base,
        op,
        inputs: names(o.inputs, `${at}.inputs`, 1) as [string],
        poolSize: pair(o.poolSize, `${at}.poolSize`, 1),
        strides: pair(o.strides, `${at}.strides`, 1),
        padding: oneOf(o.padding, `${at}.padding`, ['same', 'valid'] as const),
      };
    case 'zeroPad': {
      if (!Array.isArray(o.padding) || o.padding.length !== 2) {
        fail(`${at}.padding`, '[[top, bottom], [left, right]]', o.padding);
      }
      return {
        ...base,
        op,
        inputs: names(o.inputs, `${at}.inputs`, 1) as [string],
        padding: [
          pair(o.padding[0], `${at}.padding[0]`, 0),
          pair(o.padding[1], `${at}.padding[1]`, 0),
        ],
        channels: pair(o.channels, `${at}.channels`, 0),
      };
    }
    case 'subsample':
      return {
        ...base,
        op,
        inputs: names(o.inputs, `${at}.inputs`, 1) as [string],
        strides: pair(o.strides, `${at}.strides`, 1),
      };
  }
}

function parseTensor(v: unknown, path: string): TensorEntry {
  const t = obj(v, path);
  const name = str(t.name, `${path}.name`);
  const at = `${path} ("${name}")`;
  const crc = t.crc32;
  if (typeof crc !== 'string' || !/^[0-9a-f]{8}$/.test(crc))
    fail(`${at}.crc32`, '8 lower-case hex digits', crc);
  return {
    name,
    dtype: oneOf(t.dtype, `${at}.dtype`, ['float32', 'ternary2', 'binary1'] as const),
    shape: shape(t.shape, `${at}.shape`),
    byteOffset: int(t.byteOffset, `${at}.byteOffset`, 0),
    byteLength: int(t.byteLength, `${at}.byteLength`, 0),
    crc32: crc,
  };
}

/**
 * Checks that `json` (a parsed object, or the JSON text) is a manifest this
 * reader understands, field by field, and returns it typed. Checks the
 * format name and version first: a manifest of another version is reported
 * as such, not as a list of unexpected fields. Cross-references (tensor
 * names, op inputs, shapes) are checked by {@link decodeModel}.
 */
export function parseManifest(json: unknown): Manifest {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new TritFormatError(
        'bad-manifest',
        `manifest is not valid JSON: ${(e as Error).message}`,
      );
    }
  }
  const m = obj(value, 'manifest');
  if (m.format !== FORMAT_NAME) {
    throw new TritFormatError(
      'unknown-format',
      `manifest.format is ${show(m.format)}; expected "${FORMAT_NAME}" (is this a trit model manifest?)`,
    );
  }
  if (typeof m.version !== 'number' || !SUPPORTED_VERSIONS.includes(m.version)) {
    throw new TritFormatError(
      'unsupported-version',
      `unsupported trit-model format version ${show(m.version)}; this reader supports version ` +
        `${SUPPORTED_VERSIONS.join(', ')} (a newer @trit/runtime may read it)`,
    );
  }
  const bin = obj(m.binary, 'manifest.binary');
  const binCrc = bin.crc32;
  if (typeof binCrc !== 'string' || !/^[0-9a-f]{8}$/.test(binCrc)) {
    fail('manifest.binary.crc32', '8 lower-case hex digits', binCrc);
  }
  if (!Array.isArray(m.ops) || m.ops.length === 0) fail('manifest.ops', 'a non-empty array', m.ops);
  if (!Array.isArray(m.tensors)) fail('manifest.tensors', 'an array', m.tensors);
  if (!Array.isArray(m.outputs) || m.outputs.length === 0) {
    fail('manifest.outputs', 'a non-empty array of op names', m.outputs);
  }
  if (m.metadata !== undefined) obj(m.metadata, 'manifest.metadata');
  const manifest: Manifest = {
    format: FORMAT_NAME,
    version: m.version,
    producer: typeof m.producer === 'string' ? m.producer : 'unknown',
    binary: {
      file: str(bin.file, 'manifest.binary.file'),
      byteLength: int(bin.byteLength, 'manifest.binary.byteLength', 0),
      crc32: binCrc,
    },
    ops: m.ops.map((o, i) => parseOp(o, `manifest.ops[${i}]`)),
    outputs: m.outputs.map((s, i) => str(s, `manifest.outputs[${i}]`)),
    tensors: m.tensors.map((t, i) => parseTensor(t, `manifest.tensors[${i}]`)),
  };
  return m.metadata === undefined ? manifest : { ...manifest, metadata: m.metadata as Obj };
}
