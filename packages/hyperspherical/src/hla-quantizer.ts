import * as tf from '@tensorflow/tfjs';
import {
  assertFiniteKernel,
  codeShares,
  type LayerQuantStats,
  makeTernaryExport,
  Quantizer,
  type QuantizerConfig,
  type QuantizerParams,
  type QuantizerState,
  readScale,
  recordingGradients,
  registerQuantizer,
  resolveConfig,
  runFraction,
  type TernaryExport,
  type TrainingProgress,
  tidyValue,
} from '@trit/quant-core';
import { quantizeOf } from './hla-quantize.js';
import { regularizerOf } from './hla-regularizer.js';
import {
  DEFAULT_DELTA_FACTOR,
  DEFAULT_EPSILON,
  DEFAULT_TAU,
  kernelNorm,
  type ProjectionSink,
  type ProjectionStats,
  projectFor,
  projectionAlpha,
  projectKernel,
  scaledKernel,
} from './projection.js';

/** Configuration of {@link HLAQuantizer}. Every field is [chosen] in docs/algorithms.md#hla. */
export type HLAConfig = {
  /**
   * `λ_max`, the regularizer strength reached at the end of phase 1 and kept
   * in phase 2; ≥ 0 (0 disables the regularizer). Default 1 (provisional).
   */
  lambdaMax: number;
  /** `δ` of the threshold `Δ = δ · mean|W|`; > 0, default 0.7. */
  deltaFactor: number;
  /** Sigmoid temperature `τ` at the start of phase 2; ≥ 0, default 2 (0 = plain STE). */
  tau: number;
  /**
   * `τ` at the end of the run: `τ` anneals linearly from `tau` to `tauMax`
   * over phase 2. Must be ≥ `tau`; defaults to `tau` (no annealing).
   */
  tauMax: number;
  /** Fraction of the run spent in phase 1 (regularization, full precision); in [0, 1), default 0.5. */
  phase1Fraction: number;
  /** `ε` in the regularizer's cosine denominator; > 0, default 1e-12. */
  epsilon: number;
};

/** Schedule state of {@link HLAQuantizer}, saved with the layer. */
export type HLAState = {
  /** 1: regularization (full-precision forward); 2: ternary forward with the re-scaled gradient. */
  phase: 1 | 2;
  /** Current regularizer strength `λ`. */
  lambda: number;
  /** Current sigmoid temperature `τ`. */
  tau: number;
};

/** The defaults of {@link HLAConfig}. */
export const HLA_DEFAULTS: Readonly<HLAConfig> = Object.freeze({
  lambdaMax: 1,
  deltaFactor: DEFAULT_DELTA_FACTOR,
  tau: DEFAULT_TAU,
  tauMax: DEFAULT_TAU,
  phase1Fraction: 0.5,
  epsilon: DEFAULT_EPSILON,
});

/**
 * HLA's schedule at a fraction `f` of the run (`p = phase1Fraction`):
 * - `f < p`: phase 1, `λ = λ_max · f / p`, `τ = tau`;
 * - `f ≥ p`: phase 2, `λ = λ_max`, `τ = tau + (tauMax − tau) · (f − p) / (1 − p)`.
 */
export function hlaSchedule(
  config: Pick<HLAConfig, 'lambdaMax' | 'tau' | 'tauMax' | 'phase1Fraction'>,
  fraction: number,
): HLAState {
  const { lambdaMax, tau, tauMax, phase1Fraction: p } = config;
  const f = Math.min(1, Math.max(0, fraction));
  if (f < p) {
    return { phase: 1, lambda: Math.min(lambdaMax, (lambdaMax * f) / p), tau };
  }
  const u = (f - p) / (1 - p);
  return { phase: 2, lambda: lambdaMax, tau: Math.min(tauMax, tau + (tauMax - tau) * u) };
}

/** Range rules of the options, checked by `resolveConfig`. */
const HLA_RULES = Object.freeze({
  lambdaMax: { min: 0 },
  deltaFactor: { min: 0, exclusiveMin: true },
  tau: { min: 0 },
  tauMax: { min: 0 },
  phase1Fraction: { min: 0, max: 1, exclusiveMax: true },
  epsilon: { min: 0, exclusiveMin: true },
});

