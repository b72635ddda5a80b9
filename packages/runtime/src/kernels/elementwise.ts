/**
 * The parameter-free and per-channel ops: ReLU, softmax, residual add,
 * per-channel affine (a folded BatchNorm), pooling, zero padding and strided
 * subsampling. All operate on NHWC (or `[rows, channels]`) float32 data.
 */
import type { Window } from './window.js';

/** `max(x, 0)` into `out`. */
export function relu(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = Math.max(x[i]!, 0);
}

/** `min(max(x, 0), 6)` into `out`. */
export function relu6(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = Math.min(Math.max(x[i]!, 0), 6);
}

/** `1 / (1 + exp(-x))` into `out`. */
export function sigmoid(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]!));
}

/** `tanh(x)` into `out`. */
export function tanh(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = Math.tanh(x[i]!);
}

/**
 * Concatenation along the last axis: `xs[k]` is `[rows, widths[k]]`, `out`
 * is `[rows, sum(widths)]`.
 */
export function concatLast(
  xs: readonly Float32Array[],
  widths: readonly number[],
  rows: number,
  out: Float32Array,
): void {
  const total = widths.reduce((a, b) => a + b, 0);
  let off = 0;
  xs.forEach((x, k) => {
    const w = widths[k]!;
    for (let r = 0; r < rows; r++) out.set(x.subarray(r * w, (r + 1) * w), r * total + off);
    off += w;
  });
}

/** Numerically stable softmax over the last axis of length `c`. */
export function softmax(x: Float32Array, c: number, out: Float32Array): void {
  for (let b = 0; b < x.length; b += c) {
    let max = Number.NEGATIVE_INFINITY;
    for (let i = b; i < b + c; i++) if (x[i]! > max) max = x[i]!;
    let sum = 0;
    for (let i = b; i < b + c; i++) {
      const e = Math.exp(x[i]! - max);
      out[i] = e;
      sum += e;
    }
    for (let i = b; i < b + c; i++) out[i] = out[i]! / sum;
  }
}

/** Element-wise sum of equally shaped inputs, optional ReLU. */
export function addN(xs: readonly Float32Array[], relu: boolean, out: Float32Array): void {
  out.set(xs[0]!);
  for (let k = 1; k < xs.length; k++) {
    const x = xs[k]!;
    for (let i = 0; i < out.length; i++) out[i] = out[i]! + x[i]!;
  }
  if (relu) for (let i = 0; i < out.length; i++) if (out[i]! < 0) out[i] = 0;
}

/** `x * scale[c] + shift[c]` over the last axis, optional ReLU. */
export function affine(
  x: Float32Array,
  scale: Float32Array,
  shift: Float32Array,
  relu: boolean,
  out: Float32Array,
): void {
  const c = scale.length;
  for (let b = 0; b < x.length; b += c) {
    for (let j = 0; j < c; j++) {
      const y = x[b + j]! * scale[j]! + shift[j]!;
      out[b + j] = relu && y < 0 ? 0 : y;
    }
  }
}

/**
 * Max or average pooling, NHWC. Like TensorFlow, padded positions are
 * ignored: a `'same'` max pool takes the max of the in-bounds values and an
 * average pool divides by their count.
 */
export function pool2d(
  kind: 'max' | 'avg',
  x: Float32Array,
  batch: number,
  win: Window,
  c: number,
  out: Float32Array,
): void {
  const { inH, inW, kh, kw, sh, sw, outH, outW, padTop, padLeft } = win;
  const acc = new Float64Array(c);
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        acc.fill(kind === 'max' ? Number.NEGATIVE_INFINITY : 0);
        let count = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - padTop + ky;
          if (iy < 0 || iy >= inH) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - padLeft + kx;
            if (ix < 0 || ix >= inW) continue;
            count++;
            const xb = ((n * inH + iy) * inW + ix) * c;
            if (kind === 'max') {
              for (let j = 0; j < c; j++) if (x[xb + j]! > acc[j]!) acc[j] = x[xb + j]!;
            } else {
              for (let j = 0; j < c; j++) acc[j] = acc[j]! + x[xb + j]!;
            }
          }
        }
        const ob = ((n * outH + oy) * outW + ox) * c;
        for (let j = 0; j < c; j++) out[ob + j] = kind === 'max' ? acc[j]! : acc[j]! / count;
      }
    }
  }
}

/** Mean over H and W: `[batch, h, w, c]` to `[batch, c]`. */
export function globalAvgPool(
  x: Float32Array,
  batch: number,
  hw: number,
  c: number,
  out: Float32Array,
): void {
  const acc = new Float64Array(c);
  for (let n = 0; n < batch; n++) {
    acc.fill(0);
    for (let p = 0; p < hw; p++) {
      const xb = (n * hw + p) * c;
      for (let j = 0; j < c; j++) acc[j] = acc[j]! + x[xb + j]!;
    }
    for (let j = 0; j < c; j++) out[n * c + j] = acc[j]! / hw;
  }
}

/** Maximum over H and W: `[batch, h, w, c]` to `[batch, c]`. */
export function globalMaxPool(
  x: Float32Array,
  batch: number,
  hw: number,
  c: number,
  out: Float32Array,
): void {
  for (let n = 0; n < batch; n++) {
    const ob = n * c;
    out.set(x.subarray(n * hw * c, n * hw * c + c), ob);
    for (let p = 1; p < hw; p++) {
      const xb = (n * hw + p) * c;
      for (let j = 0; j < c; j++) if (x[xb + j]! > out[ob + j]!) out[ob + j] = x[xb + j]!;
    }
  }
}

/**
 * Zero padding of an NHWC tensor: `top/bottom` rows, `left/right` columns and
 * `before/after` channels (the channel padding of option-A ResNet shortcuts).
 */
export function zeroPad(
  x: Float32Array,
  batch: number,
  h: number,
  w: number,
  c: number,
  pad: readonly [number, number, number, number, number, number],
  out: Float32Array,
): void {
  const [top, bottom, left, right, before, after] = pad;
  const oh = h + top + bottom;
  const ow = w + left + right;
  const oc = c + before + after;
  out.fill(0);
  for (let n = 0; n < batch; n++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const src = ((n * h + y) * w + xx) * c;
        const dst = ((n * oh + y + top) * ow + xx + left) * oc + before;
        out.set(x.subarray(src, src + c), dst);
      }
    }
  }
}

/** `x[:, ::sh, ::sw, :]`: keeps every `sh`-th row and `sw`-th column, starting at 0. */
export function subsample(
  x: Float32Array,
  batch: number,
  h: number,
  w: number,
  c: number,
  sh: number,
  sw: number,
  out: Float32Array,
): void {
  const oh = Math.ceil(h / sh);
  const ow = Math.ceil(w / sw);
  for (let n = 0; n < batch; n++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const src = ((n * h + y * sh) * w + xx * sw) * c;
        out.set(x.subarray(src, src + c), ((n * oh + y) * ow + xx) * c);
      }
    }
  }
}
