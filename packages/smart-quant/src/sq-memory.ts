/** One layer as {@link sqMemoryReport} sees it (a `LayerQuantStats` fits). */
export interface SQMemoryLayer {
  /** Number of weights `N_l` of the kernel. */
  readonly numWeights: number;
  /** Bits per weight `b_l`: 1 binary, 2 ternary, 32 for a layer left in full precision. */
  readonly bits: number;
}

/** The model-level weight memory of an SQ model against an all-ternary one. */
export interface SQMemoryReport {
  /** Number of layers counted. */
  readonly layers: number;
  /** Layers with 1 bit per weight. */
  readonly binaryLayers: number;
  /** Layers with 2 bits per weight. */
  readonly ternaryLayers: number;
  /** Layers with any other bit-width (full-precision layers), counted unchanged on both sides. */
  readonly otherLayers: number;
  /** `Σ_l N_l`. */
  readonly weights: number;
  /** Weight memory of the model, `Σ_l N_l · b_l` bits. */
  readonly bits: number;
  /** The same model with every 1- or 2-bit layer ternary: `Σ_l N_l · max(b_l, 2)` bits. */
  readonly allTernaryBits: number;
  /** `allTernaryBits − bits`. */
  readonly savedBits: number;
  /** `bits / allTernaryBits` (1 when the model has no weights). */
  readonly ratio: number;
}

/**
 * SQ's model-level memory figure (docs/algorithms.md#sq): the weight memory
 * `Σ_l N_l · b_l` bits against an all-ternary model.
 *
 * The all-ternary reference is the same model with every quantized layer
 * (1 or 2 bits) at 2 bits; layers at any other bit-width (the full-precision
 * first conv and last dense layer, 32 bits) count the same on both sides, so
 * `savedBits` is exactly what binary layers save. Pass them, or leave them
 * out to compare the quantized layers alone.
 *
 * @param layers per-layer `{ numWeights, bits }`, e.g. `SQQuantizer.stats()` outputs.
 * @throws if a `numWeights` is not a non-negative integer or a `bits` is not a positive finite number.
 */
export function sqMemoryReport(layers: readonly SQMemoryLayer[]): SQMemoryReport {
  let binaryLayers = 0;
  let ternaryLayers = 0;
  let weights = 0;
  let bits = 0;
  let allTernaryBits = 0;
  layers.forEach((layer, i) => {
    const { numWeights, bits: b } = layer;
    if (!Number.isInteger(numWeights) || numWeights < 0) {
      throw new Error(
        `sqMemoryReport: layer ${i}: numWeights must be a non-negative integer, got ${numWeights}`,
      );
    }
    if (!Number.isFinite(b) || b <= 0) {
      throw new Error(
        `sqMemoryReport: layer ${i}: bits must be a positive finite number, got ${b}`,
      );
    }
    if (b === 1) binaryLayers++;
    else if (b === 2) ternaryLayers++;
    weights += numWeights;
    bits += numWeights * b;
    allTernaryBits += numWeights * Math.max(b, 2);
  });
  return {
    layers: layers.length,
    binaryLayers,
    ternaryLayers,
    otherLayers: layers.length - binaryLayers - ternaryLayers,
    weights,
    bits,
    allTernaryBits,
    savedBits: allTernaryBits - bits,
    ratio: allTernaryBits > 0 ? bits / allTernaryBits : 1,
  };
}
