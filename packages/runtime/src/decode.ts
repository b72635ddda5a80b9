/**
 * Reading a model: manifest + binary to a runnable {@link TritModel}.
 * Everything is checked before anything is built, so a model either loads
 * completely or not at all.
 */
import { crc32, crc32Hex } from './crc32.js';
import { TritFormatError } from './errors.js';
import { checkGraph } from './graph.js';
import { type Backend, type Engine, jsEngine } from './kernels/engine.js';
import { type Manifest, parseManifest, TENSOR_ALIGNMENT } from './manifest.js';
import { type LoadedKernel, TritModel } from './model.js';
import { kernelGeometry, packBinary, packTernary, unpackBits, unpackTrits } from './pack.js';
import { hardwareThreads, WasmEngine, wasmAvailable } from './wasm/engine.js';

/** Options of {@link decodeModel} (and of the loaders, which pass them on). */
export interface DecodeOptions {
  /**
   * Which kernels run the conv2d and dense layers: `'wasm'` (WebAssembly
   * SIMD), `'js'` (TypeScript), or `'auto'` (default): `'wasm'` where it is
   * available, else `'js'`. On a browser's main thread the WebAssembly
   * module must be compiled asynchronously first (`await initWasm()`; the
   * loaders do it); until then `'auto'` picks `'js'`. Both compute in float32
   * from the packed codes and agree to float rounding.
   */
  readonly backend?: 'auto' | Backend;
  /**
   * Most threads one layer may use with the `'wasm'` backend (this one and
   * worker threads sharing the model's memory; Node, or a
   * cross-origin-isolated page). Default `'auto'`: the machine's logical
   * processors, at most 5. Layers under half a million multiply-accumulates
   * always run on the calling thread, and workers start only when a bigger
   * layer first runs, so small models never start any. `1`: no workers.
   */
  readonly threads?: number | 'auto';
}

