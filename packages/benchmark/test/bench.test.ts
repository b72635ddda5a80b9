import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendInfo, initBackend } from '@trit/quant-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runsCsv, summarize, summaryMarkdown } from '../src/bench/aggregate.js';
import { getPreset, PRESETS, type Preset } from '../src/bench/presets.js';
import { collectRuns, gridSlice, type RunResult, runBench } from '../src/bench/run.js';
import { syntheticData } from '../src/training/synthetic-data.js';
import type { TrainData } from '../src/training/train.js';
import { removeDir, tempDir } from './bench-support.js';

let backend: BackendInfo;
let work: string;
beforeAll(async () => {
  backend = await initBackend({ quiet: true });
  work = tempDir('trit-bench-');
});
afterAll(() => {
  removeDir(work);
  tf.disposeVariables();
});

describe('gridSlice', () => {
  const methods = ['fp32', 'bwn', 'twn', 'ttq', 'sq', 'hla'];
  const seeds = [0, 1, 2];

  it('the whole grid, seed-major in a fixed order', () => {
    expect(gridSlice(['a', 'b'], [0, 1])).toEqual([
      { method: 'a', seed: 0 },
      { method: 'b', seed: 0 },
      { method: 'a', seed: 1 },
      { method: 'b', seed: 1 },
    ]);
  });

  it('every (method, seed) lands in exactly one shard, for every N', () => {
    const key = (c: { method: string; seed: number }) => `${c.method}/${c.seed}`;
    const all = gridSlice(methods, seeds).map(key);
    expect(all).toHaveLength(18);
    for (const n of [1, 2, 3, 4, 5, 7, 18, 25]) {
      const shards = Array.from({ length: n }, (_, i) =>
        gridSlice(methods, seeds, [i + 1, n]).map(key),
      );
      const seen = shards.flat();
      expect(seen.sort(), `N=${n}`).toEqual([...all].sort());
      expect(new Set(seen).size).toBe(18);
      // round-robin: shard sizes differ by at most one
      const sizes = shards.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(gridSlice(['a', 'b', 'c'], [0], [2, 2])).toEqual([{ method: 'b', seed: 0 }]);
  });

  it('bad i/N are errors naming the shard', () => {
    for (const [i, n] of [
      [0, 2],
      [3, 2],
      [1, 0],
      [-1, 2],
      [1.5, 2],
      [1, 2.5],
    ] as const) {
      expect(() => gridSlice(methods, seeds, [i, n])).toThrow(
        `--shard must be i/N with 1 <= i <= N, got ${i}/${n}`,
      );
    }
  });
});

describe('presets', () => {
  it('unknown preset: the error lists the presets', () => {
    expect(() => getPreset('nope')).toThrow(
      `unknown preset "nope"; presets: ${Object.keys(PRESETS).join(', ')}`,
    );
    expect(Object.keys(PRESETS)).toEqual(
      expect.arrayContaining(['smoke', 'quick', 'cifar10-resnet20']),
    );
    expect(getPreset('smoke').data.type).toBe('synthetic');
  });
});

function fakeRun(method: string, seed: number, over: Partial<RunResult>): RunResult {
  return {
    method,
    seed,
    quantizer: { name: method, config: {} },
    protocol: 'finetune',
    epochs: 2,
    history: [],
    initialLayers: [],
    finalTestAccuracy: 0,
    bestTestAccuracy: 0,
    weightMemoryBytes: 0,
    float32MemoryBytes: 0,
    compressionRatio: 1,
    sparsity: 0,
    trainImagesPerSecond: 0,
    wallSeconds: 0,
    params: 100,
    macs: 1000,
    ...over,
  };
}

describe('summarize / summaryMarkdown / runsCsv', () => {
  const runs = [
    fakeRun('twn', 1, {
      finalTestAccuracy: 0.89,
      bestTestAccuracy: 0.9,
      weightMemoryBytes: 7920,
      float32MemoryBytes: 77040,
      compressionRatio: 9.7273,
      sparsity: 0.41,
      trainImagesPerSecond: 700,
      wallSeconds: 80,
    }),
    fakeRun('fp32', 0, {
      finalTestAccuracy: 0.9,
      bestTestAccuracy: 0.9,
      weightMemoryBytes: 77000,
      float32MemoryBytes: 77000,
      sparsity: 0,
      trainImagesPerSecond: 740,
      wallSeconds: 1.5,
    }),
    fakeRun('twn', 0, {
      finalTestAccuracy: 0.85,
      bestTestAccuracy: 0.86,
      weightMemoryBytes: 7920,
      float32MemoryBytes: 77040,
      compressionRatio: 9.7273,
      sparsity: 0.4,
      trainImagesPerSecond: 600,
      wallSeconds: 100,
    }),
    fakeRun('fp32', 1, {
      finalTestAccuracy: 0.92,
      bestTestAccuracy: 0.93,
      weightMemoryBytes: 77000,
      float32MemoryBytes: 77000,
      sparsity: 0,
      trainImagesPerSecond: 760,
      wallSeconds: 0.5,
    }),
  ];

  it('mean and sample std over seeds, gap to FP32 in points, means of memory/sparsity/speed, summed wall time', () => {
    const [fp32, twn] = summarize(runs, ['fp32', 'twn']);
    expect(fp32!.method).toBe('fp32');
    expect(fp32!.seeds).toEqual([0, 1]);
    expect(fp32!.accuracyMean).toBeCloseTo(0.91, 12); // (0.90 + 0.92) / 2
    expect(fp32!.accuracyStd).toBeCloseTo(0.0141421356, 9); // √((0.01² + 0.01²) / 1)
    expect(fp32!.gapToFp32).toBeCloseTo(0, 12);
    expect(twn!.accuracyMean).toBeCloseTo(0.87, 12);
    expect(twn!.accuracyStd).toBeCloseTo(0.0282842712, 9); // √((0.02² + 0.02²) / 1)
    expect(twn!.gapToFp32).toBeCloseTo(-4, 10); // (0.87 − 0.91) · 100
    expect(twn!.sparsity).toBeCloseTo(0.405, 12);
    expect(twn!.trainImagesPerSecond).toBe(650);
    expect(twn!.wallSeconds).toBe(180);
    expect(twn!.weightMemoryBytes).toBe(7920);
  });

  it('orders rows by the given order, then alphabetically; one seed has std 0; no FP32 run means no gap', () => {
    expect(summarize(runs, ['twn', 'fp32']).map((r) => r.method)).toEqual(['twn', 'fp32']);
    expect(summarize(runs).map((r) => r.method)).toEqual(['fp32', 'twn']);
    expect(summarize(runs, ['twn']).map((r) => r.method)).toEqual(['twn', 'fp32']);
    const [only] = summarize([runs[0]!]);
    expect(only!.accuracyStd).toBe(0);
    expect(only!.gapToFp32).toBeNull();
  });

  it('the Markdown table', () => {
    expect(summaryMarkdown(summarize(runs, ['fp32', 'twn']))).toBe(
      [
        '| method | seeds | test accuracy (%) | gap to FP32 (points) | weight memory | compression | sparsity | train images/s | wall time |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        // 77000 B / 1024 = 75.2 KiB; 2.0 s summed
        '| fp32 | 2 | 91.00 ± 1.41 | +0.00 | 75.2 KiB | 1.0x | 0.0% | 750 | 2.0 s |',
        // 7920 B / 1024 = 7.7 KiB; 180 s = 3.0 min
        '| twn | 2 | 87.00 ± 2.83 | -4.00 | 7.7 KiB | 9.7x | 40.5% | 650 | 3.0 min |',
        '',
      ].join('\n'),
    );
    const big = summaryMarkdown(
      summarize([
        fakeRun('sq', 0, {
          finalTestAccuracy: 0.5,
          weightMemoryBytes: 3 * 2 ** 20,
          wallSeconds: 7200,
        }),
      ]),
    );
    expect(big.split('\n')[2]).toBe(
      '| sq | 1 | 50.00 ± 0.00 | n/a | 3.00 MiB | 1.0x | 0.0% | 0 | 2.00 h |',
    );
  });

  it('the CSV: one row per run, sorted by method then seed', () => {
    const lines = runsCsv(runs).trimEnd().split('\n');
    expect(lines[0]).toBe(
      'method,seed,epochs,final_test_accuracy,best_test_accuracy,weight_memory_bytes,float32_memory_bytes,compression_ratio,sparsity,train_images_per_second,wall_seconds,params,macs',
    );
    expect(lines.slice(1)).toEqual([
      'fp32,0,2,0.900000,0.900000,77000,77000,1.0000,0.000000,740.00,1.50,100,1000',
      'fp32,1,2,0.920000,0.930000,77000,77000,1.0000,0.000000,760.00,0.50,100,1000',
      'twn,0,2,0.850000,0.860000,7920,77040,9.7273,0.400000,600.00,100.00,100,1000',
      'twn,1,2,0.890000,0.900000,7920,77040,9.7273,0.410000,700.00,80.00,100,1000',
    ]);
  });
});

describe('runBench (smoke preset, in process)', () => {
  const preset: Preset = getPreset('smoke');
  let loads = 0;
  const loadData = async (p: Preset): Promise<TrainData> => {
    loads++;
    if (p.data.type !== 'synthetic') throw new Error('expected synthetic data');
    return syntheticData(p.data);
  };
  const opts = (outDir: string, log: string[]) => ({
    preset,
    methods: ['fp32', 'twn'],
    pretrainEpochs: 1,
    epochs: 1,
    outDir,
    loadData,
    backend,
    progress: false,
    log: (l: string) => log.push(l),
  });

  it('unknown method: fails before loading data or training, naming the registered quantizers', async () => {
    const outDir = path.join(work, 'unknown');
    const before = loads;
    await expect(runBench({ ...opts(outDir, []), methods: ['fp32', 'nope'] })).rejects.toThrow(
      /^unknown quantizer "nope"; registered: .*fp32.*twn.*ttq.*sq.*hla/,
    );
    expect(loads).toBe(before);
    expect(existsSync(outDir)).toBe(false);
  });

  it('runs each method once from one shared FP32 pre-training; memory and size by hand; --resume reuses finished runs', async () => {
    const outDir = path.join(work, 'run');
    const log: string[] = [];
    const results = await runBench(opts(outDir, log));
    expect(results.map((r) => [r.method, r.seed, r.epochs, r.history.length])).toEqual([
      ['fp32', 0, 1, 1],
      ['twn', 0, 1, 1],
    ]);
    expect(log.filter((l) => l.includes('pre-training FP32'))).toHaveLength(1);
    // Whole-sweep progress after every epoch: 1 pre-training + 2 runs x 1 epoch.
    const overall = log.filter((l) => l.startsWith('[bench] overall: '));
    expect(overall.map((l) => l.split(',')[0])).toEqual([
      '[bench] overall: 1/3 epochs (33%)',
      '[bench] overall: 2/3 epochs (67%)',
      '[bench] overall: 3/3 epochs (100%)',
    ]);
    expect(overall[0]).toMatch(/ min\/epoch, ETA \d+(s|m \d\ds) \(at \d\d:\d\d\)$/);
    expect(overall[2]).toMatch(/, ETA 0s \(at /);
    expect(readdirSync(path.join(outDir, 'runs')).sort()).toEqual(['fp32-seed0', 'twn-seed0']);
    expect(existsSync(path.join(outDir, 'pretrain', 'seed0', 'done.json'))).toBe(true);
    const [fp32, twn] = results as [RunResult, RunResult];
    // ResNet-8, widths 8/16/32, 16x16x3 input, 4 classes:
    //   conv1 216 + bn1 32; stage 1: 2·576 + 2·32; stage 2: 1152 + 2304 + 2·64; stage 3: 4608 + 9216 + 2·128; fc 32·4 + 4
    //   = 248 + 1216 + 3584 + 14080 + 132 = 19260 params (float32: 77040 bytes)
    //   MACs: 16·16·216 + 2·16·16·576 + 8·8·(1152 + 2304) + 4·4·(4608 + 9216) + 128 = 792704
    expect(fp32.params).toBe(19_260);
    expect(fp32.macs).toBe(792_704);
    expect(fp32.float32MemoryBytes).toBe(77_040);
    expect(fp32.weightMemoryBytes).toBe(77_040);
    expect(fp32.compressionRatio).toBe(1);
    expect(fp32.sparsity).toBe(0);
    // TWN: the 5 inner convs (2·576 + 1152 + 2304 + 4608 + 9216 = 18432 weights) at 2 bits = 4608 bytes;
    // conv1 (216), fc (132) and BN (32 + 64 + 128 + 256 = 480) stay float32: 828 · 4 = 3312 bytes.
    expect(twn.weightMemoryBytes).toBe(4608 + 3312);
    expect(twn.compressionRatio).toBeCloseTo(77_040 / 7920, 10);
    expect(twn.sparsity).toBeGreaterThan(0.2); // TWN's Δ = 0.7·E|W| zeroes a large share
    expect(twn.sparsity).toBeLessThan(0.6);
    for (const r of results) {
      expect(r.finalTestAccuracy).toBe(r.history.at(-1)!.testAccuracy);
      expect(r.finalTestAccuracy).toBeGreaterThan(0.5); // 4 separable classes, chance is 0.25
    }

    // --resume: finished runs are reused as they are, nothing is trained again.
    const mtimes = () =>
      ['fp32-seed0', 'twn-seed0'].map(
        (d) => statSync(path.join(outDir, 'runs', d, 'result.json')).mtimeMs,
      );
    const before = mtimes();
    const log2: string[] = [];
    const again = await runBench({ ...opts(outDir, log2), resume: true });
    expect(again).toEqual(results);
    expect(mtimes()).toEqual(before);
    expect(log2).toEqual([
      `[bench] fp32 seed 0: already done, reusing ${path.join(outDir, 'runs', 'fp32-seed0', 'result.json')}`,
      `[bench] twn seed 0: already done, reusing ${path.join(outDir, 'runs', 'twn-seed0', 'result.json')}`,
    ]);

    // One shard of the same grid runs (or here: reuses) only its slice.
    const shard = await runBench({ ...opts(outDir, []), resume: true, shard: [2, 2] });
    expect(shard.map((r) => r.method)).toEqual(['twn']);

    // collectRuns reads them back; merging the same folder twice keeps one run per (method, seed).
    expect(
      collectRuns([outDir, outDir])
        .map((r) => `${r.method}-${r.seed}`)
        .sort(),
    ).toEqual(['fp32-0', 'twn-0']);
  });

  it('collectRuns: a folder that is no bench output is an error naming it; unfinished runs are skipped', () => {
    const empty = path.join(work, 'not-a-bench');
    mkdirSync(empty, { recursive: true });
    expect(() => collectRuns([empty])).toThrow(
      `${empty}: not a trit bench output folder (no runs/ inside)`,
    );
    mkdirSync(path.join(empty, 'runs', 'ttq-seed0', 'checkpoint'), { recursive: true });
    writeFileSync(path.join(empty, 'runs', 'ttq-seed0', 'model.json'), '{}');
    expect(collectRuns([empty])).toEqual([]);
  });
});
