/**
 * The JSON manifest of the trit model format, version 2, and its strict
 * parser. The format is specified in docs/format.md; keep the two in step.
 *
 * Version 2 keeps each op's tensors with the op (`tensors`: role ->
 * `[byteOffset, byteLength, crc32]`): a tensor's name (`<op>/<role>`),
 * storage type and shape follow from the op, so the manifest does not
 * repeat them. Fields with a default may be left out. Version 1 (one tensor
 * table with names, dtypes and shapes, 2-bit codes in the file) was never
 * released and is not read.
 */
import { TritFormatError } from './errors.js';

/** Value of the manifest's `format` field. */
export const FORMAT_NAME = 'trit-model';
/** The format version this library writes. */
export const FORMAT_VERSION = 2;
/** Format versions this reader accepts. */
export const SUPPORTED_VERSIONS: readonly number[] = [2];
/** Every tensor starts at a multiple of this many bytes in the binary (float32 can be viewed in place). */
export const TENSOR_ALIGNMENT = 4;

/**
 * Default size limit of a manifest, in bytes (4 MiB): loaders refuse a larger
 * one before reading or parsing it (`TritFormatError` code `too-large`), and
 * `saveModel` refuses to write one. A ResNet-20 manifest takes 7.7 KB, so the
 * limit leaves room for graphs with thousands of ops and large metadata,
 * while bounding what parsing can cost: `JSON.parse` of 4 MiB of nested
 * arrays peaks at about 270 MB of memory (a 200 MB one at 11 GB). Raise it
 * with the loaders' `maxManifestBytes` option.
 */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** The size limit in force: `maxManifestBytes` when given (a positive integer), else the default. */
export function manifestLimit(maxManifestBytes: number | undefined): number {
  if (maxManifestBytes === undefined) return MAX_MANIFEST_BYTES;
  if (!Number.isSafeInteger(maxManifestBytes) || maxManifestBytes < 1) {
    throw new TritFormatError(
      'bad-input',
      `maxManifestBytes must be a positive integer, got ${show(maxManifestBytes)}`,
    );
  }
  return maxManifestBytes;
}

/** The `too-large` error for the manifest `where` of `size` (e.g. `5000000 bytes`). */
export function manifestTooLarge(where: string, size: string, limit: number): TritFormatError {
  return new TritFormatError(
    'too-large',
    `the manifest ${where} is ${size}, over the ${limit}-byte limit of a trit model manifest ` +
      '(a ResNet-20 manifest takes about 8 KB); not reading it. If it is a genuine manifest, ' +
      'pass { maxManifestBytes } to raise the limit',
  );
}

/**
 * Whether `name` is a plain file name the binary may have: ASCII letters,
 * digits, `.`, `_` and `-` only, and not `.` or `..`. Such a name resolves
 * next to the manifest whether it is joined to a folder or to a URL (no path
 * separator, no scheme, host, query, fragment or percent-encoding), so a
 * manifest can never point a loader at another folder or another host.
 */
export function isPlainFileName(name: string): boolean {
  return /^[A-Za-z0-9._-]+$/.test(name) && name !== '.' && name !== '..';
}

/**
 * Where one tensor lies in the binary and its checksum:
 * `[byteOffset, byteLength, crc32]`, the CRC-32 as 8 lower-case hex digits.
 */
export type TensorRef = readonly [byteOffset: number, byteLength: number, crc32: string];

/** How a conv2d/dense kernel is stored. */
export type KernelEncoding = 'float32' | 'ternary' | 'binary';

/**
 * A conv2d/dense kernel. Its bytes are the op's tensors: `kernel` (float32)
 * or `codes`, `positive`, optional `negative` and `scale` (ternary, binary).
 */
export interface KernelEntry {
  readonly encoding: KernelEncoding;
  /** Registry name of the quantizer that trained a quantized kernel (`'ttq'`, `'twn'`, ...); informative. */
  readonly quantizer?: string;
  /** Kernel shape, output channel last: conv `[kh, kw, cin, cout]`, dense `[in, out]`. */
  readonly shape: readonly number[];
}

/**
 * The tensors of a conv2d/dense op, by role.
 * - float32 kernel: `kernel` (the values, shape = kernel shape).
 * - ternary/binary kernel: `codes` (the packed codes), `positive` (the
 *   magnitude of the +1 level, length 1 or cout), `negative` (of the -1
 *   level, length 1 or cout; absent = equal to `positive`), `scale`
 *   (optional per-channel factor of both levels, length 1 or cout: a
 *   BatchNorm folded into per-layer asymmetric levels).
 * - `bias` (length cout), optional for both.
 */
