import type { LayerStatsRecord } from '../training/train.js';

/**
 * Layers whose quantization scales went below zero. Every quantizer here
 * stores its levels' scales as magnitudes (TTQ's `Wp`/`Wn`, BWN/TWN's `α`,
 * SQ's `α`), so a negative one flips the sign of those weights; TTQ puts no
 * constraint on its learned scales and docs/algorithms.md#ttq asks to report it.
 * One line per layer, e.g. `s1b1_conv2: wp = -0.0128`.
 */
export function negativeScales(layers: readonly LayerStatsRecord[]): string[] {
  const out: string[] = [];
  for (const l of layers) {
    for (const [name, value] of Object.entries(l.scales)) {
      const values = typeof value === 'number' ? [value] : value;
      const below = values.filter((v) => v < 0);
      if (!below.length) continue;
      out.push(
        typeof value === 'number'
          ? `${l.layer}: ${name} = ${value.toPrecision(3)}`
          : `${l.layer}: ${name} < 0 in ${below.length} of ${values.length} channels (min ${Math.min(...below).toPrecision(3)})`,
      );
    }
  }
  return out;
}

/** One line for a log or a table note: how many layers, and which. */
export function negativeScalesLine(layers: readonly LayerStatsRecord[]): string | undefined {
  const found = negativeScales(layers);
  if (!found.length) return undefined;
  const quantized = layers.filter((l) => l.bits < 32).length;
  return `scales below zero in ${found.length} place${found.length === 1 ? '' : 's'} (of ${quantized} quantized layers; the sign of those weights is flipped): ${found.join(', ')}`;
}