/** `resolveConfig` with HLA's rules, plus the one rule across fields: `tauMax ≥ tau` (and `tauMax` defaults to `tau`). */
function resolveHLAConfig(given: QuantizerConfig | undefined): HLAConfig {
  const config = resolveConfig('hla', { ...HLA_DEFAULTS }, given, HLA_RULES);
  if (given?.tauMax === undefined) {
    config.tauMax = config.tau;
  } else if (config.tauMax < config.tau) {
    throw new Error(
      `hla: option "tauMax" must be >= tau (${config.tau}; τ is annealed upwards over phase 2), got ${config.tauMax}`,
    );
  }
  return config;
}

/**
 * Hyperspherical loss-aware ternary quantization (Liu & Liu, arXiv:2212.12649),
 * reconstructed from the abstract and the authors' Hyperspherical Quantization
 * (arXiv:2212.12653); every element is [chosen] in docs/algorithms.md#hla.
 *
 * Two phases over the run (fractions of the run, see {@link hlaSchedule}):
 * 1. regularization: full-precision forward (`Q = W`, `dL/dW = g`), and the
 *    loss gets {@link hlaRegularizer} with `λ` ramping linearly 0 → `λ_max`;
 * 2. quantization: {@link hlaQuantize} (`Q = α·T`, `dL/dW = g·r(W)`) with `τ`
 *    annealed linearly `tau` → `tauMax`; the regularizer stays at `λ_max`.
 *
 * {@link regularizer} always returns a scalar (exactly 0, with zero gradient,
 * while `λ = 0`), so the loss has the same terms at every step. The deployed
 * model is ternary, so {@link precision} is 2 and {@link exportTernary} returns
 * the projection `T`, `α` in both phases.
 */
export class HLAQuantizer extends Quantizer<HLAConfig> {
  readonly name = 'hla';
  private state: HLAState;
  /**
   * The projection of the kernel value the last training forward saw, for the
   * regularizer of the same step. Keyed by the kernel's data identity
   * (tfjs data never changes in place: assigning a variable gives it new
   * data), so it is only ever used for the very same weights. Freed as soon as
   * the regularizer has used it, else by the backward pass of a phase-2
   * forward, the next forward or the next `onStep`.
   */
  private shared: { readonly key: object; readonly projection: ProjectionStats } | null = null;

  constructor(config?: QuantizerConfig) {
    super(resolveHLAConfig(config));
    this.state = hlaSchedule(this.config, 0);
  }

  precision(): number {
    return 2;
  }

  /**
   * Phase 1: the latent kernel (identity gradient), as a new tensor sharing its data
   * (`kernel.clone()`: the caller may dispose it without disposing the kernel). Phase 2: {@link hlaQuantize}
   * at the current `τ`. In a training step (gradients recorded), the projection is
   * computed here, once, and handed to the {@link regularizer} of the same step.
   */
  quantize(kernel: tf.Tensor, _params?: QuantizerParams): tf.Tensor {
    const sink: ProjectionSink = (projection) => {
      this.dropShared();
      const entry = { key: kernel.dataId, projection };
      this.shared = entry;
      return () => {
        if (this.shared === entry) this.dropShared();
      };
    };
    if (this.state.phase === 2) {
      return quantizeOf(kernel, this.config.deltaFactor, this.state.tau, sink);
    }
    if (recordingGradients()) {
      projectFor(kernel, this.config.deltaFactor, sink); // also the NaN/Inf check
    } else {
      assertFiniteKernel(kernel, 'hla');
    }
    return kernel.clone();
  }

  /**
   * {@link hlaRegularizer} at the current `λ` (in both phases). Right after a
   * training forward on the same kernel value (a training step), it reuses that
   * forward's projection instead of computing it again.
   */
  override regularizer(kernel: tf.Tensor, _params?: QuantizerParams): tf.Scalar {
    const { deltaFactor, epsilon } = this.config;
    const shared = this.sharedFor(kernel);
    try {
      return regularizerOf(kernel, this.state.lambda, deltaFactor, epsilon, shared);
    } finally {
      if (shared) this.dropShared(); // used: the regularizer's op holds what its backward needs
    }
  }

