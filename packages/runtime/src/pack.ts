/**
 * The two code layouts of the runtime:
 *
 * **In the file** (docs/format.md, "Codes"): the codes of a kernel, in
 * row-major order over its shape, packed densely. Ternary codes are base-3
 * digits, 5 per byte (`packTrits`: 1.6 bits per weight, 243 of the 256 byte
 * values used); binary codes are bits, 8 per byte (`packBits`).
 *
 * **In memory** (`bitplane8`, what the kernels compute from; the decoder
 * transcodes into it): a kernel of shape `[...lead, cin, cout]` (output
 * channel last, as in tfjs; a dense kernel is `[in, out]`) is seen as
 * `R = prod(lead)` rows of a `[cin, cout]` matrix. Its input channels are cut
 * into `G = ceil(cin / 8)` groups of 8; for each row `r`, group `g` and output
 * channel `o` (in that order, `o` fastest):
 *
 * - ternary (2 bits per weight): two bytes, the positive plane `P` then the
 *   negative plane `N`. Bit `j` (LSB first) of `P` is set when the weight at
 *   input channel `8g + j` is `+1`, bit `j` of `N` when it is `-1`. Read per
 *   weight, the 2-bit code `N_j P_j` is `00` = 0, `01` = +1, `10` = -1, and
 *   `11` is invalid.
 * - binary (1 bit per weight): one byte; bit `j` set means `+1`, clear `-1`.
 *
 * Bits of input channels `>= cin` (the padding of the last group) are 0.
 * The layout lets a kernel add up 8 inputs with one table lookup per plane
 * (see kernels/quantized.ts), and keeps the bytes of one group contiguous
 * across output channels, which is what the inner loop streams over.
 */
import { TritFormatError } from './errors.js';

/** How a packed kernel is cut into rows, input-channel groups and output channels. */
export interface KernelGeometry {
  /** Product of the leading dimensions (`kh * kw` for a conv kernel, 1 for dense). */
  readonly rows: number;
  /** Input channels (second-to-last dimension). */
  readonly cin: number;
  /** Output channels (last dimension). */
  readonly cout: number;
  /** `ceil(cin / 8)`: groups of 8 input channels. */
  readonly groups: number;
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** Product of a shape's dimensions. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Rows, channels and groups of a packed kernel of `shape` (rank >= 2, positive dims). */
export function kernelGeometry(shape: readonly number[], what = 'kernel'): KernelGeometry {
  if (!Array.isArray(shape) || shape.length < 2 || !shape.every(isPositiveInt)) {
    throw new TritFormatError(
      'bad-graph',
      `${what}: a packed kernel needs a shape of rank >= 2 with positive integer dimensions ` +
        `([...lead, cin, cout]); got ${JSON.stringify(shape)}`,
    );
  }
  const cout = shape[shape.length - 1]!;
  const cin = shape[shape.length - 2]!;
  const rows = shapeSize(shape.slice(0, -2));
  return { rows, cin, cout, groups: Math.ceil(cin / 8) };
}

/** Bytes a kernel of `shape` takes in the in-memory `bitplane8` layout: `R * G * cout * bits`. */
export function packedByteLength(bits: 1 | 2, shape: readonly number[]): number {
  const g = kernelGeometry(shape);
  return g.rows * g.groups * g.cout * bits;
}

/** `flat` as an index into `shape`, e.g. `[2, 0, 5, 1]`, for error messages. */
function multiIndex(flat: number, shape: readonly number[]): string {
  const idx: number[] = [];
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    idx.unshift(rest % n);
    rest = Math.floor(rest / n);
  }
  return `[${idx.join(', ')}]`;
}

function checkCodes(codes: Int8Array, shape: readonly number[], what: string): void {
  if (!(codes instanceof Int8Array)) {
    throw new TritFormatError('bad-graph', `${what}: codes must be an Int8Array`);
  }
  const n = shapeSize(shape);
  if (codes.length !== n) {
    throw new TritFormatError(
      'bad-graph',
      `${what}: ${codes.length} codes for shape ${JSON.stringify(shape)} (expected ${n})`,
    );
  }
}

