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

/** How far a learned scale may move from its start before it is reported as a runaway. */
export const RUNAWAY_FACTOR = 100;

/**
 * Scales that moved more than {@link RUNAWAY_FACTOR} times up or down from
 * their value before training (`initial`, the run's `initialLayers`): a
 * scale collapsing towards 0 or blowing up, as SQ's α did behind a
 * BatchNorm (docs/results/cifar10-resnet20-long: 0.0193 → 615 in one
 * epoch). Learned scales normally move by a few percent. One entry per
 * layer and scale, e.g. `s3b3_conv2: alpha 0.0193 → 615`.
 */
export function runawayScales(
  initial: readonly LayerStatsRecord[],
  layers: readonly LayerStatsRecord[],
): string[] {
  const out: string[] = [];
  const start = new Map(initial.map((l) => [l.layer, l.scales]));
  const list = (v: number | readonly number[]) => (typeof v === 'number' ? [v] : v);
  for (const l of layers) {
    for (const [name, value] of Object.entries(l.scales)) {
      const before = start.get(l.layer)?.[name];
      if (before === undefined) continue;
      const [a, b] = [list(before), list(value)];
      const moved: { from: number; to: number }[] = [];
      b.forEach((to, i) => {
        const from = a[i];
        if (from === undefined || from === 0) return;
        const ratio = Math.abs(to / from);
        if (ratio > RUNAWAY_FACTOR || ratio < 1 / RUNAWAY_FACTOR) moved.push({ from, to });
      });
      const first = moved[0];
      if (!first) continue;
      const change = `${first.from.toPrecision(3)} → ${first.to.toPrecision(3)}`;
      out.push(
        typeof value === 'number'
          ? `${l.layer}: ${name} ${change}`
          : `${l.layer}: ${name} in ${moved.length} of ${b.length} channels (e.g. ${change})`,
      );
    }
  }
  return out;
}

/** One line for a log or a table note, or undefined when no scale ran away. */
export function runawayScalesLine(
  initial: readonly LayerStatsRecord[],
  layers: readonly LayerStatsRecord[],
): string | undefined {
  const found = runawayScales(initial, layers);
  if (!found.length) return undefined;
  return `scales more than ${RUNAWAY_FACTOR}x away from their start in ${found.length} place${found.length === 1 ? '' : 's'} (a collapsed or diverged layer): ${found.join(', ')}`;
}
