import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/index.js';
import { rng } from './helpers.js';

/** Bit-by-bit CRC-32 (no tables): an independent reference for the sliced implementation. */
function crcBitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const text = (s: string) => new TextEncoder().encode(s);

describe('crc32', () => {
  it('matches the standard check values', () => {
    expect(crc32(text('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(text('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(crc32(new Uint8Array([0]))).toBe(0xd202ef8d);
  });

  it('matches a bitwise reference for every length 0..40 (all tail sizes)', () => {
    const rand = rng(1);
    for (let n = 0; n <= 40; n++) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
      expect(crc32(bytes)).toBe(crcBitwise(bytes));
    }
  });

  it('continues across chunks', () => {
    const bytes = Uint8Array.from({ length: 1001 }, (_, i) => (i * 31) & 255);
    expect(crc32(bytes.subarray(501), crc32(bytes.subarray(0, 501)))).toBe(crc32(bytes));
  });

  it('detects a single flipped bit anywhere', () => {
    const bytes = Uint8Array.from({ length: 64 }, (_, i) => i);
    const base = crc32(bytes);
    for (let i = 0; i < bytes.length * 8; i += 7) {
      const copy = bytes.slice();
      copy[i >> 3]! ^= 1 << (i & 7);
      expect(crc32(copy)).not.toBe(base);
    }
  });
});
