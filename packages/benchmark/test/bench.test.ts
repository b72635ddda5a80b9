import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendInfo, initBackend } from '@trit/quant-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runsCsv, summarize, summaryMarkdown } from '../src/bench/aggregate.js';
import { type BenchMeta, formatMachine, writeBenchOutputs } from '../src/bench/outputs.js';
import { getPreset, presetNames } from '../src/bench/presets.js';
import {
  collectPretraining,
  collectRuns,
  gridSlice,
  historyWallSeconds,
  machineInfo,
  type RunResult,
  runBench,
} from '../src/bench/run.js';
import type { Study } from '../src/bench/study.js';
import type { StudyOverrides } from '../src/cli/bench-command.js';
import { syntheticData } from '../src/training/synthetic-data.js';
import type { EpochRecord, LayerStatsRecord, TrainData } from '../src/training/train.js';
import { removeDir, smokeStudy, tempDir } from './bench-support.js';

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
      `unknown preset "nope"; presets: ${presetNames().join(', ')}`,
    );
    expect(presetNames()).toEqual(expect.arrayContaining(['smoke', 'quick', 'cifar10-resnet20']));
    expect((getPreset('smoke').data as { type: string }).type).toBe('synthetic');
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

const FULL_MACHINE = {
  cpu: 'AMD EPYC 9B14  ',
  cores: 2,
  memoryGiB: 24,
  platform: 'linux 6.18.44 x64',
  node: 'v20.20.2',
};

function benchMeta(machine: Record<string, unknown>): BenchMeta {
  return {
    preset: 'smoke',
    command: 'trit bench --preset smoke --methods fp32,twn',
    config: {},
    backend: { name: 'tensorflow', tensorflowVersion: '2.21.0' },
    versions: {},
    machine,
    methodOrder: ['fp32', 'twn'],
  };
}

describe('formatMachine', () => {
  it('a full machineInfo() record reads as one line', () => {
    expect(formatMachine(FULL_MACHINE)).toBe(
      'AMD EPYC 9B14, 2 cores, 24 GiB RAM, linux 6.18.44 x64, Node v20.20.2',
    );
    // This machine's record has every field in that order.
    expect(formatMachine(machineInfo())).toMatch(
      /^[^,]+, \d+ cores?, \d+ GiB RAM, [a-z0-9]+ \S+ \S+, Node v\d+\.\d+\.\d+$/,
    );
  });

  it('partial records (older results.json): missing or unknown values are left out, other keys appended', () => {
    expect(formatMachine({ cpu: 'unknown', cores: 1, node: 'v18.19.0' })).toBe(
      '1 core, Node v18.19.0',
    );
    expect(formatMachine({ platform: 'darwin 23.1.0 arm64', memoryGiB: 16, gpu: 'none' })).toBe(
      '16 GiB RAM, darwin 23.1.0 arm64, gpu: none',
    );
    expect(formatMachine({ cpu: 'Xeon', cores: null, memoryGiB: Number.NaN })).toBe('Xeon');
    expect(formatMachine({})).toBe('unknown');
    expect(formatMachine(undefined)).toBe('unknown');
  });
});