export interface WeightTensors {
  readonly kernel?: TensorRef;
  readonly codes?: TensorRef;
  readonly positive?: TensorRef;
  readonly negative?: TensorRef;
  readonly scale?: TensorRef;
  readonly bias?: TensorRef;
}

/** Activation applied by an op after its main computation. */
export type FusedActivation = 'linear' | 'relu' | 'softmax';

interface OpEntryBase {
  readonly name: string;
  /**
   * Names of graph-description ops merged into this one at export (a folded
   * BatchNorm, a fused ReLU), in order. The last one's name also refers to
   * this op's output. Absent = none.
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
  /** Default `[1, 1]`. */
  readonly strides?: readonly [number, number];
  readonly padding: 'same' | 'valid';
  /** Default `'linear'`. */
  readonly activation?: FusedActivation;
  readonly tensors: WeightTensors;
}
/** A depthwise conv: a conv's fields; its kernel is always float32 (`[kh, kw, cin, multiplier]`). */
export interface DepthwiseConv2DEntry extends Omit<Conv2DEntry, 'op'> {
  readonly op: 'depthwiseConv2d';
}
export interface DenseEntry extends OpEntryBase {
  readonly op: 'dense';
  readonly inputs: readonly [string];
  readonly kernel: KernelEntry;
  /** Default `'linear'`. */
  readonly activation?: FusedActivation;
  readonly tensors: WeightTensors;
}
export interface AffineEntry extends OpEntryBase {
  readonly op: 'affine';
  readonly inputs: readonly [string];
  /** Default `'linear'`. */
  readonly activation?: 'linear' | 'relu';
  /** `scale` and `shift`, one float32 per channel. */
  readonly tensors: { readonly scale: TensorRef; readonly shift: TensorRef };
}
export interface AddEntry extends OpEntryBase {
  readonly op: 'add';
  readonly inputs: readonly string[];
  /** Default `'linear'`. */
  readonly activation?: 'linear' | 'relu';
}
export interface UnaryEntry extends OpEntryBase {
  readonly op: UnaryOp;
  readonly inputs: readonly [string];
}
/** Concatenation along the last axis. */
export interface ConcatEntry extends OpEntryBase {
  readonly op: 'concat';
  readonly inputs: readonly string[];
}

/** The ops with one input and no fields of their own. */
export const UNARY_OPS = [
  'relu',
  'relu6',
  'sigmoid',
  'tanh',
  'softmax',
  'flatten',
  'globalAvgPool',
  'globalMaxPool',
] as const;
/** One of {@link UNARY_OPS}. */
export type UnaryOp = (typeof UNARY_OPS)[number];
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
  /** `[[top, bottom], [left, right]]`; default all 0. */
  readonly padding?: readonly [readonly [number, number], readonly [number, number]];
  /** `[before, after]` zero channels; default `[0, 0]`. */
  readonly channels?: readonly [number, number];
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
  | DepthwiseConv2DEntry
  | DenseEntry
  | AffineEntry
  | AddEntry
  | UnaryEntry
  | ConcatEntry
  | Pool2DEntry
  | ZeroPadEntry
  | SubsampleEntry;

