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
import {
  type BenchMeta,
  formatBackend,
  formatMachine,
  writeBenchOutputs,
} from '../src/bench/outputs.js';
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

  it("rows with their own seeds run only those; seeds no row of the study has come after the study's", () => {
    const own: Record<string, number[]> = { b: [0], c: [5, 1] };
    const grid = gridSlice(['a', 'b', 'c'], [0, 1], undefined, (m) => own[m] ?? [0, 1]);
    expect(grid).toEqual([
      { method: 'a', seed: 0 },
      { method: 'b', seed: 0 },
      { method: 'a', seed: 1 },
      { method: 'c', seed: 1 },
      { method: 'c', seed: 5 },
    ]);
    const shards = [1, 2].map((i) =>
      gridSlice(['a', 'b', 'c'], [0, 1], [i, 2], (m) => own[m] ?? [0, 1]),
    );
    expect(shards.flat()).toHaveLength(5);
    expect(new Set(shards.flat().map((c) => `${c.method}/${c.seed}`)).size).toBe(5);
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

/** A history whose last epoch has layers of these [bits, weights]. */
function finalLayers(layers: readonly [number, number][]): RunResult['history'] {
  return [
    { layers: layers.map(([bits, numWeights]) => ({ bits, numWeights })) },
  ] as unknown as RunResult['history'];
}

describe('summarize / summaryMarkdown / runsCsv', () => {
  const runs = [
    fakeRun('twn', 1, {
      // (2·2304 + 1·1152) / 3456 = 1.666667 bits per quantized weight (the 32-bit layer left out)
      history: finalLayers([
        [32, 432],
        [2, 2304],
        [1, 1152],
      ]),
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
      history: finalLayers([
        [32, 432],
        [2, 3456],
      ]),
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

  // t quantiles: t(0.975, 1) = 12.706205, t(0.975, 2) = 4.302653 (the tables' 12.706 and 4.303).
  const T1 = 12.706204736;
  const T2 = 4.30265273;

  it('mean, sample std and 95% CI over seeds, gap to FP32 in points with its paired CI, means of memory/sparsity/speed, summed wall time', () => {
    const [fp32, twn] = summarize(runs, ['fp32', 'twn']);
    expect(fp32!.method).toBe('fp32');
    expect(fp32!.seeds).toEqual([0, 1]);
    expect(fp32!.accuracyMean).toBeCloseTo(0.91, 12); // (0.90 + 0.92) / 2
    expect(fp32!.accuracyStd).toBeCloseTo(0.0141421356, 9); // √((0.01² + 0.01²) / 1)
    // 0.91 ± t(0.975, 1) · 0.0141421 / √2 = 0.91 ± 0.127062
    expect(fp32!.accuracyCi95![0]).toBeCloseTo(0.91 - T1 / 100, 9);
    expect(fp32!.accuracyCi95![1]).toBeCloseTo(0.91 + T1 / 100, 9);
    expect(fp32!.gapToFp32).toBeCloseTo(0, 12);
    expect(fp32!.gapToFp32Ci95).toBeNull(); // FP32 is the reference
    expect(fp32!.pairedToFp32).toBeNull();
    expect(twn!.accuracyMean).toBeCloseTo(0.87, 12);
    expect(twn!.accuracyStd).toBeCloseTo(0.0282842712, 9); // √((0.02² + 0.02²) / 1)
    // 0.87 ± 12.706205 · 0.0282843 / √2 = 0.87 ± 0.254124
    expect(twn!.accuracyCi95![0]).toBeCloseTo(0.87 - (2 * T1) / 100, 9);
    expect(twn!.accuracyCi95![1]).toBeCloseTo(0.87 + (2 * T1) / 100, 9);
    expect(twn!.gapToFp32).toBeCloseTo(-4, 10); // (0.87 − 0.91) · 100
    // paired by seed, in points: d = 85 − 90, 89 − 92 = −5, −3; d̄ = −4, s_d = √2, −4 ± 12.706205 · √2 / √2
    expect(twn!.pairedToFp32!.seeds).toEqual([0, 1]);
    expect(twn!.pairedToFp32!.mean).toBeCloseTo(-4, 10);
    expect(twn!.gapToFp32Ci95![0]).toBeCloseTo(-4 - T1, 8);
    expect(twn!.gapToFp32Ci95![1]).toBeCloseTo(-4 + T1, 8);
    expect(twn!.pairedToFp32!.containsZero).toBe(true);
    expect(twn!.sparsity).toBeCloseTo(0.405, 12);
    expect(twn!.trainImagesPerSecond).toBe(650);
    expect(twn!.wallSeconds).toBe(180);
    expect(twn!.weightMemoryBytes).toBe(7920);
    expect('reference' in twn!).toBe(false); // no reference chosen
  });

  it('three seeds: t(0.975, 2); a paired interval clear of 0; unpaired seeds are left out of the pairs', () => {
    const three = [
      ...[0.9, 0.91, 0.95].map((a, seed) => fakeRun('fp32', seed, { finalTestAccuracy: a })),
      ...[0.8, 0.84, 0.88, 0.5].map((a, seed) => fakeRun('ttq', seed, { finalTestAccuracy: a })),
    ];
    const [, ttq] = summarize(three, ['fp32', 'ttq']);
    // 4 seeds: 80, 84, 88, 50 → x̄ = 75.5, s = √((20.25 + 72.25 + 156.25 + 650.25) / 3) = √299.666…
    expect(ttq!.accuracyMean).toBeCloseTo(0.755, 12);
    expect(ttq!.accuracyStd * 100).toBeCloseTo(Math.sqrt(899 / 3), 9);
    // gap: difference of the means over all seeds = 75.5 − 92 = −16.5 points
    expect(ttq!.gapToFp32).toBeCloseTo(-16.5, 10);
    // pairs: seeds 0, 1, 2 (seed 3 has no FP32 run): d = −10, −7, −7; d̄ = −8, s_d = √3;
    // −8 ± 4.302653 · √3 / √3 = [−12.302653, −3.697347]
    expect(ttq!.pairedToFp32!.seeds).toEqual([0, 1, 2]);
    expect(ttq!.pairedToFp32!.mean).toBeCloseTo(-8, 10);
    expect(ttq!.pairedToFp32!.std).toBeCloseTo(Math.sqrt(3), 10);
    expect(ttq!.gapToFp32Ci95![0]).toBeCloseTo(-8 - T2, 7);
    expect(ttq!.gapToFp32Ci95![1]).toBeCloseTo(-8 + T2, 7);
    expect(ttq!.pairedToFp32!.containsZero).toBe(false);
    expect(summaryMarkdown(summarize(three, ['fp32', 'ttq'])).split('\n')[3]).toContain(
      '| ttq | 4 | 75.50 ± 17.31 | [47.95, 103.05] | -16.50 | paired mean -8.00, [-12.30, -3.70] (3 pairs) |',
    );
  });

  it('orders rows by the given order, then alphabetically; one seed has no spread and no interval; no FP32 run means no gap', () => {
    expect(summarize(runs, ['twn', 'fp32']).map((r) => r.method)).toEqual(['twn', 'fp32']);
    expect(summarize(runs).map((r) => r.method)).toEqual(['fp32', 'twn']);
    expect(summarize(runs, ['twn']).map((r) => r.method)).toEqual(['twn', 'fp32']);
    const [only] = summarize([runs[0]!]);
    expect(only!.accuracyStd).toBe(0);
    expect(only!.accuracyCi95).toBeNull();
    expect(only!.gapToFp32).toBeNull();
    expect(only!.gapToFp32Ci95).toBeNull();
    expect(only!.pairedToFp32).toBeNull();
    // one seed each: the gap, but one pair gives no interval
    const [, one] = summarize([runs[0]!, runs[3]!], ['fp32', 'twn']);
    expect(one!.gapToFp32).toBeCloseTo(-3, 10); // 89 − 92
    expect(one!.gapToFp32Ci95).toBeNull();
    expect(one!.pairedToFp32).toEqual({
      reference: 'fp32',
      seeds: [1],
      mean: expect.closeTo(-3, 10),
      std: null,
      ci95: null,
      containsZero: null,
    });
    // no common seed: no pairs at all
    expect(summarize([runs[0]!, runs[1]!])[1]!.pairedToFp32).toBeNull();
  });

  it('a reference method besides FP32: paired by seed, two more columns', () => {
    const withTtq = [
      ...runs,
      fakeRun('ttq', 0, { finalTestAccuracy: 0.8 }),
      fakeRun('ttq', 1, { finalTestAccuracy: 0.88 }),
    ];
    const rows = summarize(withTtq, ['fp32', 'twn', 'ttq'], { reference: 'twn' });
    expect(rows.map((r) => [r.method, r.reference])).toEqual([
      ['fp32', 'twn'],
      ['twn', 'twn'],
      ['ttq', 'twn'],
    ]);
    expect(rows[1]!.pairedToReference).toBeNull(); // the reference itself
    // ttq − twn by seed: 80 − 85, 88 − 89 = −5, −1; d̄ = −3, s_d = √8, −3 ± 12.706205 · √8 / √2 = −3 ± 25.412409
    const ttq = rows[2]!.pairedToReference!;
    expect(ttq.mean).toBeCloseTo(-3, 10);
    expect(ttq.std).toBeCloseTo(Math.sqrt(8), 10);
    expect(ttq.ci95![0]).toBeCloseTo(-3 - 2 * T1, 7);
    expect(ttq.ci95![1]).toBeCloseTo(-3 + 2 * T1, 7);
    // fp32 − twn: 90 − 85, 92 − 89 = 5, 3; 4 ± 12.706205
    expect(rows[0]!.pairedToReference!.ci95![0]).toBeCloseTo(4 - T1, 7);
    const md = summaryMarkdown(rows).split('\n');
    expect(md[0]).toBe(
      '| method | n | test accuracy (%) | 95% CI (%) | gap to FP32 (points) | 95% CI of gap, paired | gap to twn (points) | 95% CI of gap to twn, paired | weight memory | bits / quantized weight | compression | sparsity | train images/s | wall time |',
    );
    expect(md[1]).toBe(
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    expect(md[2]).toContain(
      '| fp32 | 2 | 91.00 ± 1.41 | [78.29, 103.71] | reference | — | +4.00 | [-8.71, 16.71] † (2 pairs) |',
    );
    expect(md[3]).toContain(
      '| twn | 2 | 87.00 ± 2.83 | [61.59, 112.41] | -4.00 | [-16.71, 8.71] † (2 pairs) | reference | — |',
    );
    expect(md[4]).toContain(
      '| ttq | 2 | 84.00 ± 5.66 | [33.18, 134.82] | -7.00 | [-45.12, 31.12] † (2 pairs) | -3.00 | [-28.41, 22.41] † (2 pairs) |',
    );
    // FP32 as the reference adds nothing: its comparison is always there
    expect(summarize(withTtq, [], { reference: 'fp32' }).some((r) => 'reference' in r)).toBe(false);
  });

  it('bad input: an unknown reference or two runs of one (method, seed) are errors naming them', () => {
    expect(() => summarize(runs, [], { reference: 'ttq' })).toThrow(
      'reference method "ttq" has no finished run; methods with runs: fp32, twn',
    );
    expect(() => summarize([...runs, fakeRun('twn', 1, {})])).toThrow(
      'method "twn" has more than one run with seed 1',
    );
  });

  it('the Markdown table: n, mean ± std, 95% CI, gap and its paired CI marked † when it contains 0', () => {
    expect(summaryMarkdown(summarize(runs, ['fp32', 'twn']))).toBe(
      [
        '| method | n | test accuracy (%) | 95% CI (%) | gap to FP32 (points) | 95% CI of gap, paired | weight memory | bits / quantized weight | compression | sparsity | train images/s | wall time |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        // 91 ± 12.706205 = [78.29, 103.71]; 77000 B / 1024 = 75.2 KiB; 2.0 s summed
        '| fp32 | 2 | 91.00 ± 1.41 | [78.29, 103.71] | reference | — | 75.2 KiB | — | 1.0x | 0.0% | 750 | 2.0 s |',
        // 87 ± 25.412409 = [61.59, 112.41]; −4 ± 12.706205 = [−16.71, 8.71] contains 0; 7920 B / 1024 = 7.7 KiB; (2 + 1.666667) / 2 = 1.833 bits; 180 s = 3.0 min
        '| twn | 2 | 87.00 ± 2.83 | [61.59, 112.41] | -4.00 | [-16.71, 8.71] † (2 pairs) | 7.7 KiB | 1.833 | 9.7x | 40.5% | 650 | 3.0 min |',
        '',
      ].join('\n'),
    );
    // one seed: n = 1, no spread (never "± 0.00"), no interval
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
      '| sq | 1 | 50.00 | n/a | n/a | n/a | 3.00 MiB | — | 1.0x | 0.0% | 0 | 2.00 h |',
    );
    // one pair, and no common seed
    const lone = summaryMarkdown(
      summarize(
        [runs[1]!, runs[2]!, fakeRun('sq', 5, { finalTestAccuracy: 0.6 })],
        ['fp32', 'twn'],
      ),
    ).split('\n');
    expect(lone[3]).toContain('| twn | 1 | 85.00 | n/a | -5.00 | n/a (1 pair) |');
    expect(lone[4]).toContain('| sq | 1 | 60.00 | n/a | -30.00 | n/a (no common seed) |');
  });

  it('the CSV: one row per run, sorted by method then seed', () => {
    const lines = runsCsv(runs).trimEnd().split('\n');
    expect(lines[0]).toBe(
      'method,seed,epochs,final_test_accuracy,best_test_accuracy,weight_memory_bytes,bits_per_quantized_weight,float32_memory_bytes,compression_ratio,sparsity,train_images_per_second,wall_seconds,params,macs',
    );
    expect(lines.slice(1)).toEqual([
      'fp32,0,2,0.900000,0.900000,77000,,77000,1.0000,0.000000,740.00,1.50,100,1000',
      'fp32,1,2,0.920000,0.930000,77000,,77000,1.0000,0.000000,760.00,0.50,100,1000',
      'twn,0,2,0.850000,0.860000,7920,2.000000,77040,9.7273,0.400000,600.00,100.00,100,1000',
      'twn,1,2,0.890000,0.900000,7920,1.666667,77040,9.7273,0.410000,700.00,80.00,100,1000',
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

describe('writeBenchOutputs: statistics in results.json, summary.md and report.html', () => {
  /** A run with a one-epoch history (the report draws it) and the given final accuracy. */
  const run = (method: string, seed: number, accuracy: number): RunResult =>
    fakeRun(method, seed, {
      finalTestAccuracy: accuracy,
      weightMemoryBytes: method === 'fp32' ? 77000 : 7920,
      history: [
        {
          epoch: 1,
          lr: 0.01,
          trainLoss: 1,
          trainAccuracy: accuracy,
          regularizationLoss: 0,
          testLoss: 1,
          testAccuracy: accuracy,
          imagesPerSecond: 100,
          seconds: 1,
          evalSeconds: 0.5,
          layers: [],
        },
      ],
    });
  const runs = [
    run('fp32', 0, 0.9),
    run('fp32', 1, 0.92),
    run('twn', 0, 0.85),
    run('twn', 1, 0.89),
    run('ttq', 0, 0.8),
  ];
  const meta = { ...benchMeta(FULL_MACHINE), methodOrder: ['fp32', 'twn', 'ttq'] };
  const study = { name: 'my-study', methods: ['fp32', 'twn', 'ttq'], seeds: [0, 1] };

  it('Backend and Machine lines come from the runs’ own records: several are listed with their run counts, the invocation’s only for runs without one', () => {
    const epyc = { ...FULL_MACHINE, cpu: 'AMD EPYC 9B14' };
    const xeon = { ...FULL_MACHINE, cpu: 'Intel Xeon Platinum 8481C' };
    const one = { name: 'tensorflow', tensorflowVersion: '2.21.0', oneDNN: true, threads: 1 };
    const lineOf = (rs: RunResult[]) => {
      const out = path.join(work, 'outputs-ran-on');
      mkdirSync(out, { recursive: true });
      writeBenchOutputs(out, rs, meta);
      return readFileSync(path.join(out, 'summary.md'), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('Backend: '));
    };
    const [a, b, c, d] = runs as [RunResult, RunResult, RunResult, RunResult];
    // Every run recorded the same: that one, not this invocation's (meta's: no oneDNN, no threads).
    expect(lineOf([a, b].map((r) => ({ ...r, backend: one, machine: epyc })))).toBe(
      'Backend: tensorflow (TensorFlow 2.21.0, oneDNN on, 1 thread). Machine: AMD EPYC 9B14, 2 cores, 24 GiB RAM, linux 6.18.44 x64, Node v20.20.2.',
    );
    // Resumed on another machine: both, most runs first. A run without a record counts as the
    // invocation's (meta's), whose machine is the same EPYC: one line for the three.
    expect(
      lineOf([
        { ...a, backend: one, machine: xeon },
        { ...b, backend: one, machine: epyc },
        { ...c, backend: one, machine: epyc },
        d,
      ]),
    ).toBe(
      'Backend: tensorflow (TensorFlow 2.21.0, oneDNN on, 1 thread) (3 runs); tensorflow (TensorFlow 2.21.0) (1 run). ' +
        'Machine: AMD EPYC 9B14, 2 cores, 24 GiB RAM, linux 6.18.44 x64, Node v20.20.2 (3 runs); ' +
        'Intel Xeon Platinum 8481C, 2 cores, 24 GiB RAM, linux 6.18.44 x64, Node v20.20.2 (1 run).',
    );
  });

  it('results.json: accuracyCi95 (fraction) and gapToFp32Ci95 (points, paired) per summary entry; the study and the reference recorded', () => {
    const out = path.join(work, 'outputs-stats');
    mkdirSync(out, { recursive: true });
    writeBenchOutputs(out, runs, meta, [], { reference: 'twn', study });
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      study: unknown;
      reference: string;
      summary: Record<string, unknown>[];
    };
    expect(json.study).toEqual(study);
    expect(json.reference).toBe('twn');
    const [fp32, twn, ttq] = json.summary as [
      Record<string, unknown>,
      Record<string, unknown>,
      Record<string, unknown>,
    ];
    // the existing fields stay
    expect(Object.keys(twn)).toEqual(
      expect.arrayContaining([
        'method',
        'seeds',
        'accuracyMean',
        'accuracyStd',
        'gapToFp32',
        'weightMemoryBytes',
        'compressionRatio',
        'sparsity',
        'trainImagesPerSecond',
        'wallSeconds',
      ]),
    );
    const close = (v: unknown, [lo, hi]: [number, number], digits: number) => {
      expect(v).toHaveLength(2);
      const [a, b] = v as [number, number];
      expect(a).toBeCloseTo(lo, digits);
      expect(b).toBeCloseTo(hi, digits);
    };
    // fp32: 0.91 ± 12.706205 · 0.0141421 / √2 = 0.91 ± 0.127062
    close(fp32.accuracyCi95, [0.91 - 0.12706204736, 0.91 + 0.12706204736], 9);
    expect(fp32.gapToFp32Ci95).toBeNull();
    // twn: 0.87 ± 0.254124; gap −4 points, paired −4 ± 12.706205
    close(twn.accuracyCi95, [0.87 - 0.25412409472, 0.87 + 0.25412409472], 9);
    expect(twn.gapToFp32).toBeCloseTo(-4, 10);
    close(twn.gapToFp32Ci95, [-4 - 12.706204736, -4 + 12.706204736], 7);
    expect(twn.pairedToFp32).toMatchObject({
      reference: 'fp32',
      seeds: [0, 1],
      containsZero: true,
    });
    expect(twn.reference).toBe('twn');
    expect(twn.pairedToReference).toBeNull();
    // ttq: one seed, so no interval; one pair with FP32 (seed 0), so no paired interval
    expect(ttq.accuracyCi95).toBeNull();
    expect(ttq.gapToFp32Ci95).toBeNull();
    expect(ttq.pairedToFp32).toMatchObject({ seeds: [0], ci95: null });
    expect(ttq.pairedToReference).toMatchObject({ reference: 'twn', seeds: [0], ci95: null });
  });

  it('summary.md and report.html: n, the CIs, † and what they mean', () => {
    const out = path.join(work, 'outputs-stats-md');
    mkdirSync(out, { recursive: true });
    writeBenchOutputs(out, runs, meta);
    const lines = readFileSync(path.join(out, 'summary.md'), 'utf8').split('\n');
    const rows = lines.filter((l) => l.startsWith('| '));
    expect(rows[0]).toBe(
      '| method | n | test accuracy (%) | 95% CI (%) | gap to FP32 (points) | 95% CI of gap, paired | weight memory | bits / quantized weight | compression | sparsity | train images/s | wall time |',
    );
    expect(rows.slice(2).map((r) => r.split(' | ').slice(0, 6).join(' | '))).toEqual([
      '| fp32 | 2 | 91.00 ± 1.41 | [78.29, 103.71] | reference | —',
      '| twn | 2 | 87.00 ± 2.83 | [61.59, 112.41] | -4.00 | [-16.71, 8.71] † (2 pairs)',
      // one seed against FP32's two: the gap is against FP32's mean (91), the paired
      // difference against FP32 of seed 0 (90)
      '| ttq | 1 | 80.00 | n/a | -11.00 | paired -10.00, n/a (1 pair)',
    ]);
    const note =
      'n is the number of seeds (n = 1, 2). Test accuracy is the mean over them ± their sample standard deviation ' +
      '(no spread is shown for n = 1); its 95% CI is the Student-t interval of the mean, mean ± t(0.975, n − 1) · std / √n. ' +
      'A gap is the difference of the mean accuracies in points; its 95% CI pairs the runs of the same seed ' +
      '(method − reference per seed) and is the t interval of the mean difference over the pairs (pairs − 1 degrees of freedom), ' +
      'n/a below 2 pairs. Where a method and its reference do not share all their seeds, the paired difference ' +
      '(the mean over the pairs) comes first in that column, as it then differs from the gap. † marks an interval that contains 0: with these seeds the difference is not distinguishable from none.';
    expect(lines).toContain(note);
    expect(lines).toContain(
      'Test accuracy is the final epoch’s, evaluated with the quantized weights.',
    );
    expect(lines.join('\n')).not.toContain('± 0.00');
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain(`<p class="caption">${note}</p>`);
    expect(html).toContain('<canvas id="pareto">');
    // without a study or a reference, results.json has neither key
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(Object.keys(json)).not.toContain('study');
    expect(Object.keys(json)).not.toContain('reference');
  });

  it('an unknown reference fails before anything is written', () => {
    const out = path.join(work, 'outputs-bad-reference');
    mkdirSync(out, { recursive: true });
    expect(() => writeBenchOutputs(out, runs, meta, [], { reference: 'sq' })).toThrow(
      'reference method "sq" has no finished run; methods with runs: fp32, twn, ttq',
    );
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('formatBackend', () => {
  it('names the TensorFlow version, oneDNN and the threads; older records without them still read', () => {
    expect(
      formatBackend({ name: 'tensorflow', tensorflowVersion: '2.21.0', oneDNN: true, threads: 2 }),
    ).toBe('tensorflow (TensorFlow 2.21.0, oneDNN on, 2 threads)');
    expect(
      formatBackend({ name: 'tensorflow', tensorflowVersion: '2.21.0', oneDNN: false, threads: 1 }),
    ).toBe('tensorflow (TensorFlow 2.21.0, oneDNN off, 1 thread)');
    expect(formatBackend({ name: 'tensorflow', tensorflowVersion: '2.21.0' })).toBe(
      'tensorflow (TensorFlow 2.21.0)',
    );
    expect(formatBackend({ name: 'cpu', threads: 1 })).toBe('cpu (1 thread)');
    // No record at all (merged shard folders without results.json, runs of an older trit).
    expect(formatBackend({})).toBe('unknown');
  });
});

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

  it("a row with its own seeds runs only those (n = 1 in the summary), from the study's shared pre-training", async () => {
    const outDir = path.join(work, 'row-seeds');
    const results = await runBench(
      opts(
        outDir,
        [],
        {},
        {
          seeds: [0, 1],
          pretrainSeed: 0,
          methods: ['fp32', { method: 'twn', label: 'twn-extra', seeds: [1] }],
        },
      ),
    );
    expect(results.map((r) => `${r.method}/${r.seed}`)).toEqual([
      'fp32/0',
      'fp32/1',
      'twn-extra/1',
    ]);
    expect(readdirSync(path.join(outDir, 'runs')).sort()).toEqual([
      'fp32-seed0',
      'fp32-seed1',
      'twn-extra-seed1',
    ]);
    expect(readdirSync(path.join(outDir, 'pretrain'))).toEqual(['seed0']);
    const rows = summarize(results, ['fp32', 'twn-extra']);
    expect(rows.map((r) => [r.method, r.seeds])).toEqual([
      ['fp32', [0, 1]],
      ['twn-extra', [1]],
    ]);
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
    // Without progress bars each epoch's result is a log line of its own, just before its overall line.
    const epochs = log.filter((l) => / epoch \d+\/\d+: loss /.test(l));
    expect(epochs.map((l) => l.slice(0, l.indexOf(': loss')))).toEqual([
      '[bench] fp32-pretrain s0 epoch 1/1',
      '[bench] fp32 s0 epoch 1/1',
      '[bench] twn s0 epoch 1/1',
    ]);
    expect(epochs[2]).toContain(
      `train acc ${(twn.history[0]!.trainAccuracy * 100).toFixed(2)}%, test acc ${(twn.history[0]!.testAccuracy * 100).toFixed(2)}%, `,
    );
    expect(epochs.map((l) => log.indexOf(l) + 1)).toEqual(overall.map((l) => log.indexOf(l)));
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
    ) as { history: EpochRecord[]; backend: unknown; machine: unknown };
    expect(done.history).toHaveLength(1); // --pretrain-epochs 1
    expect(done.machine).toEqual(machineInfo());
    expect(done.backend).toMatchObject({ name: 'tensorflow' });
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
        backend: done.backend,
        machine: done.machine,
      },
    ]);
    expect(pretraining[0]!.finalTestAccuracy).toBeGreaterThan(0.5);
  });

  /**
   * The smoke run's outputs (written by the run test above) rendered into `name` with the
   * twn run's first quantized layer's first scale at the end set by `value(start)`.
   */
  function withEditedScale(name: string, value: (start: number) => number) {
    const runs = collectRuns([path.join(work, 'run')]);
    const twn = runs.find((r) => r.method === 'twn')!;
    const last = twn.history.at(-1)!;
    const quantized = last.layers.filter((l) => l.bits < 32);
    const [first] = quantized as [LayerStatsRecord];
    const key = Object.keys(first.scales)[0]!;
    const start = twn.initialLayers.find((l) => l.layer === first.layer)!.scales[key] as number;
    const layers = last.layers.map((l) =>
      l === first ? { ...l, scales: { ...l.scales, [key]: value(start) } } : l,
    );
    const edited: RunResult = {
      ...twn,
      history: [...twn.history.slice(0, -1), { ...last, layers }],
    };
    const out = path.join(work, name);
    mkdirSync(out, { recursive: true });
    writeBenchOutputs(
      out,
      runs.map((r) => (r === twn ? edited : r)),
      benchMeta(FULL_MACHINE),
    );
    return { out, runs, layer: first.layer, key, start, quantized: quantized.length };
  }

  it('writeBenchOutputs: a run that ends with a scale below zero gets a warning note in summary.md and report.html', () => {
    const { out, layer, key, quantized } = withEditedScale('outputs-warning', () => -0.5);
    const warning =
      `Warning: twn seed 0 ended with scales below zero in 1 place (of ${quantized} quantized layers; ` +
      `the sign of those weights is flipped): ${layer}: ${key} = -0.500.`;
    expect(readFileSync(path.join(out, 'summary.md'), 'utf8').split('\n')).toContain(warning);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain(
      `<p class="caption">${warning}</p>`,
    );
  });

  it('writeBenchOutputs: a run whose scale ends more than 100x from its start gets a warning note (a collapsed or diverged layer)', () => {
    const { out, runs, layer, key, start } = withEditedScale('outputs-runaway', (s) => s * 1000);
    const warning =
      'Warning: twn seed 0 ended with scales more than 100x away from their start in 1 place (a collapsed or diverged layer): ' +
      `${layer}: ${key} ${start.toPrecision(3)} → ${(start * 1000).toPrecision(3)}.`;
    const lines = readFileSync(path.join(out, 'summary.md'), 'utf8').split('\n');
    expect(lines).toContain(warning);
    // The smoke runs themselves move no scale that far: no such note without the edit.
    const plainOut = path.join(work, 'outputs-no-runaway');
    mkdirSync(plainOut, { recursive: true });
    writeBenchOutputs(plainOut, runs, benchMeta(FULL_MACHINE));
    expect(readFileSync(path.join(plainOut, 'summary.md'), 'utf8')).not.toContain(
      'away from their start',
    );
  });

  it('writeBenchOutputs: summary.md has the machine line, the wall-time note and the FP32 pre-training after the table; results.json and report.html have it too', () => {
    const outDir = path.join(work, 'run'); // written by the smoke run test above
    // Without their own backend and machine records (as trit wrote them before): the lines are meta's.
    const runs = collectRuns([outDir]).map(({ backend: _b, machine: _m, ...r }) => r);
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
      'Every method in the table is fine-tuned from the FP32 model trained here (the one of its seed, or the one a study shares across seeds with pretrainSeed); this pre-training is not in the table’s wall time.',
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
    // twn resumed from its (finished) checkpoint: no epoch ran again, and the log says so.
    expect(log.filter((l) => l.startsWith('[bench] overall'))).toEqual([]);
    expect(log.filter((l) => l.startsWith('[bench] twn seed 0: already trained'))).toEqual([
      `[bench] twn seed 0: already trained 1 of 1 epochs (${path.join(old, 'runs', 'twn-seed0', 'checkpoint')})`,
    ]);
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