describe('runBench (smoke preset, in process)', () => {
  let loads = 0;
  const loadData = async (p: Study): Promise<TrainData> => {
    loads++;
    if (p.data.type !== 'synthetic') throw new Error('expected synthetic data');
    return syntheticData(p.data);
  };
  const opts = (
    outDir: string,
    log: string[],
    o: StudyOverrides = {},
    patch: Record<string, unknown> = {},
  ) => ({
    study: smokeStudy({ methods: ['fp32', 'twn'], pretrainEpochs: 1, epochs: 1, ...o }, patch),
    outDir,
    loadData,
    backend,
    progress: false,
    log: (l: string) => log.push(l),
  });

  it('unknown method: fails before loading data or training, naming the registered quantizers', async () => {
    const outDir = path.join(work, 'unknown');
    const before = loads;
    await expect(runBench(opts(outDir, [], { methods: ['fp32', 'nope'] }))).rejects.toThrow(
      /^study:\n {2}methods\[1\]: unknown quantizer "nope"; registered: .*fp32.*twn.*ttq.*sq.*hla/,
    );
    expect(loads).toBe(before);
    expect(existsSync(outDir)).toBe(false);
  });

  it('method variants: ttq and ttq:init=mean side by side, each with its own config, folder and row; bad variants fail before loading data', async () => {
    const before = loads;
    const bad = (methods: string[]) =>
      runBench(opts(path.join(work, 'bad-variant'), [], { methods }));
    await expect(bad(['fp32', 'ttq:init=zero'])).rejects.toThrow(
      /^study:\n {2}methods\[1\]: method "ttq:init=zero": ttq: /,
    );
    await expect(bad(['ttq', 'ttq'])).rejects.toThrow(
      'study:\n  methods[1]: method label "ttq" is used twice; give one of them a `label`',
    );
    expect(loads).toBe(before);

    const outDir = path.join(work, 'variants');
    const results = await runBench(opts(outDir, [], { methods: ['ttq', 'ttq:init=mean'] }));
    expect(readdirSync(path.join(outDir, 'runs')).sort()).toEqual([
      'ttq-seed0',
      'ttq_init=mean-seed0',
    ]);
    const [plain, mean] = results as [RunResult, RunResult];
    expect([plain.method, plain.quantizer]).toEqual([
      'ttq',
      { name: 'ttq', config: { threshold: 0.05, init: 'one' } },
    ]);
    expect([mean.method, mean.quantizer]).toEqual([
      'ttq:init=mean',
      { name: 'ttq', config: { threshold: 0.05, init: 'mean' } },
    ]);
    // Before fine-tuning: the official init puts Wp = Wn = 1; 'mean' the kept weights' mean |W| (≪ 1 here).
    const wp = (r: RunResult) =>
      r.initialLayers.filter((l) => l.bits < 32).map((l) => l.scales.wp as number);
    expect(wp(plain).every((v) => v === 1)).toBe(true);
    expect(wp(mean).length).toBe(wp(plain).length);
    for (const v of wp(mean)) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(0.5);
    }
    expect(summarize(results, ['ttq', 'ttq:init=mean']).map((m) => m.method)).toEqual([
      'ttq',
      'ttq:init=mean',
    ]);
    expect(
      collectRuns([outDir])
        .map((r) => r.method)
        .sort(),
    ).toEqual(['ttq', 'ttq:init=mean']);
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
      // Every epoch times its test evaluation; wall time = training loops + evaluations.
      for (const h of r.history) {
        expect(typeof h.evalSeconds, r.method).toBe('number');
        expect(h.evalSeconds!, r.method).toBeGreaterThan(0);
        expect(h.seconds, r.method).toBeGreaterThan(0);
      }
      const training = r.history.reduce((a, h) => a + h.seconds, 0);
      const evaluation = r.history.reduce((a, h) => a + h.evalSeconds!, 0);
      expect(r.wallSeconds, r.method).toBeCloseTo(training + evaluation, 12);
      expect(r.wallSeconds, r.method).toBeGreaterThan(training);
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

  it('collectPretraining: the smoke run’s FP32 pre-training as done.json records it; the same folder twice gives one seed', () => {
    const outDir = path.join(work, 'run'); // written by the test above
    const done = JSON.parse(
      readFileSync(path.join(outDir, 'pretrain', 'seed0', 'done.json'), 'utf8'),
    ) as { history: EpochRecord[] };
    expect(done.history).toHaveLength(1); // --pretrain-epochs 1
    const [h] = done.history as [EpochRecord];
    expect(h.evalSeconds).toBeGreaterThan(0);
    const pretraining = collectPretraining([outDir, outDir]);
    expect(pretraining).toEqual([
      {
        seed: 0,
        epochs: 1,
        finalTestAccuracy: h.testAccuracy,
        bestTestAccuracy: h.testAccuracy,
        trainImagesPerSecond: h.imagesPerSecond,
        wallSeconds: h.seconds + h.evalSeconds!,
        history: done.history,
      },
    ]);
    expect(pretraining[0]!.finalTestAccuracy).toBeGreaterThan(0.5);
  });

  it('writeBenchOutputs: a run that ends with a scale below zero gets a warning note in summary.md and report.html', () => {
    const runs = collectRuns([path.join(work, 'run')]); // written by the smoke run test above
    const twn = runs.find((r) => r.method === 'twn')!;
    const last = twn.history.at(-1)!;
    const quantized = last.layers.filter((l) => l.bits < 32);
    const [first] = quantized as [LayerStatsRecord];
    const key = Object.keys(first.scales)[0]!;
    const flipped: RunResult = {
      ...twn,
      history: [
        ...twn.history.slice(0, -1),
        {
          ...last,
          layers: last.layers.map((l) =>
            l === first ? { ...l, scales: { ...l.scales, [key]: -0.5 } } : l,
          ),
        },
      ],
    };
    const out = path.join(work, 'outputs-warning');
    mkdirSync(out, { recursive: true });
    writeBenchOutputs(
      out,
      runs.map((r) => (r === twn ? flipped : r)),
      benchMeta(FULL_MACHINE),
    );
    const warning =
      `Warning: twn seed 0 ended with scales below zero in 1 place (of ${quantized.length} quantized layers; ` +
      `the sign of those weights is flipped): ${first.layer}: ${key} = -0.500.`;
    expect(readFileSync(path.join(out, 'summary.md'), 'utf8').split('\n')).toContain(warning);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain(
      `<p class="caption">${warning}</p>`,
    );
  });

  it('writeBenchOutputs: summary.md has the machine line, the wall-time note and the FP32 pre-training after the table; results.json and report.html have it too', () => {
    const outDir = path.join(work, 'run'); // written by the smoke run test above
    const runs = collectRuns([outDir]);
    const pretraining = collectPretraining([outDir]);
    const out = path.join(work, 'outputs');
    mkdirSync(out, { recursive: true });
    writeBenchOutputs(out, runs, benchMeta(FULL_MACHINE), pretraining);
    const md = readFileSync(path.join(out, 'summary.md'), 'utf8');
    const lines = md.split('\n');
    expect(lines).toContain(
      'Backend: tensorflow (TensorFlow 2.21.0). Machine: AMD EPYC 9B14, 2 cores, 24 GiB RAM, linux 6.18.44 x64, Node v20.20.2.',
    );
    expect(lines).toContain(
      'Sparsity is the share of zero codes over the quantized layers. Wall time, summed over a method’s seeds, ' +
        'is the training plus the test evaluation after every epoch; checkpoint writes and the FP32 pre-training (listed below) are not included.',
    );
    expect(md).not.toContain('written before the evaluation was timed');
    expect(md).not.toContain('Warning:');
    // The pre-training part, after the table and its notes, with done.json's numbers.
    const [h] = (
      JSON.parse(readFileSync(path.join(outDir, 'pretrain', 'seed0', 'done.json'), 'utf8')) as {
        history: EpochRecord[];
      }
    ).history as [EpochRecord];
    const at = lines.indexOf('## FP32 pre-training (shared starting point of every method)');
    const lastRow = lines.length - 1 - [...lines].reverse().findIndex((l) => l.startsWith('| '));
    expect(lines[lastRow]).toMatch(/^\| twn \| 1 \| /);
    expect(at).toBeGreaterThan(lastRow);
    expect(at).toBeGreaterThan(lines.findIndex((l) => l.startsWith('Sparsity is')));
    const pretrainLine =
      `seed 0: 1 epoch, final test accuracy ${(h.testAccuracy * 100).toFixed(2)}% (best ${(h.testAccuracy * 100).toFixed(2)}%), ` +
      `${h.imagesPerSecond.toFixed(0)} train images/s, wall time ${(h.seconds + h.evalSeconds!).toFixed(1)} s`;
    expect(lines.slice(at)).toEqual([
      '## FP32 pre-training (shared starting point of every method)',
      '',
      'Every method in the table is fine-tuned from the FP32 model of its seed trained here; this pre-training is not in the table’s wall time.',
      '',
      `- ${pretrainLine}`,
      '',
    ]);
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      pretraining: unknown;
      runs: RunResult[];
    };
    expect(json.pretraining).toEqual(pretraining);
    expect(json.runs.map((r) => r.wallSeconds)).toEqual(runs.map((r) => r.wallSeconds));
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<canvas id="pretrain-accuracy">');
    expect(html).toContain('<h2>FP32 pre-training: test accuracy per epoch</h2>');
    expect(html).toContain(`<li>${pretrainLine}</li>`);
    expect(html).toContain(
      'Machine: AMD EPYC 9B14, 2 cores, 24 GiB RAM, linux 6.18.44 x64, Node v20.20.2<br>',
    );
  });

  it('records of older versions (no evalSeconds) still load and resume: wall time = Σ seconds, and summary.md says so', async () => {
    const old = path.join(work, 'old-style');
    cpSync(path.join(work, 'run'), old, { recursive: true }); // the smoke run of the test above
    const strip = (history: EpochRecord[]) => history.map(({ evalSeconds: _e, ...rest }) => rest);
    // The twn checkpoint and the pre-training as an older version wrote them.
    const index = path.join(old, 'runs', 'twn-seed0', 'checkpoint', 'checkpoint.json');
    const saved = JSON.parse(readFileSync(index, 'utf8'));
    saved.state.history = strip(saved.state.history);
    writeFileSync(index, JSON.stringify(saved));
    const done = path.join(old, 'pretrain', 'seed0', 'done.json');
    writeFileSync(
      done,
      JSON.stringify({ history: strip(JSON.parse(readFileSync(done, 'utf8')).history) }),
    );
    rmSync(path.join(old, 'runs', 'twn-seed0', 'result.json'));

    const log: string[] = [];
    const results = await runBench({ ...opts(old, log), resume: true });
    // twn resumed from its (finished) checkpoint: no epoch ran again.
    expect(log.filter((l) => l.startsWith('[bench] overall'))).toEqual([]);
    const twn = results.find((r) => r.method === 'twn')!;
    expect(twn.history).toHaveLength(1);
    expect(twn.history[0]!.evalSeconds).toBeUndefined();
    expect(twn.wallSeconds).toBe(twn.history[0]!.seconds);
    expect(twn.wallSeconds).toBeGreaterThan(0);
    const [p] = collectPretraining([old]);
    expect(p!.history[0]!.evalSeconds).toBeUndefined();
    expect(p!.wallSeconds).toBe(p!.history[0]!.seconds);

    writeBenchOutputs(old, collectRuns([old]), benchMeta(FULL_MACHINE), collectPretraining([old]));
    expect(readFileSync(path.join(old, 'summary.md'), 'utf8')).toContain(
      'are not included. 1 of the runs was written before the evaluation was timed: its wall time is training only.\n',
    );
  });

  it('historyWallSeconds: Σ (seconds + evalSeconds), a record without evalSeconds counts its seconds', () => {
    const record = (seconds: number, evalSeconds?: number): EpochRecord => ({
      epoch: 1,
      lr: 0.1,
      trainLoss: 1,
      trainAccuracy: 0.5,
      regularizationLoss: 0,
      testLoss: 1,
      testAccuracy: 0.5,
      imagesPerSecond: 100,
      seconds,
      ...(evalSeconds === undefined ? {} : { evalSeconds }),
      layers: [],
    });
    expect(historyWallSeconds([record(1.5, 0.25), record(2, 0.5)])).toBe(4.25); // 1.5 + 0.25 + 2 + 0.5
    expect(historyWallSeconds([record(1.5), record(2)])).toBe(3.5); // 1.5 + 2
    expect(historyWallSeconds([record(1.5, 0.25), record(2)])).toBe(3.75); // 1.5 + 0.25 + 2
    expect(historyWallSeconds([])).toBe(0);
  });

  it('scratch protocol: no pretrain/ folder, and nothing about pre-training in the outputs', async () => {
    const outDir = path.join(work, 'scratch');
    const results = await runBench({
      ...opts(outDir, [], { methods: ['twn'] }, { protocol: 'scratch', finetune: undefined }),
    });
    expect(results.map((r) => [r.method, r.protocol, r.epochs])).toEqual([['twn', 'scratch', 1]]);
    expect(existsSync(path.join(outDir, 'pretrain'))).toBe(false);
    const pretraining = collectPretraining([outDir]);
    expect(pretraining).toEqual([]);
    writeBenchOutputs(outDir, collectRuns([outDir]), benchMeta(FULL_MACHINE), pretraining);
    const md = readFileSync(path.join(outDir, 'summary.md'), 'utf8');
    expect(md).not.toContain('pre-training');
    expect(md.endsWith('after every epoch; checkpoint writes are not included.\n')).toBe(true);
    const json = JSON.parse(readFileSync(path.join(outDir, 'results.json'), 'utf8'));
    expect(Object.keys(json)).not.toContain('pretraining');
    expect(json.runs).toHaveLength(1);
    const html = readFileSync(path.join(outDir, 'report.html'), 'utf8');
    expect(html).not.toContain('pretrain-accuracy');
    expect(html).not.toContain('FP32 pre-training');
  });

  it('collectPretraining: unfinished seeds are skipped; a malformed done.json is an error naming the file', () => {
    const dir = path.join(work, 'bad-pretrain');
    mkdirSync(path.join(dir, 'pretrain', 'seed1', 'checkpoint'), { recursive: true }); // unfinished
    expect(collectPretraining([dir])).toEqual([]);
    mkdirSync(path.join(dir, 'pretrain', 'seed2'), { recursive: true });
    const file = path.join(dir, 'pretrain', 'seed2', 'done.json');
    const cases: [string, RegExp][] = [
      ['{"history": [', /not valid JSON: /],
      ['{"epochs": 3}', /history is missing: .*expected array/],
      ['{"history": []}', /history is \[\]: .*>=1 items/],
      ['{"history": [null]}', /history\[0\] is null: .*expected object/],
      [
        '{"history": [{"epoch": 1, "testAccuracy": "high", "imagesPerSecond": 10, "seconds": 1}]}',
        /history\[0\]\.testAccuracy is "high": .*expected number/,
      ],
      [
        '{"history": [{"epoch": 1, "testAccuracy": 0.5, "imagesPerSecond": 10}]}',
        /history\[0\]\.seconds is missing: .*expected number/,
      ],
      [
        '{"history": [{"epoch": 1, "testAccuracy": 0.5, "imagesPerSecond": 10, "seconds": 1, "evalSeconds": null}]}',
        /history\[0\]\.evalSeconds is null: .*expected number/,
      ],
    ];
    for (const [text, why] of cases) {
      writeFileSync(file, text);
      expect(() => collectPretraining([dir]), text).toThrow(`${file}: malformed done.json (`);
      expect(() => collectPretraining([dir]), text).toThrow(why);
    }
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
