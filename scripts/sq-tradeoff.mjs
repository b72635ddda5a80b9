#!/usr/bin/env node
// Smart Quantization's memory / accuracy trade-off, read from the results.json
// of a `trit bench` study (e.g. docs/results/sq-tradeoff/study.json): one row
// per method with its quantizer's gamma and lambda, SQ's final beta range over the layers,
// binary layers (and which), bits per quantized weight, weight memory and test accuracy,
// sorted by memory. BWN (all binary)
// and TWN (all ternary) rows are the two ends.
//
//   node scripts/sq-tradeoff.mjs <results.json> [--json out.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { bitsPerQuantizedWeight } from '@trit/cli';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: 'string' } },
});
const file = positionals[0];
if (!file) throw new Error('usage: node scripts/sq-tradeoff.mjs <results.json> [--json out.json]');
/** @type {{ runs: import('@trit/cli').RunResult[] }} */
const results = JSON.parse(readFileSync(file, 'utf8'));

/**
 * The smallest and largest final β over a run's SQ layers, or null for other quantizers.
 * @param {{ extra?: { beta?: number } }[]} layers
 * @returns {[number, number] | null}
 */
function betaRange(layers) {
  const betas = layers.flatMap((l) => (typeof l.extra?.beta === 'number' ? [l.extra.beta] : []));
  return betas.length ? [Math.min(...betas), Math.max(...betas)] : null;
}

const rows = results.runs.map((r) => {
  const layers = (r.history.at(-1)?.layers ?? []).filter((l) => l.bits < 32);
  return {
    method: r.method,
    seed: r.seed,
    gamma: r.quantizer.name === 'sq' ? Number(r.quantizer.config.gamma) : null,
    lambda: r.quantizer.name === 'sq' ? Number(r.quantizer.config.lambda) : null,
    binaryLayers: layers.filter((l) => l.bits === 1).length,
    // One letter per quantized layer in model order: B binary, t ternary (which layers switched).
    pattern: layers.map((l) => (l.bits === 1 ? 'B' : 't')).join(''),
    // SQ's per-layer shape parameter at the end (binary from pi/2 - binaryMargin): where gamma left it.
    beta: betaRange(layers),
    quantizedLayers: layers.length,
    // null for a run without quantized layers (FP32): shown as '–', not as 32 bits.
    bitsPerWeight: bitsPerQuantizedWeight(r),
    weightMemoryKiB: r.weightMemoryBytes / 1024,
    accuracy: r.finalTestAccuracy,
  };
});
rows.sort((a, b) => a.weightMemoryKiB - b.weightMemoryKiB || a.method.localeCompare(b.method));

console.log(
  '| method | seed | γ | λ | final β (min–max over layers) | binary layers | layers (B binary, t ternary) | bits / quantized weight | weight memory | test accuracy (%) |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.method} | ${r.seed} | ${r.gamma ?? '–'} | ${r.lambda ?? '–'} | ${r.beta ? `${r.beta[0].toFixed(3)}–${r.beta[1].toFixed(3)}` : '–'} | ${r.quantizedLayers ? `${r.binaryLayers}/${r.quantizedLayers}` : '–'} | ${r.pattern ? `\`${r.pattern}\`` : '–'} | ${r.bitsPerWeight?.toFixed(3) ?? '–'} | ${r.weightMemoryKiB.toFixed(1)} KiB | ${(r.accuracy * 100).toFixed(2)} |`,
  );
}
if (opts.json) writeFileSync(opts.json, `${JSON.stringify(rows, null, 1)}\n`);