function engineFor(options: DecodeOptions): Engine {
  const b = options.backend ?? 'auto';
  const t = options.threads ?? 'auto';
  if (t !== 'auto' && !(Number.isInteger(t) && t >= 1)) {
    throw new TritFormatError(
      'bad-input',
      `threads ${JSON.stringify(t)} is not 'auto' or a whole number >= 1`,
    );
  }
  const threads = t === 'auto' ? hardwareThreads() : t;
  if (b === 'js') return jsEngine;
  if (b === 'wasm') return new WasmEngine(threads);
  if (b === 'auto') return wasmAvailable() ? new WasmEngine(threads) : jsEngine;
  throw new TritFormatError(
    'bad-input',
    `backend ${JSON.stringify(b)} is not one of 'auto', 'wasm', 'js'`,
  );
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A plain `Uint8Array` view of `binary`'s bytes (no copy). Always a fresh
 * view, never the caller's object: a Node `Buffer` is a `Uint8Array` whose
 * `slice()` does not copy, and may sit at an offset in a shared pool.
 */
export function asBytes(binary: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (binary instanceof ArrayBuffer) return new Uint8Array(binary);
  if (ArrayBuffer.isView(binary))
    return new Uint8Array(binary.buffer, binary.byteOffset, binary.byteLength);
  throw new TritFormatError(
    'bad-input',
    'binary must be a Uint8Array, ArrayBuffer or typed-array view',
  );
}

/** Little-endian float32 bytes to a fresh Float32Array. */
export function readFloat32(bytes: Uint8Array): Float32Array {
  const n = bytes.length / 4;
  if (LITTLE_ENDIAN) return new Float32Array(bytes.slice().buffer, 0, n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

/**
 * The error for a binary of `size` bytes where the manifest expects
 * `expected` (`truncated` when shorter, `size-mismatch` when longer), or null
 * when they agree. Loaders call it with the file's size before reading it.
 */
export function binaryLengthError(size: number, expected: number): TritFormatError | null {
  if (size < expected) {
    return new TritFormatError(
      'truncated',
      `binary is truncated: ${size} bytes, the manifest expects ${expected} ` +
        `(${expected - size} missing; an interrupted download or write?)`,
    );
  }
  if (size > expected) {
    return new TritFormatError(
      'size-mismatch',
      `binary has ${size} bytes, the manifest expects ${expected} (is it the binary of another model?)`,
    );
  }
  return null;
}

/**
 * Decodes a model from its manifest (object or JSON text) and binary.
 *
 * Checks, in order, and throws a {@link TritFormatError} at the first
 * problem: manifest format, version and fields (`unknown-format`,
 * `unsupported-version`, `bad-manifest`, `unknown-op`); binary length against
 * the manifest (`truncated`, `size-mismatch`); tensor sizes, the graph's
 * references and shapes, and tensor extents (`size-mismatch`, `bad-graph`,
 * `bad-manifest`); every tensor's CRC-32, then the whole binary's
 * (`checksum`, naming the tensor); float values (`non-finite`); codes
 * (`invalid-code` for a byte that is not 5 base-3 digits, or a set unused
 * digit or bit). Only then is the model built. Codes are transcoded from the
 * file's dense layout to the kernels' `bitplane8` layout (2 bits per ternary
 * weight, 1 per binary weight in memory); a quantized kernel is never
 * expanded to float32.
 */
export function decodeModel(
  manifest: Manifest | string | unknown,
  binary: Uint8Array | ArrayBuffer | ArrayBufferView,
  options: DecodeOptions = {},
): TritModel {
  const engine = engineFor(options);
  const m = parseManifest(manifest);
  const bytes = asBytes(binary);
  const expected = m.binary.byteLength;
  const lengthError = binaryLengthError(bytes.length, expected);
  if (lengthError) throw lengthError;
  const info = checkGraph(m);
  const all = [...info.tensors.values()];
  for (const t of all) {
    if (t.byteOffset % TENSOR_ALIGNMENT !== 0) {
      throw new TritFormatError(
        'bad-manifest',
        `tensor "${t.name}" starts at byte ${t.byteOffset}, not a multiple of ${TENSOR_ALIGNMENT}`,
      );
    }
  }
  const extents = [...all].sort((a, b) => a.byteOffset - b.byteOffset);
  let end = 0;
  let prev = '';
  for (const t of extents) {
    if (t.byteOffset + t.byteLength > expected) {
      throw new TritFormatError(
        'size-mismatch',
        `tensor "${t.name}" (bytes ${t.byteOffset}..${t.byteOffset + t.byteLength}) extends past the end of the ` +
          `${expected}-byte binary`,
      );
    }
    if (t.byteOffset < end) {
      throw new TritFormatError(
        'bad-manifest',
        `tensors "${prev}" and "${t.name}" overlap in the binary`,
      );
    }
    end = t.byteOffset + t.byteLength;
    prev = t.name;
  }

  const slices = new Map<string, Uint8Array>();
  for (const t of all) {
    const slice = bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength);
    const crc = crc32Hex(crc32(slice));
    if (crc !== t.crc32) {
      throw new TritFormatError(
        'checksum',
        `checksum mismatch in tensor "${t.name}": CRC-32 is ${crc}, the manifest says ${t.crc32} (corrupted binary)`,
      );
    }
    slices.set(t.name, slice);
  }
  const whole = crc32Hex(crc32(bytes));
  if (whole !== m.binary.crc32) {
    throw new TritFormatError(
      'checksum',
      `checksum mismatch of the whole binary: CRC-32 is ${whole}, the manifest says ${m.binary.crc32} ` +
        '(every tensor checks out, so bytes between tensors differ)',
    );
  }

  const floats = new Map<string, Float32Array>();
  for (const t of all) {
    if (t.dtype !== 'float32') continue;
    const values = readFloat32(slices.get(t.name)!);
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) {
        throw new TritFormatError(
          'non-finite',
          `tensor "${t.name}" holds ${values[i]} at index ${i}`,
        );
      }
    }
    floats.set(t.name, values);
  }

  const kernels = new Map<string, LoadedKernel>();
  for (const op of m.ops) {
    if (op.op !== 'conv2d' && op.op !== 'dense') continue;
    const k = op.kernel;
    const float = (role: string) => floats.get(`${op.name}/${role}`);
    if (k.encoding === 'float32') {
      kernels.set(op.name, { kind: 'float32', shape: k.shape, values: float('kernel')! });
      continue;
    }
    const what = `tensor "${op.name}/codes" (kernel of op "${op.name}")`;
    const stored = slices.get(`${op.name}/codes`)!;
    // File codes (dense, row-major) -> the kernels' bitplane8 words.
    const codes =
      k.encoding === 'ternary'
        ? unpackTrits(stored, k.shape, what)
        : unpackBits(stored, k.shape, what);
    const g = kernelGeometry(k.shape);
    let words: Uint16Array | Uint8Array;
    if (k.encoding === 'ternary') {
      const packed = packTernary(codes, k.shape, what);
      words = new Uint16Array(packed.length / 2);
      for (let i = 0; i < words.length; i++) words[i] = packed[2 * i]! | (packed[2 * i + 1]! << 8);
    } else {
      words = packBinary(codes, k.shape, what);
    }
    // Levels per output channel: per-layer values expanded, times the
    // optional per-channel scale, in float32.
    const scale = float('scale');
    const level = (s: Float32Array) => {
      const out = new Float32Array(g.cout);
      for (let o = 0; o < g.cout; o++) {
        const v = s.length === 1 ? s[0]! : s[o]!;
        out[o] = scale ? Math.fround(v * (scale.length === 1 ? scale[0]! : scale[o]!)) : v;
      }
      return out;
    };
    const positive = level(float('positive')!);
    const negative = level(float('negative') ?? float('positive')!);
    kernels.set(op.name, {
      kind: 'quantized',
      shape: k.shape,
      bits: k.encoding === 'ternary' ? 2 : 1,
      ...g,
      words,
      positive,
      negative,
      symmetric: positive.every((p, i) => p === negative[i]),
    });
  }
  return new TritModel({ manifest: m, info, floats, kernels }, engine);
}
