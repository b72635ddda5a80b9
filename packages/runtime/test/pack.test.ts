import { describe, expect, it } from 'vitest';
import {
  codesByteLength,
  packBinary,
  packBits,
  packedByteLength,
  packTernary,
  packTrits,
  TritFormatError,
  unpackBinary,
  unpackBits,
  unpackTernary,
  unpackTrits,
} from '../src/index.js';
import { rng } from './helpers.js';

function codeError(fn: () => unknown): TritFormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TritFormatError);
    return e as TritFormatError;
  }
  throw new Error('expected an error');
}

describe('in memory: ternary packing (2 bits per weight, bitplane8)', () => {
  it('packs a hand-made [3, 2] kernel into the documented bytes', () => {
    // codes[c][o]:  c0: [+1, -1]   c1: [0, +1]   c2: [-1, -1]
    const codes = Int8Array.from([1, -1, 0, 1, -1, -1]);
    // o0: P = bit0 (c0)        = 0b001 = 1;  N = bit2 (c2)         = 0b100 = 4
    // o1: P = bit1 (c1)        = 0b010 = 2;  N = bit0|bit2 (c0,c2) = 0b101 = 5
    expect([...packTernary(codes, [3, 2])]).toEqual([1, 4, 2, 5]);
    expect([...unpackTernary(Uint8Array.from([1, 4, 2, 5]), [3, 2])]).toEqual([
      1, -1, 0, 1, -1, -1,
    ]);
  });

  it('decodes each 2-bit code: 00 = 0, 01 = +1, 10 = -1, and rejects 11', () => {
    // One weight: byte 0 is its P bit, byte 1 its N bit; the code reads N P.
    expect([...unpackTernary(Uint8Array.from([0, 0]), [1, 1])]).toEqual([0]);
    expect([...unpackTernary(Uint8Array.from([1, 0]), [1, 1])]).toEqual([1]);
    expect([...unpackTernary(Uint8Array.from([0, 1]), [1, 1])]).toEqual([-1]);
    const e = codeError(() => unpackTernary(Uint8Array.from([1, 1]), [1, 1]));
    expect(e.code).toBe('invalid-code');
    expect(e.message).toMatch(/invalid 2-bit code 11 at weight \[0, 0\]/);
  });

  it('names the position of a code 11 inside a larger kernel', () => {
    const bytes = packTernary(Int8Array.from([1, -1, 0, 1, -1, -1]), [3, 2]);
    bytes[2]! |= 0b100; // o1's P gets bit 2 while its N already has it: weight [c2, o1]
    const e = codeError(() => unpackTernary(bytes, [3, 2], 'tensor "fc/codes"'));
    expect(e.message).toMatch(/tensor "fc\/codes": invalid 2-bit code 11 at weight \[2, 1\]/);
  });

  it('rejects set padding bits beyond cin', () => {
    // cin = 3: bits 3..7 of every byte are padding.
    const e = codeError(() => unpackTernary(Uint8Array.from([0b1000, 0, 0, 0]), [3, 2]));
    expect(e.code).toBe('invalid-code');
    expect(e.message).toMatch(/padding bit set for input channel 3 >= 3/);
  });

  it('round-trips random codes for every cin 1..17 (not multiples of 8) and several leading shapes', () => {
    const rand = rng(5);
    for (const lead of [[], [1], [3], [2, 3]]) {
      for (let cin = 1; cin <= 17; cin++) {
        for (const cout of [1, 2, 5]) {
          const shape = [...lead, cin, cout];
          const n = shape.reduce((a, b) => a * b, 1);
          const codes = Int8Array.from({ length: n }, () => Math.floor(rand() * 3) - 1);
          const packed = packTernary(codes, shape);
          const rows = lead.reduce((a, b) => a * b, 1);
          expect(packed.length).toBe(rows * Math.ceil(cin / 8) * cout * 2);
          expect(packedByteLength(2, shape)).toBe(packed.length);
          expect([...unpackTernary(packed, shape)]).toEqual([...codes]);
        }
      }
    }
  });

  it('takes 2 bits per weight when cin is a multiple of 8 (16x smaller than float32)', () => {
    expect(packedByteLength(2, [3, 3, 64, 64])).toBe((3 * 3 * 64 * 64 * 2) / 8);
  });

  it('rejects codes other than -1, 0, +1 and a wrong code count', () => {
    expect(codeError(() => packTernary(Int8Array.from([0, 2]), [1, 2])).message).toMatch(
      /code 2 at \[0, 1\]/,
    );
    expect(codeError(() => packTernary(Int8Array.from([0, 1, 1]), [1, 2])).message).toMatch(
      /3 codes for shape \[1,2\]/,
    );
    expect(codeError(() => packTernary(Int8Array.from([0]), [1])).message).toMatch(/rank >= 2/);
  });
});

