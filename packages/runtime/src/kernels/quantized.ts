/**
 * Dense and conv2d kernels that compute from packed ternary (2-bit) and
 * binary (1-bit) codes, never from a float kernel.
 *
 * The scheme (a float version of bitnet.cpp's lookup-table kernels):
 * the packed layout (pack.ts) keeps, for every group of 8 input channels
 * and every output channel, one byte `P` with the positions of the `+1`
 * weights and one byte `N` with the positions of the `-1` weights. For the
 * 8 inputs `x_0..x_7` of a group the kernel first builds the table of all
 * 256 subset sums `T[m] = sum_{j in m} x_j` (255 additions, one per entry,
 * `T[m] = T[m without its top bit] + x_top`). Then one output channel's
 * contribution of those 8 weights is `T[P] - T[N]`: two lookups replace 8
 * multiply-adds, and zero codes cost nothing. A ternary layer's output is
 *
 *   y_o = Wp_o * sum_groups T[P] - Wn_o * sum_groups T[N] + b_o
 *
 * (one accumulator `sum (T[P] - T[N])` when `Wp == Wn`); a binary layer
 * (+Wp / -Wn, no zero) needs one lookup per 8 weights:
 * `y_o = (Wp_o + Wn_o) * sum T[P] - Wn_o * sum_all x`.
 *
 * Building a table costs 255 additions and serves every output channel, so
 * it pays from a few dozen output channels on. For conv, tables are built
 * once per input pixel and group (not per output pixel and tap): each one
 * serves all `kh * kw` taps that read that pixel, in a ring of `kh` input
 * rows so the tables stay in cache. Groups whose 8 inputs are all zero
 * (after a ReLU, in padding) are skipped outright.
 */
import type { Window } from './window.js';

/** A packed quantized kernel ready for the kernels below. */
export interface PackedKernel {
  /** 2 = ternary, 1 = binary. */
  readonly bits: 1 | 2;
  /** Product of the leading dims (`kh * kw` for conv, 1 for dense). */
  readonly rows: number;
  readonly cin: number;
  readonly cout: number;
  /** `ceil(cin / 8)`. */
  readonly groups: number;
  /**
   * Ternary: `P | N << 8` per (row, group, output channel).
   * Binary: `P` per (row, group, output channel).
   */
  readonly words: Uint16Array | Uint8Array;
  /** Magnitude of the +1 level per output channel (per-layer scales expanded). */
  readonly positive: Float32Array;
  /** Magnitude of the -1 level per output channel. */
  readonly negative: Float32Array;
  /** `positive[o] === negative[o]` for every `o`: one accumulator suffices. */
  readonly symmetric: boolean;
}

/**
 * Fills `t[off .. off + 2^cnt)` with the subset sums of `x[xo .. xo + cnt)`
 * and returns whether any input is non-zero (an all-zero group is skipped).
 */
function buildTable(
  t: Float32Array,
  off: number,
  x: Float32Array,
  xo: number,
  cnt: number,
): boolean {
  let any = false;
  for (let j = 0; j < cnt; j++) {
    if (x[xo + j] !== 0) {
      any = true;
      break;
    }
  }
  if (!any) return false;
  t[off] = 0;
  let size = 1;
  for (let j = 0; j < cnt; j++) {
    const v = x[xo + j]!;
    const hi = off + size;
    for (let m = 0; m < size; m++) t[hi + m] = t[off + m]! + v;
    size <<= 1;
  }
  return true;
}

/** `out[o] = Wp_o * accP[o] - Wn_o * accN[o] (+ Wn_o * ...)` + bias, then ReLU. */
function epilogue(
  k: PackedKernel,
  accP: Float32Array,
  accN: Float32Array,
  sumAll: number,
  bias: Float32Array | null,
  relu: boolean,
  out: Float32Array,
  ob: number,
): void {
  const { cout, positive, negative } = k;
  for (let o = 0; o < cout; o++) {
    let y: number;
    if (k.bits === 1) y = (positive[o]! + negative[o]!) * accP[o]! - negative[o]! * sumAll;
    else if (k.symmetric) y = positive[o]! * accP[o]!;
    else y = positive[o]! * accP[o]! - negative[o]! * accN[o]!;
    if (bias !== null) y += bias[o]!;
    out[ob + o] = relu && y < 0 ? 0 : y;
  }
}

/** Adds one group's contribution (table at `t`, weights at `wb`) to the accumulators. */
function accumulate(
  k: PackedKernel,
  table: Float32Array,
  t: number,
  wb: number,
  accP: Float32Array,
  accN: Float32Array,
): void {
  const cout = k.cout;
  if (k.bits === 1) {
    const w = k.words as Uint8Array;
    for (let o = 0; o < cout; o++) accP[o] = accP[o]! + table[t + w[wb + o]!]!;
  } else if (k.symmetric) {
    const w = k.words as Uint16Array;
    for (let o = 0; o < cout; o++) {
      const v = w[wb + o]!;
      accP[o] = accP[o]! + (table[t + (v & 255)]! - table[t + (v >>> 8)]!);
    }
  } else {
    const w = k.words as Uint16Array;
    for (let o = 0; o < cout; o++) {
      const v = w[wb + o]!;
      accP[o] = accP[o]! + table[t + (v & 255)]!;
      accN[o] = accN[o]! + table[t + (v >>> 8)]!;
    }
  }
}

