// Statistics over seeds: mean, sample standard deviation, Student-t intervals,
// and the paired difference of two methods by seed.
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

/** A closed interval [low, high]. */
export type Interval = readonly [number, number];

/** Arithmetic mean (0 for no values). */
export const mean = (xs: readonly number[]): number =>
  xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Sample standard deviation s = √(Σ(x − x̄)² / (n − 1)); 0 below two values. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** t_{0.975, df}: the two-sided 95% quantile of Student's t with `df` degrees of freedom. */
export function t975(df: number): number {
  if (!Number.isInteger(df) || df < 1)
    throw new Error(`degrees of freedom must be a whole number >= 1, got ${df}`);
  return tQuantile(0.975, df);
}

/**
 * The 95% confidence interval of the mean of `xs` (Student t, n − 1 degrees
 * of freedom): x̄ ± t_{0.975, n−1} · s / √n. Null below two values (no spread
 * to estimate from one seed).
 */
export function ci95(xs: readonly number[]): Interval | null {
  if (xs.length < 2) return null;
  const half = (t975(xs.length - 1) * sampleStd(xs)) / Math.sqrt(xs.length);
  const m = mean(xs);
  return [m - half, m + half];
}

/** Whether an interval contains 0 (its ends included). */
export const containsZero = (ci: Interval): boolean => ci[0] <= 0 && ci[1] >= 0;

/** One method minus a reference method, paired by seed. */
export interface PairedDifference {
  /** The method subtracted. */
  readonly reference: string;
  /** The seeds both methods ran, ascending: one pair each. */
  readonly seeds: readonly number[];
  /** Mean of the per-seed differences d_s = method_s − reference_s. */
  readonly mean: number;
  /** Sample standard deviation of the d_s (null below two pairs). */
  readonly std: number | null;
  /** 95% interval of the mean difference, d̄ ± t_{0.975, pairs−1} · s_d / √pairs (null below two pairs). */
  readonly ci95: Interval | null;
  /** ci95 contains 0: no difference shown at 95% with these seeds (null without an interval). */
  readonly containsZero: boolean | null;
}

/**
 * The paired difference `values − reference` over the seeds both have (each a
 * map seed → value, in the caller's units). Null when no seed is shared.
 */
export function pairedDifference(
  values: ReadonlyMap<number, number>,
  reference: ReadonlyMap<number, number>,
  referenceName: string,
): PairedDifference | null {
  const seeds = [...values.keys()].filter((s) => reference.has(s)).sort((a, b) => a - b);
  if (!seeds.length) return null;
  const d = seeds.map((s) => values.get(s)! - reference.get(s)!);
  const ci = ci95(d);
  return {
    reference: referenceName,
    seeds,
    mean: mean(d),
    std: d.length < 2 ? null : sampleStd(d),
    ci95: ci,
    containsZero: ci ? containsZero(ci) : null,
  };
}
