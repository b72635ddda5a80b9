/**
 * Packing of ternary and binary kernels into the `bitplane8` layout of the
 * format (docs/format.md, "Packed kernels").
 *
 * A kernel of shape `[...lead, cin, cout]` (output channel last, as in tfjs;
 * a dense kernel is `[in, out]`) is seen as `R = prod(lead)` rows of a
 * `[cin, cout]` matrix. Its input channels are cut into `G = ceil(cin / 8)`
 * groups of 8; for each row `r`, group `g` and output channel `o` (in that
 * order, `o` fastest):
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
 * (see kernels/ternary.ts), and keeps the bytes of one group contiguous
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

/** Bytes a packed kernel of `shape` takes: `R * G * cout * bits`. */
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