describe('in memory: binary packing (1 bit per weight, bitplane8)', () => {
  it('packs a hand-made [3, 2] kernel into the documented bytes', () => {
    // codes[c][o]:  c0: [+1, -1]   c1: [-1, +1]   c2: [+1, +1]
    // o0: +1 at c0, c2 -> 0b101 = 5;  o1: +1 at c1, c2 -> 0b110 = 6
    expect([...packBinary(Int8Array.from([1, -1, -1, 1, 1, 1]), [3, 2])]).toEqual([5, 6]);
    expect([...unpackBinary(Uint8Array.from([5, 6]), [3, 2])]).toEqual([1, -1, -1, 1, 1, 1]);
  });

  it('round-trips random codes, cin 1..17', () => {
    const rand = rng(6);
    for (let cin = 1; cin <= 17; cin++) {
      const shape = [3, cin, 3];
      const codes = Int8Array.from({ length: 9 * cin }, () => (rand() < 0.5 ? -1 : 1));
      const packed = packBinary(codes, shape);
      expect(packed.length).toBe(3 * Math.ceil(cin / 8) * 3);
      expect([...unpackBinary(packed, shape)]).toEqual([...codes]);
    }
  });

  it('rejects a zero code (no zero level), padding bits and wrong lengths', () => {
    expect(codeError(() => packBinary(Int8Array.from([1, 0]), [1, 2])).message).toMatch(
      /code 0 at \[0, 1\].*no zero/,
    );
    expect(codeError(() => unpackBinary(Uint8Array.from([0b10, 0]), [1, 2])).message).toMatch(
      /padding bit/,
    );
    const e = codeError(() => unpackBinary(Uint8Array.from([1, 0, 0]), [1, 2]));
    expect(e.code).toBe('size-mismatch');
  });
});