/**
 * Packs ternary codes (-1/0/+1, row-major over `shape`, output channel last)
 * into the 2-bit `bitplane8` layout. Any other code value is an error naming
 * its position.
 */
export function packTernary(
  codes: Int8Array,
  shape: readonly number[],
  what = 'kernel',
): Uint8Array {
  const { rows, cin, cout, groups } = kernelGeometry(shape, what);
  checkCodes(codes, shape, what);
  const out = new Uint8Array(rows * groups * cout * 2);
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cin; c++) {
      const bit = 1 << (c & 7);
      const base = (r * groups + (c >> 3)) * cout * 2;
      for (let o = 0; o < cout; o++, i++) {
        const v = codes[i]!;
        if (v === 1) out[base + 2 * o] = out[base + 2 * o]! | bit;
        else if (v === -1) out[base + 2 * o + 1] = out[base + 2 * o + 1]! | bit;
        else if (v !== 0) {
          throw new TritFormatError(
            'invalid-code',
            `${what}: code ${v} at ${multiIndex(i, shape)} is not -1, 0 or +1`,
          );
        }
      }
    }
  }
  return out;
}

/**
 * Packs binary codes (-1/+1 only, row-major, output channel last) into the
 * 1-bit `bitplane8` layout. A 0 (or any other value) is an error naming its
 * position: a binary layer has no zero level.
 */
export function packBinary(
  codes: Int8Array,
  shape: readonly number[],
  what = 'kernel',
): Uint8Array {
  const { rows, cin, cout, groups } = kernelGeometry(shape, what);
  checkCodes(codes, shape, what);
  const out = new Uint8Array(rows * groups * cout);
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cin; c++) {
      const bit = 1 << (c & 7);
      const base = (r * groups + (c >> 3)) * cout;
      for (let o = 0; o < cout; o++, i++) {
        const v = codes[i]!;
        if (v === 1) out[base + o] = out[base + o]! | bit;
        else if (v !== -1) {
          throw new TritFormatError(
            'invalid-code',
            `${what}: code ${v} at ${multiIndex(i, shape)} is not -1 or +1 (a binary kernel has no zero)`,
          );
        }
      }
    }
  }
  return out;
}

/** Mask of the padding bits of the last group (input channels >= cin), 0 when cin % 8 == 0. */
function paddingMask(cin: number): number {
  const used = cin & 7;
  return used === 0 ? 0 : 0xff & ~((1 << used) - 1);
}

function checkLength(bytes: Uint8Array, expected: number, what: string): void {
  if (bytes.length !== expected) {
    throw new TritFormatError(
      'size-mismatch',
      `${what}: packed kernel has ${bytes.length} bytes, its shape needs ${expected}`,
    );
  }
}

/**
 * Checks a packed kernel without unpacking it: the right length, no 2-bit
 * code `11` (a bit set in both planes) and no padding bit set. Throws a
 * {@link TritFormatError} naming the first offending weight.
 */
export function validatePacked(
  bits: 1 | 2,
  bytes: Uint8Array,
  shape: readonly number[],
  what = 'kernel',
): void {
  const { rows, cin, cout, groups } = kernelGeometry(shape, what);
  checkLength(bytes, rows * groups * cout * bits, what);
  const pad = paddingMask(cin);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const mask = g === groups - 1 ? pad : 0;
      const base = (r * groups + g) * cout * bits;
      for (let o = 0; o < cout; o++) {
        const p = bytes[base + o * bits]!;
        const n = bits === 2 ? bytes[base + 2 * o + 1]! : 0;
        if ((p & n) === 0 && ((p | n) & mask) === 0) continue;
        const bad = p & n;
        const flags = bad !== 0 ? bad : (p | n) & mask;
        const j = 31 - Math.clz32(flags & -flags);
        const c = g * 8 + j;
        if (bad !== 0) {
          const flat = (r * cin + c) * cout + o;
          throw new TritFormatError(
            'invalid-code',
            `${what}: invalid 2-bit code 11 at weight ${multiIndex(flat, shape)} ` +
              `(row ${r}, input channel ${c}, output channel ${o})`,
          );
        }
        throw new TritFormatError(
          'invalid-code',
          `${what}: padding bit set for input channel ${c} >= ${cin} ` +
            `(row ${r}, group ${g}, output channel ${o})`,
        );
      }
    }
  }
}

