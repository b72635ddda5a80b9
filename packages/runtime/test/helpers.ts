import type { FloatTensor, QuantizedKernel } from '../src/index.js';

/** The runtime's kernel sets; tests of model outputs run on each. */
export const BACKENDS = ['wasm', 'js'] as const;

// The project's one seeded PRNG and comparison helper (a devDependency: the runtime's src imports nothing).
export { maxAbsDiff, seededRandom as rng } from '@trit/quant-core/testing';

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Uniform values in [lo, hi). */
export function uniform(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

export function floatKernel(rand: () => number, shape: number[], scale = 0.3): FloatTensor {
  return { shape, values: uniform(rand, shapeSize(shape), -scale, scale) };
}

export interface QuantOptions {
  bits?: 1 | 2;
  /** 'layer': one scale; 'channel': one per output channel. */
  scales?: 'layer' | 'channel';
  /** Different magnitudes for +1 and -1 (TTQ). */
  asymmetric?: boolean;
  /** Share of zero codes for ternary kernels. */
  zeros?: number;
}

/** A random quantized kernel, as a quantizer's exportTernary would give it. */
export function quantKernel(
  rand: () => number,
  shape: number[],
  o: QuantOptions = {},
): QuantizedKernel {
  const bits = o.bits ?? 2;
  const zeros = bits === 1 ? 0 : (o.zeros ?? 0.4);
  const n = shapeSize(shape);
  const codes = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rand();
    codes[i] = r < zeros ? 0 : r < zeros + (1 - zeros) / 2 ? 1 : -1;
  }
  const cout = shape[shape.length - 1]!;
  const len = o.scales === 'channel' ? cout : 1;
  const positive = uniform(rand, len, 0.05, 0.5);
  const negative = o.asymmetric ? uniform(rand, len, 0.05, 0.5) : positive.slice();
  return { bits, shape, codes, positive, negative };
}

/** The float kernel a quantized kernel stands for (for the tfjs reference only). */
export function dequantize(k: QuantizedKernel): Float32Array {
  const cout = k.shape[k.shape.length - 1]!;
  const out = new Float32Array(k.codes.length);
  for (let i = 0; i < out.length; i++) {
    const c = i % cout;
    const p = k.positive.length === 1 ? k.positive[0]! : k.positive[c]!;
    const n = k.negative.length === 1 ? k.negative[0]! : k.negative[c]!;
    out[i] = k.codes[i]! > 0 ? p : k.codes[i]! < 0 ? -n : 0;
  }
  return out;
}