/** Every op type of format version 2. */
export const OP_TYPES: readonly OpEntry['op'][] = [
  'input',
  'conv2d',
  'depthwiseConv2d',
  'dense',
  'affine',
  'add',
  'concat',
  ...UNARY_OPS,
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
  /** Ops in execution order, each with its tensors. */
  readonly ops: readonly OpEntry[];
  /** Names of the ops whose results the model returns. */
  readonly outputs: readonly string[];
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** The activation of an op, with the default applied. */
export function activationOf(op: OpEntry): FusedActivation {
  return 'activation' in op && op.activation !== undefined ? op.activation : 'linear';
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

const CRC_HEX = /^[0-9a-f]{8}$/;

function tensorRef(v: unknown, path: string): TensorRef {
  if (!Array.isArray(v) || v.length !== 3) fail(path, '[byteOffset, byteLength, "crc32"]', v);
  const crc = v[2];
  if (typeof crc !== 'string' || !CRC_HEX.test(crc))
    fail(`${path}[2]`, 'a CRC-32 as 8 lower-case hex digits', crc);
  return [int(v[0], `${path}[0]`, 0), int(v[1], `${path}[1]`, 0), crc];
}

/**
 * The op's `tensors` object: exactly the `required` roles, any of the
 * `optional` ones, nothing else (a role this reader does not know holds
 * bytes it would ignore, which only a newer format version may add).
 */
function tensors(
  v: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[],
): Record<string, TensorRef> {
  const t = obj(v, path);
  const out: Record<string, TensorRef> = {};
  for (const role of Object.keys(t)) {
    if (!required.includes(role) && !optional.includes(role)) {
      const known = [...required, ...optional].map((r) => `'${r}'`).join(', ');
      throw new TritFormatError(
        'bad-manifest',
        `${path}.${role}: unknown tensor role for this op (expected ${known})`,
      );
    }
    out[role] = tensorRef(t[role], `${path}.${role}`);
  }
  for (const role of required) {
    if (!(role in out))
      fail(`${path}.${role}`, 'a tensor [byteOffset, byteLength, "crc32"]', undefined);
  }
  return out;
}

function parseKernel(v: unknown, path: string): KernelEntry {
  const k = obj(v, path);
  const encoding = oneOf(k.encoding, `${path}.encoding`, ['float32', 'ternary', 'binary'] as const);
  const shp = shape(k.shape, `${path}.shape`);
  if (k.quantizer === undefined) return { encoding, shape: shp };
  if (encoding === 'float32')
    fail(`${path}.quantizer`, 'no quantizer for a float32 kernel', k.quantizer);
  return { encoding, quantizer: str(k.quantizer, `${path}.quantizer`), shape: shp };
}

function weightTensors(v: unknown, path: string, kernel: KernelEntry): WeightTensors {
  return kernel.encoding === 'float32'
    ? tensors(v, path, ['kernel'], ['bias'])
    : tensors(v, path, ['codes', 'positive'], ['negative', 'scale', 'bias']);
}

/** `value` under `key` in `entry`, when the manifest gives it (optional fields stay absent). */
function opt<T>(o: Obj, key: string, parse: (v: unknown) => T): Record<string, T> {
  return o[key] === undefined ? {} : { [key]: parse(o[key]) };
}

function parseOp(v: unknown, path: string): OpEntry {
  const entry = parseOpFields(v, path);
  const o = v as Obj;
  const at = `${path} ("${entry.name}")`;
  if (o.tensors !== undefined && !('tensors' in entry))
    fail(`${at}.tensors`, `no tensors for an op of type ${entry.op}`, o.tensors);
  const fused = o.fused;
  if (fused === undefined) return entry;
  if (!Array.isArray(fused)) fail(`${at}.fused`, 'an array of names', fused);
  const list = fused.map((s, i) => str(s, `${at}.fused[${i}]`));
  // Key order as the writer writes it: ..., fused, tensors.
  if (!('tensors' in entry)) return { ...entry, fused: list };
  const { tensors: t, ...rest } = entry;
  return { ...rest, fused: list, tensors: t } as OpEntry;
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
  const single = () => names(o.inputs, `${at}.inputs`, 1) as [string];
  switch (op) {
    case 'input':
      return { ...base, op, shape: shape(o.shape, `${at}.shape`) };
    case 'conv2d':
    case 'depthwiseConv2d': {
      const kernel = parseKernel(o.kernel, `${at}.kernel`);
      if (op === 'depthwiseConv2d' && kernel.encoding !== 'float32')
        fail(
          `${at}.kernel.encoding`,
          "'float32' (depthwise kernels are float only)",
          kernel.encoding,
        );
      return {
        ...base,
        op,
        inputs: single(),
        kernel,
        ...opt(o, 'strides', (s) => pair(s, `${at}.strides`, 1)),
        padding: oneOf(o.padding, `${at}.padding`, ['same', 'valid'] as const),
        ...opt(o, 'activation', (a) => oneOf(a, `${at}.activation`, act3)),
        tensors: weightTensors(o.tensors, `${at}.tensors`, kernel),
      };
    }
    case 'dense': {
      const kernel = parseKernel(o.kernel, `${at}.kernel`);
      return {
        ...base,
        op,
        inputs: single(),
        kernel,
        ...opt(o, 'activation', (a) => oneOf(a, `${at}.activation`, act3)),
        tensors: weightTensors(o.tensors, `${at}.tensors`, kernel),
      };
    }
    case 'affine': {
      const t = tensors(o.tensors, `${at}.tensors`, ['scale', 'shift'], []);
      return {
        ...base,
        op,
        inputs: single(),
        ...opt(o, 'activation', (a) => oneOf(a, `${at}.activation`, act2)),
        tensors: { scale: t.scale!, shift: t.shift! },
      };
    }
    case 'add':
      return {
        ...base,
        op,
        inputs: names(o.inputs, `${at}.inputs`, 'many'),
        ...opt(o, 'activation', (a) => oneOf(a, `${at}.activation`, act2)),
      };
    case 'concat':
      return { ...base, op, inputs: names(o.inputs, `${at}.inputs`, 'many') };
    case 'relu':
    case 'relu6':
    case 'sigmoid':
    case 'tanh':
    case 'softmax':
    case 'flatten':
    case 'globalAvgPool':
    case 'globalMaxPool':
      return { ...base, op, inputs: single() };
    case 'maxPool':
    case 'avgPool':
      return {
        ...base,
        op,
        inputs: single(),
        poolSize: pair(o.poolSize, `${at}.poolSize`, 1),
        strides: pair(o.strides, `${at}.strides`, 1),
        padding: oneOf(o.padding, `${at}.padding`, ['same', 'valid'] as const),
      };
    case 'zeroPad':
      return {
        ...base,
        op,
        inputs: single(),
        ...opt(o, 'padding', (p) => {
          if (!Array.isArray(p) || p.length !== 2)
            fail(`${at}.padding`, '[[top, bottom], [left, right]]', p);
          return [pair(p[0], `${at}.padding[0]`, 0), pair(p[1], `${at}.padding[1]`, 0)] as const;
        }),
        ...opt(o, 'channels', (c) => pair(c, `${at}.channels`, 0)),
      };
    case 'subsample':
      return { ...base, op, inputs: single(), strides: pair(o.strides, `${at}.strides`, 1) };
  }
}

function binaryFile(v: unknown): string {
  const file = str(v, 'manifest.binary.file');
  if (!isPlainFileName(file)) {
    fail(
      'manifest.binary.file',
      "a plain file name next to the manifest (letters, digits, '.', '_', '-'; no path, URL or '..')",
      file,
    );
  }
  return file;
}

/** Options of {@link parseManifest}. */
export interface ParseManifestOptions {
  /** Size limit of JSON text, in bytes (default {@link MAX_MANIFEST_BYTES}). */
  readonly maxManifestBytes?: number;
}

/**
 * Checks that `json` (a parsed object, or the JSON text) is a manifest this
 * reader understands, field by field, and returns it typed (fields left out
 * for their default stay absent). Checks the format name and version first:
 * a manifest of another version is reported as such, not as a list of
 * unexpected fields. Cross-references (op inputs, tensor sizes against
 * shapes, tensor extents) are checked by {@link decodeModel}. JSON text
 * longer than the size limit is refused before parsing (`too-large`), and
 * `binary.file` must be a plain file name ({@link isPlainFileName}).
 */
export function parseManifest(json: unknown, options: ParseManifestOptions = {}): Manifest {
  let value = json;
  if (typeof json === 'string') {
    const limit = manifestLimit(options.maxManifestBytes);
    // UTF-8 takes at least one byte per UTF-16 unit: a text within the limit always passes.
    if (json.length > limit) {
      throw manifestTooLarge('text', `at least ${json.length} bytes`, limit);
    }
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
  if (typeof binCrc !== 'string' || !CRC_HEX.test(binCrc)) {
    fail('manifest.binary.crc32', '8 lower-case hex digits', binCrc);
  }
  if (!Array.isArray(m.ops) || m.ops.length === 0) fail('manifest.ops', 'a non-empty array', m.ops);
  if (!Array.isArray(m.outputs) || m.outputs.length === 0) {
    fail('manifest.outputs', 'a non-empty array of op names', m.outputs);
  }
  if (m.metadata !== undefined) obj(m.metadata, 'manifest.metadata');
  const manifest: Manifest = {
    format: FORMAT_NAME,
    version: m.version,
    producer: typeof m.producer === 'string' ? m.producer : 'unknown',
    binary: {
      file: binaryFile(bin.file),
      byteLength: int(bin.byteLength, 'manifest.binary.byteLength', 0),
      crc32: binCrc,
    },
    ops: m.ops.map((o, i) => parseOp(o, `manifest.ops[${i}]`)),
    outputs: m.outputs.map((s, i) => str(s, `manifest.outputs[${i}]`)),
  };
  return m.metadata === undefined ? manifest : { ...manifest, metadata: m.metadata as Obj };
}