describe('in the file: ternary codes in base 3, 5 per byte (1.6 bits per weight)', () => {
  it('packs hand-made codes into the documented bytes', () => {
    // Row-major codes of a [3, 2] kernel: +1, -1, 0, +1, -1, -1. Digits (0 -> 0, +1 -> 1, -1 -> 2):
    // byte 0 = weights 0..4 = 1 + 2*3 + 0*9 + 1*27 + 2*81 = 1 + 6 + 0 + 27 + 162 = 196
    // byte 1 = weight 5 = 2 (its digits 1..4 unused, 0)
    const codes = Int8Array.from([1, -1, 0, 1, -1, -1]);
    expect([...packTrits(codes, [3, 2])]).toEqual([196, 2]);
    expect([...unpackTrits(Uint8Array.from([196, 2]), [3, 2])]).toEqual([1, -1, 0, 1, -1, -1]);
    // The extremes: five zeros are byte 0, five -1 are 2 + 6 + 18 + 54 + 162 = 242.
    expect([...packTrits(new Int8Array(5), [5, 1])]).toEqual([0]);
    expect([...packTrits(new Int8Array(5).fill(-1), [5, 1])]).toEqual([242]);
    expect([...unpackTrits(Uint8Array.of(242), [5, 1])]).toEqual([-1, -1, -1, -1, -1]);
  });

  it('takes ceil(n / 5) bytes (ternary), ceil(n / 8) (binary)', () => {
    expect(codesByteLength(2, [3, 3, 64, 64])).toBe(7373); // 36864 / 5 = 7372.8 -> 7373
    expect(codesByteLength(2, [3, 3, 16, 16])).toBe(461); // 2304 / 5 = 460.8
    expect(codesByteLength(2, [10, 1])).toBe(2);
    expect(codesByteLength(1, [3, 3, 64, 64])).toBe((3 * 3 * 64 * 64) / 8);
    expect(codesByteLength(1, [3, 4])).toBe(2); // 12 bits
  });

  it('round-trips random codes of every length 1..40', () => {
    const rand = rng(12);
    for (let n = 1; n <= 40; n++) {
      const codes = Int8Array.from({ length: n }, () => Math.floor(rand() * 3) - 1);
      const packed = packTrits(codes, [n, 1]);
      expect(packed.length).toBe(Math.ceil(n / 5));
      expect(packed.every((b) => b <= 242)).toBe(true);
      expect([...unpackTrits(packed, [n, 1])]).toEqual([...codes]);
    }
  });

  it('rejects a byte above 242, a set unused digit, codes other than -1/0/+1 and a wrong length', () => {
    const e = codeError(() =>
      unpackTrits(Uint8Array.from([0, 250, 0]), [3, 5], 'tensor "c/codes"'),
    );
    expect(e.code).toBe('invalid-code');
    // Byte 1 holds weights 5..9 = [1, 0] .. [1, 4].
    expect(e.message).toBe(
      'tensor "c/codes": invalid code byte 1 (weights [1, 0] to [1, 4]): it is 250, above 242 (3^5 - 1), not five base-3 digits',
    );
    // 7 codes: byte 1 holds weights 5 and 6, so it must be below 3^2 = 9.
    const tail = codeError(() => unpackTrits(Uint8Array.from([0, 9]), [7, 1]));
    expect(tail.message).toMatch(
      /invalid code byte 1 \(weights \[5, 0\] to \[6, 0\]\): it is 9: it holds the last 2 weight\(s\), so it must be below 9/,
    );
    expect([...unpackTrits(Uint8Array.from([0, 8]), [7, 1])]).toEqual([0, 0, 0, 0, 0, -1, -1]);
    expect(codeError(() => packTrits(Int8Array.from([0, 2]), [1, 2])).message).toMatch(
      /code 2 at \[0, 1\] is not -1, 0 or \+1/,
    );
    expect(codeError(() => unpackTrits(Uint8Array.from([0, 0]), [3, 1])).code).toBe(
      'size-mismatch',
    );
  });
});

describe('in the file: binary codes, 8 per byte', () => {
  it('packs hand-made codes into the documented bytes, LSB first', () => {
    // +1, -1, -1, +1, +1, +1, -1, -1, +1 -> byte 0 = bits 0, 3, 4, 5 = 1 + 8 + 16 + 32 = 57; byte 1 = bit 0 = 1
    const codes = Int8Array.from([1, -1, -1, 1, 1, 1, -1, -1, 1]);
    expect([...packBits(codes, [9, 1])]).toEqual([57, 1]);
    expect([...unpackBits(Uint8Array.from([57, 1]), [9, 1])]).toEqual([...codes]);
  });

  it('round-trips random codes of every length 1..20', () => {
    const rand = rng(13);
    for (let n = 1; n <= 20; n++) {
      const codes = Int8Array.from({ length: n }, () => (rand() < 0.5 ? -1 : 1));
      const packed = packBits(codes, [1, n]);
      expect(packed.length).toBe(Math.ceil(n / 8));
      expect([...unpackBits(packed, [1, n])]).toEqual([...codes]);
    }
  });

  it('rejects a zero code, a set unused bit and a wrong length', () => {
    expect(codeError(() => packBits(Int8Array.from([1, 0]), [1, 2])).message).toMatch(
      /code 0 at \[0, 1\].*no zero/,
    );
    const e = codeError(() => unpackBits(Uint8Array.from([0, 0b10]), [9, 1]));
    expect(e.code).toBe('invalid-code');
    expect(e.message).toMatch(/invalid code byte 1: bits 1..7 are past the last weight/);
    expect(codeError(() => unpackBits(Uint8Array.from([1, 0]), [1, 2])).code).toBe('size-mismatch');
  });
});
