#!/usr/bin/env node
// Smart Quantization's accuracy / memory trade-off over γ (and λ): each setting
// fine-tunes ResNet-20 from one shared FP32 checkpoint of the `quick` preset
// (CIFAR-10 sample) and reports test accuracy, binary layers and weight memory.
//
//   node benchmarks/sq-sweep.mjs --pretrain <bench-out>/pretrain [--out DIR]
//        [--gammas 1e-4,1e-3,1e-2,5e-2] [--lambdas 1e-3] [--epochs 3]
//
// `--pretrain` is the `pretrain/` folder of a finished `trit bench --preset quick`
// run (so every setting starts from the same weights).
import '@trit/smart-quant';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { getPreset, loadPresetData, runBench } from '@trit/benchmark';
import { initBackend } from '@trit/quant-core';

const { values: opts } = parseArgs({
  options: {
    pretrain: { type: 'string' },
    out: { type: 'string', default: 'runs/sq-sweep' },
    gammas: { type: 'string', default: '1e-4,1e-3,1e-2,5e-2' },
    lambdas: { type: 'string', default: '1e-3' },
    epochs: { type: 'string', default: '3' },
  },
});
if (!opts.pretrain || !existsSync(path.join(opts.pretrain, 'seed0', 'done.json'))) {
  throw new Error('--pretrain must point at the pretrain/ folder of a finished quick bench run');
}
const backend = await initBackend();
const base = getPreset('quick');
const rows = [];
for (const lambda of opts.lambdas.split(',').map(Number)) {
  for (const gamma of opts.gammas.split(',').map(Number)) {
    const out = path.resolve(opts.out, `lambda${lambda}-gamma${gamma}`);
    mkdirSync(out, { recursive: true });
    const link = path.join(out, 'pretrain');
    if (!existsSync(link)) symlinkSync(path.resolve(opts.pretrain), link);
    const preset = { ...base, methods: ['sq'], quantizerConfigs: { sq: { lambda, gamma } } };
    const [r] = await runBench({
      preset,
      outDir: out,
      epochs: Number(opts.epochs),
      resume: true,
      loadData: (p) => loadPresetData(p.data),
      backend,
      progress: false,
    });
    const layers = r.history.at(-1).layers.filter((l) => l.quantizer === 'sq');
    const binary = layers.filter((l) => l.bits === 1).length;
    const bits = layers.reduce((a, l) => a + l.numWeights * l.bits, 0);
    const ternaryBits = layers.reduce((a, l) => a + l.numWeights * 2, 0);
    rows.push({
      lambda,
      gamma,
      acc: r.finalTestAccuracy,
      binary,
      total: layers.length,
      ratio: bits / ternaryBits,
      kib: r.weightMemoryBytes / 1024,
    });
    console.error(
      `[sq-sweep] λ=${lambda} γ=${gamma}: ${(r.finalTestAccuracy * 100).toFixed(2)}%, ${binary}/${layers.length} binary`,
    );
  }
}
console.log(
  `\nSQ sweep on the quick preset (ResNet-20, CIFAR-10 sample), ${opts.epochs} fine-tuning epochs from one FP32 checkpoint, ${backend.name}\n`,
);
console.log(
  '| λ | γ | test accuracy (%) | binary layers | quantized-kernel bits vs all-ternary | weight memory |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.lambda} | ${r.gamma} | ${(r.acc * 100).toFixed(2)} | ${r.binary}/${r.total} | ${(r.ratio * 100).toFixed(1)}% | ${r.kib.toFixed(1)} KiB |`,
  );
}
