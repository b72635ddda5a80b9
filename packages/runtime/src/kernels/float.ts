/**
 * Full-precision kernels for the layers a quantized model keeps in float32
 * (usually the first conv and the last dense layer). Kernel layout is
 * tfjs's: conv `[kh, kw, cin, cout]`, dense `[in, out]`; the inner loop runs
 * over the output channel, which is contiguous in both the kernel and the
 * NHWC output. Zero inputs (common after a ReLU) are skipped.
 */
import type { Window } from './window.js';

/** `out[rows, cout] = x[rows, cin] · w[cin, cout] + bias`, then optional ReLU. */
export function floatDense(
  x: Float32Array,
  rows: number,
  cin: number,
  cout: number,
  w: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  out: Float32Array,
): void {
  for (let n = 0; n < rows; n++) {
    const ob = n * cout;
    const xb = n * cin;
    if (bias !== null) out.set(bias, ob);
    else out.fill(0, ob, ob + cout);
    for (let i = 0; i < cin; i++) {
      const xv = x[xb + i]!;
      if (xv === 0) continue;
      const wb = i * cout;
      for (let o = 0; o < cout; o++) out[ob + o] = out[ob + o]! + xv * w[wb + o]!;
    }
    if (relu) for (let o = ob; o < ob + cout; o++) if (out[o]! < 0) out[o] = 0;
  }
}

/**
 * Depthwise NHWC conv with a `[kh, kw, cin, mult]` kernel: output channel
 * `c * mult + m` sums input channel `c` times `w[ky, kx, c, m]`; optional
 * bias and ReLU.
 */
export function floatDepthwiseConv2d(
  x: Float32Array,
  batch: number,
  win: Window,
  cin: number,
  mult: number,
  w: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  out: Float32Array,
): void {
  const { inH, inW, kh, kw, sh, sw, outH, outW, padTop, padLeft } = win;
  const cout = cin * mult;
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const ob = ((n * outH + oy) * outW + ox) * cout;
        if (bias !== null) out.set(bias, ob);
        else out.fill(0, ob, ob + cout);
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - padTop + ky;
          if (iy < 0 || iy >= inH) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - padLeft + kx;
            if (ix < 0 || ix >= inW) continue;
            const xb = ((n * inH + iy) * inW + ix) * cin;
            // The kernel at (ky, kx) is [cin, mult], contiguous like the output's channels.
            const wb = (ky * kw + kx) * cout;
            for (let o = 0; o < cout; o++) {
              out[ob + o] = out[ob + o]! + x[xb + ((o / mult) | 0)]! * w[wb + o]!;
            }
          }
        }
        if (relu) for (let o = ob; o < ob + cout; o++) if (out[o]! < 0) out[o] = 0;
      }
    }
  }
}

/** Direct NHWC conv2d with a `[kh, kw, cin, cout]` kernel, optional bias and ReLU. */
export function floatConv2d(
  x: Float32Array,
  batch: number,
  win: Window,
  cin: number,
  cout: number,
  w: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  out: Float32Array,
): void {
  const { inH, inW, kh, kw, sh, sw, outH, outW, padTop, padLeft } = win;
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const ob = ((n * outH + oy) * outW + ox) * cout;
        if (bias !== null) out.set(bias, ob);
        else out.fill(0, ob, ob + cout);
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - padTop + ky;
          if (iy < 0 || iy >= inH) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - padLeft + kx;
            if (ix < 0 || ix >= inW) continue;
            const xb = ((n * inH + iy) * inW + ix) * cin;
            const wb = (ky * kw + kx) * cin * cout;
            for (let c = 0; c < cin; c++) {
              const xv = x[xb + c]!;
              if (xv === 0) continue;
              const wc = wb + c * cout;
              for (let o = 0; o < cout; o++) out[ob + o] = out[ob + o]! + xv * w[wc + o]!;
            }
          }
        }
        if (relu) for (let o = ob; o < ob + cout; o++) if (out[o]! < 0) out[o] = 0;
      }
    }
  }
}
