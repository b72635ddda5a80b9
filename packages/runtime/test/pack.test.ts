import { describe, expect, it } from 'vitest';
import {
  packBinary,
  packedByteLength,
  packTernary,
  TritFormatError,
  unpackBinary,
  unpackTernary,
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

describe('ternary packing (2 bits per weight, bitplane8)', () => {
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

describe('binary packing (1 bit per weight)', () => {
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