/**
 * Quantized dense layer on `rows` input vectors of length `k.cin`
 * (`x` is `[rows, cin]`, `out` is `[rows, cout]`).
 */
export function quantizedDense(
  x: Float32Array,
  rows: number,
  k: PackedKernel,
  bias: Float32Array | null,
  relu: boolean,
  out: Float32Array,
): void {
  const { cin, cout, groups } = k;
  const table = new Float32Array(256);
  const accP = new Float32Array(cout);
  const accN = new Float32Array(cout);
  for (let n = 0; n < rows; n++) {
    const xo = n * cin;
    accP.fill(0);
    accN.fill(0);
    let sumAll = 0;
    for (let g = 0; g < groups; g++) {
      const c0 = g * 8;
      const cnt = Math.min(8, cin - c0);
      if (!buildTable(table, 0, x, xo + c0, cnt)) continue;
      if (k.bits === 1) sumAll += table[(1 << cnt) - 1]!;
      accumulate(k, table, 0, g * cout, accP, accN);
    }
    epilogue(k, accP, accN, sumAll, bias, relu, out, n * cout);
  }
}

/**
 * Quantized conv2d, NHWC, on `batch` images of `win.inH x win.inW x k.cin`;
 * `out` is `[batch, win.outH, win.outW, k.cout]`. The kernel rows are the
 * `kh * kw` taps in row-major order.
 */
export function quantizedConv2d(
  x: Float32Array,
  batch: number,
  win: Window,
  k: PackedKernel,
  bias: Float32Array | null,
  relu: boolean,
  out: Float32Array,
): void {
  const { inH, inW, kh, kw, sh, sw, outH, outW, padTop, padLeft } = win;
  const { cin, cout, groups } = k;
  const pixelTables = groups * 256;
  // A ring of kh input rows of tables: input row iy lives in slot iy % kh.
  const tables = new Float32Array(kh * inW * pixelTables);
  const live = new Uint8Array(kh * inW * groups);
  const pixelSums = new Float32Array(kh * inW);
  const slotRow = new Int32Array(kh);
  // Columns some output reads (a strided 1x1 conv reads only every other one).
  const colUsed = new Uint8Array(inW);
  for (let ox = 0; ox < outW; ox++) {
    for (let kx = 0; kx < kw; kx++) {
      const ix = ox * sw - padLeft + kx;
      if (ix >= 0 && ix < inW) colUsed[ix] = 1;
    }
  }
  const accP = new Float32Array(cout);
  const accN = new Float32Array(cout);
  const binary = k.bits === 1;

  for (let n = 0; n < batch; n++) {
    slotRow.fill(-1);
    for (let oy = 0; oy < outH; oy++) {
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh - padTop + ky;
        if (iy < 0 || iy >= inH) continue;
        const slot = iy % kh;
        if (slotRow[slot] === iy) continue;
        slotRow[slot] = iy;
        for (let ix = 0; ix < inW; ix++) {
          if (colUsed[ix] === 0) continue;
          const xb = ((n * inH + iy) * inW + ix) * cin;
          const tb = (slot * inW + ix) * pixelTables;
          const lb = (slot * inW + ix) * groups;
          let s = 0;
          for (let g = 0; g < groups; g++) {
            const cnt = Math.min(8, cin - g * 8);
            const ok = buildTable(tables, tb + g * 256, x, xb + g * 8, cnt);
            live[lb + g] = ok ? 1 : 0;
            if (ok && binary) s += tables[tb + g * 256 + (1 << cnt) - 1]!;
          }
          pixelSums[slot * inW + ix] = s;
        }
      }
      for (let ox = 0; ox < outW; ox++) {
        accP.fill(0);
        accN.fill(0);
        let sumAll = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - padTop + ky;
          if (iy < 0 || iy >= inH) continue;
          const slot = iy % kh;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - padLeft + kx;
            if (ix < 0 || ix >= inW) continue;
            const pix = slot * inW + ix;
            if (binary) sumAll += pixelSums[pix]!;
            const tb = pix * pixelTables;
            const lb = pix * groups;
            const rb = (ky * kw + kx) * groups;
            for (let g = 0; g < groups; g++) {
              if (live[lb + g] === 0) continue;
              accumulate(k, tables, tb + g * 256, (rb + g) * cout, accP, accN);
            }
          }
        }
        epilogue(k, accP, accN, sumAll, bias, relu, out, ((n * outH + oy) * outW + ox) * cout);
      }
    }
  }
}