/**
 * Unpacks a 2-bit `bitplane8` kernel back to one code per weight
 * (-1/0/+1, row-major over `shape`). Rejects code `11` and set padding bits.
 * For inspection and tests: the runtime computes from the packed bytes.
 */
export function unpackTernary(
  bytes: Uint8Array,
  shape: readonly number[],
  what = 'kernel',
): Int8Array {
  validatePacked(2, bytes, shape, what);
  const { rows, cin, cout, groups } = kernelGeometry(shape, what);
  const out = new Int8Array(rows * cin * cout);
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cin; c++) {
      const bit = 1 << (c & 7);
      const base = (r * groups + (c >> 3)) * cout * 2;
      for (let o = 0; o < cout; o++, i++) {
        out[i] = bytes[base + 2 * o]! & bit ? 1 : bytes[base + 2 * o + 1]! & bit ? -1 : 0;
      }
    }
  }
  return out;
}

/** Unpacks a 1-bit `bitplane8` kernel back to -1/+1 codes (row-major). Rejects set padding bits. */
export function unpackBinary(
  bytes: Uint8Array,
  shape: readonly number[],
  what = 'kernel',
): Int8Array {
  validatePacked(1, bytes, shape, what);
  const { rows, cin, cout, groups } = kernelGeometry(shape, what);
  const out = new Int8Array(rows * cin * cout);
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cin; c++) {
      const bit = 1 << (c & 7);
      const base = (r * groups + (c >> 3)) * cout;
      for (let o = 0; o < cout; o++, i++) out[i] = bytes[base + o]! & bit ? 1 : -1;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The file's dense codes: base 3 (ternary) and bits (binary), row-major.

/** Ternary codes per byte in the file: 5 base-3 digits (3^5 = 243 <= 256). */
export const TRITS_PER_BYTE = 5;
const POW3 = [1, 3, 9, 27, 81] as const;

/**
 * Bytes the codes of a kernel of `shape` take in the file: `ceil(n / 5)`
 * for ternary (`bits` 2: 1.6 bits per weight), `ceil(n / 8)` for binary.
 */
export function codesByteLength(bits: 1 | 2, shape: readonly number[]): number {
  const n = shapeSize(shape);
  return bits === 2 ? Math.ceil(n / TRITS_PER_BYTE) : Math.ceil(n / 8);
}

/** Digit of a code: 0 -> 0, +1 -> 1, -1 -> 2 (the value of the 2-bit code `N P`). */
function trit(v: number, i: number, shape: readonly number[], what: string): number {
  if (v === 0) return 0;
  if (v === 1) return 1;
  if (v === -1) return 2;
  throw new TritFormatError(
    'invalid-code',
    `${what}: code ${v} at ${multiIndex(i, shape)} is not -1, 0 or +1`,
  );
}

/**
 * Packs ternary codes (-1/0/+1, row-major over `shape`) into the file's
 * base-3 layout: byte `k` holds the weights `5k .. 5k + 4` as the digits
 * `d0 + 3 d1 + 9 d2 + 27 d3 + 81 d4` (digit 0 = code 0, 1 = +1, 2 = -1); the
 * unused digits of the last byte are 0. Any other code value is an error
 * naming its position.
 */
export function packTrits(codes: Int8Array, shape: readonly number[], what = 'kernel'): Uint8Array {
  checkCodes(codes, shape, what);
  const n = codes.length;
  const out = new Uint8Array(Math.ceil(n / TRITS_PER_BYTE));
  for (let k = 0, i = 0; k < out.length; k++) {
    let byte = 0;
    for (let d = 0; d < TRITS_PER_BYTE && i < n; d++, i++)
      byte += trit(codes[i]!, i, shape, what) * POW3[d]!;
    out[k] = byte;
  }
  return out;
}

/** The 5 codes of each byte value 0..242 (the digit table of {@link unpackTrits}). */
let tritTable: Int8Array | undefined;
function tritCodes(): Int8Array {
  if (tritTable) return tritTable;
  tritTable = new Int8Array(243 * TRITS_PER_BYTE);
  for (let b = 0; b < 243; b++) {
    let rest = b;
    for (let d = 0; d < TRITS_PER_BYTE; d++) {
      const digit = rest % 3;
      rest = (rest - digit) / 3;
      tritTable[b * TRITS_PER_BYTE + d] = digit === 2 ? -1 : digit;
    }
  }
  return tritTable;
}

function checkCodesLength(bytes: Uint8Array, expected: number, what: string): void {
  if (bytes.length !== expected) {
    throw new TritFormatError(
      'size-mismatch',
      `${what}: the codes take ${bytes.length} bytes, the kernel's shape needs ${expected}`,
    );
  }
}

/**
 * Unpacks the file's base-3 codes of a kernel of `shape` to one code per
 * weight (-1/0/+1, row-major). Rejects a byte above 242 (not five base-3
 * digits) and a non-zero unused digit in the last byte, naming the byte and
 * the weights it holds.
 */
export function unpackTrits(
  bytes: Uint8Array,
  shape: readonly number[],
  what = 'kernel',
): Int8Array {
  const n = shapeSize(shape);
  checkCodesLength(bytes, Math.ceil(n / TRITS_PER_BYTE), what);
  const table = tritCodes();
  const out = new Int8Array(n);
  const full = Math.floor(n / TRITS_PER_BYTE);
  for (let k = 0; k < bytes.length; k++) {
    const b = bytes[k]!;
    const first = k * TRITS_PER_BYTE;
    const used = k < full ? TRITS_PER_BYTE : n - first;
    if (b >= 243 || b >= POW3[used - 1]! * 3) {
      const which =
        b >= 243
          ? `is ${b}, above 242 (3^5 - 1), not five base-3 digits`
          : `is ${b}: it holds the last ${used} weight(s), so it must be below ${3 ** used} (unused digits are 0)`;
      throw new TritFormatError(
        'invalid-code',
        `${what}: invalid code byte ${k} (weights ${multiIndex(first, shape)} to ` +
          `${multiIndex(first + used - 1, shape)}): it ${which}`,
      );
    }
    for (let d = 0; d < used; d++) out[first + d] = table[b * TRITS_PER_BYTE + d]!;
  }
  return out;
}

/**
 * Packs binary codes (-1/+1 only, row-major over `shape`) into the file's
 * bit layout: bit `j` (LSB first) of byte `k` is weight `8k + j`, set for
 * +1, clear for -1; unused bits of the last byte are 0. A 0 (or any other
 * value) is an error naming its position: a binary layer has no zero level.
 */
export function packBits(codes: Int8Array, shape: readonly number[], what = 'kernel'): Uint8Array {
  checkCodes(codes, shape, what);
  const out = new Uint8Array(Math.ceil(codes.length / 8));
  for (let i = 0; i < codes.length; i++) {
    const v = codes[i]!;
    if (v === 1) out[i >> 3] = out[i >> 3]! | (1 << (i & 7));
    else if (v !== -1) {
      throw new TritFormatError(
        'invalid-code',
        `${what}: code ${v} at ${multiIndex(i, shape)} is not -1 or +1 (a binary kernel has no zero)`,
      );
    }
  }
  return out;
}

/** Unpacks the file's binary codes (row-major) to -1/+1. Rejects a set unused bit in the last byte. */
export function unpackBits(
  bytes: Uint8Array,
  shape: readonly number[],
  what = 'kernel',
): Int8Array {
  const n = shapeSize(shape);
  checkCodesLength(bytes, Math.ceil(n / 8), what);
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = bytes[i >> 3]! & (1 << (i & 7)) ? 1 : -1;
  const used = n & 7;
  if (used !== 0 && bytes[bytes.length - 1]! >> used !== 0) {
    throw new TritFormatError(
      'invalid-code',
      `${what}: invalid code byte ${bytes.length - 1}: bits ${used}..7 are past the last weight and must be 0`,
    );
  }
  return out;
}
