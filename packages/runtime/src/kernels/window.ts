import { TritFormatError } from '../errors.js';

/** `'same'` or `'valid'`, with TensorFlow's meaning. */
export type Padding = 'same' | 'valid';

/** Geometry of a 2-D sliding window (conv or pool) over an NHWC input. */
export interface Window {
  readonly inH: number;
  readonly inW: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly outH: number;
  readonly outW: number;
  /** Zero rows added above the input (TF `'same'`: `floor(total / 2)`). */
  readonly padTop: number;
  /** Zero columns added left of the input. */
  readonly padLeft: number;
}

function axis(inSize: number, k: number, s: number, padding: Padding): [number, number] {
  if (padding === 'same') {
    const out = Math.ceil(inSize / s);
    const total = Math.max((out - 1) * s + k - inSize, 0);
    return [out, Math.floor(total / 2)];
  }
  return [Math.ceil((inSize - k + 1) / s), 0];
}

/**
 * Output size and padding of a window, as TensorFlow computes them:
 * `'same'` gives `ceil(in / s)` outputs with the extra padding at the
 * bottom/right, `'valid'` gives `ceil((in - k + 1) / s)`.
 */
export function slidingWindow(
  inH: number,
  inW: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  padding: Padding,
  what: string,
): Window {
  const [outH, padTop] = axis(inH, kh, sh, padding);
  const [outW, padLeft] = axis(inW, kw, sw, padding);
  if (outH < 1 || outW < 1) {
    throw new TritFormatError(
      'bad-graph',
      `${what}: a ${kh}x${kw} '${padding}' window does not fit the ${inH}x${inW} input`,
    );
  }
  return { inH, inW, kh, kw, sh, sw, outH, outW, padTop, padLeft };
}