  /** The shared projection if it is that of `kernel`'s current value and still alive. */
  private sharedFor(kernel: tf.Tensor): ProjectionStats | null {
    const s = this.shared;
    if (!s) return null;
    const { codes, maskedSum, count } = s.projection;
    if (s.key !== kernel.dataId || codes.isDisposed || maskedSum.isDisposed || count.isDisposed) {
      return null;
    }
    return s.projection;
  }

  private dropShared(): void {
    if (!this.shared) return;
    const { codes, maskedSum, count } = this.shared.projection;
    tf.dispose([codes, maskedSum, count]);
    this.shared = null;
  }

  override onStep(progress: TrainingProgress): void {
    this.dropShared();
    this.state = hlaSchedule(this.config, runFraction(progress));
  }

  override getState(): QuantizerState {
    return { ...this.state };
  }

  override setState(state: QuantizerState): void {
    const { phase, lambda, tau, ...rest } = state;
    const unknown = Object.keys(rest);
    if (unknown.length) {
      throw new Error(`hla: unknown state field "${unknown[0]}"; valid fields: phase, lambda, tau`);
    }
    if (phase !== 1 && phase !== 2) {
      throw new Error(`hla: state "phase" must be 1 or 2, got ${JSON.stringify(phase)}`);
    }
    const { lambdaMax, tau: tau0, tauMax } = this.config;
    if (typeof lambda !== 'number' || !(lambda >= 0 && lambda <= lambdaMax)) {
      throw new Error(
        `hla: state "lambda" must be a number in [0, ${lambdaMax}], got ${JSON.stringify(lambda)}`,
      );
    }
    if (typeof tau !== 'number' || !(tau >= tau0 && tau <= tauMax)) {
      throw new Error(
        `hla: state "tau" must be a number in [${tau0}, ${tauMax}], got ${JSON.stringify(tau)}`,
      );
    }
    this.state = { phase, lambda, tau };
  }

  /**
   * Shares of the ternary codes, `α`, and in `extra`: `cosine` between `W`
   * and `T` (as the regularizer computes it), the threshold `delta`, and the
   * schedule's `lambda`, `tau`, `phase`.
   */
  stats(kernel: tf.Tensor, _params?: QuantizerParams): LayerQuantStats {
    return tidyValue(() => {
      const p = projectKernel(kernel, this.config.deltaFactor); // throws on NaN/Inf
      const normT = tf.sqrt(p.count);
      // Scale-free: on W / p.scale (a kernel whose sums would overflow) with ε / p.scale.
      const denominator = tf.add(
        tf.mul(kernelNorm(scaledKernel(kernel, p.scale)), normT),
        this.config.epsilon / p.scale,
      );
      const cosine =
        p.scale === 1 ? tf.div(p.maskedSum, denominator) : tf.divNoNan(p.maskedSum, denominator);
      return {
        quantizer: this.name,
        bits: 2,
        numWeights: kernel.size,
        share: codeShares(p.codes),
        scales: { alpha: readScale(projectionAlpha(p)) },
        extra: {
          cosine: cosine.dataSync()[0]!,
          delta: p.deltaValue,
          lambda: this.state.lambda,
          tau: this.state.tau,
          phase: this.state.phase,
        },
      };
    });
  }

  /** Codes `T` and `positive = negative = α` (the projection the deployed model uses, in either phase). */
  exportTernary(kernel: tf.Tensor, _params?: QuantizerParams): TernaryExport {
    return tidyValue(() => {
      const p = projectKernel(kernel, this.config.deltaFactor); // throws on NaN/Inf
      const alpha = projectionAlpha(p);
      return makeTernaryExport(p.codes, alpha, alpha, 2);
    });
  }
}

registerQuantizer(
  {
    name: 'hla',
    description:
      'hyperspherical loss-aware ternary: cosine regularizer towards the TWN projection, then ' +
      'ternary with a sigmoid-derivative re-scaled STE (reconstructed; every element [chosen])',
    paper:
      'Liu & Liu, "Hyperspherical Loss-Aware Ternary Quantization", arXiv:2212.12649 ' +
      '(related: Liu, Chen, Ma & Liu, "Hyperspherical Quantization", WACV 2023, arXiv:2212.12653); ' +
      'reconstructed from the abstract, every element is [chosen]',
  },
  (config) => new HLAQuantizer(config),
);
