// `trit bench` end to end in child processes: determinism across processes,
// shard + merge = one unsharded run, and SIGKILL + --resume = an uninterrupted run.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../src/bench/run.js';
import {
  assertCliBuilt,
  CLI,
  PACKAGE_DIR,
  removeDir,
  runCli,
  tempDir,
  withoutTiming,
} from './bench-support.js';

// Four methods (two per shard), one pre-training epoch, two epochs each: a few seconds per sweep.
const SWEEP = [
  'bench',
  '--preset',
  'smoke',
  '--methods',
  'fp32,twn,ttq,sq',
  '--pretrain-epochs',
  '1',
  '--epochs',
  '2',
  '--no-progress',
];

let work: string;
let reference: string;
beforeAll(async () => {
  assertCliBuilt();
  work = tempDir('trit-sweep-');
  reference = path.join(work, 'reference');
  const r = await runCli([...SWEEP, '--out', reference]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => removeDir(work));

const readRuns = (dir: string) =>
  (JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')).runs as RunResult[]).sort(
    (a, b) => a.method.localeCompare(b.method) || a.seed - b.seed,
  );

/** results.csv without the timing columns (train_images_per_second, wall_seconds). */
function csvWithoutTiming(dir: string): string[][] {
  const [header, ...rows] = readFileSync(path.join(dir, 'results.csv'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(','));
  const drop = ['train_images_per_second', 'wall_seconds'].map((c) => header!.indexOf(c));
  expect(drop.every((i) => i >= 0)).toBe(true);
  return [header!, ...rows].map((r) => r.filter((_, i) => !drop.includes(i)));
}

/** The summary table rows of summary.md without the last two (timing) columns. */
function summaryWithoutTiming(dir: string): string[] {
  return readFileSync(path.join(dir, 'summary.md'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('| '))
    .map((l) => l.split(' | ').slice(0, -2).join(' | '));
}

/** What must not change between equivalent sweeps: every number but timings. */
function comparable(dir: string) {
  return readRuns(dir).map((r) => ({
    method: r.method,
    seed: r.seed,
    finalTestAccuracy: r.finalTestAccuracy,
    bestTestAccuracy: r.bestTestAccuracy,
    weightMemoryBytes: r.weightMemoryBytes,
    sparsity: r.sparsity,
    history: withoutTiming(r.history),
    initialLayers: r.initialLayers,
  }));
}

describe('trit bench sweeps (child processes)', () => {
  it('the reference sweep wrote all outputs with one row per method', () => {
    for (const f of ['results.json', 'results.csv', 'summary.md', 'report.html'])
      expect(existsSync(path.join(reference, f)), f).toBe(true);
    expect(readRuns(reference).map((r) => r.method)).toEqual(['fp32', 'sq', 'ttq', 'twn']);
    expect(summaryWithoutTiming(reference).map((l) => l.split(' | ')[0])).toEqual([
      '| method',
      '| ---',
      '| fp32',
      '| twn',
      '| ttq',
      '| sq',
    ]);
  });

  it('shard 1/2 + shard 2/2, merged, give the same tables as the unsharded sweep (training is deterministic)', async () => {
    const s1 = path.join(work, 'shard1');
    const s2 = path.join(work, 'shard2');
    const merged = path.join(work, 'merged');
    const [r1, r2] = [
      await runCli([...SWEEP, '--shard', '1/2', '--out', s1]),
      await runCli([...SWEEP, '--shard', '2/2', '--out', s2]),
    ];
    expect(r1.code, r1.stderr).toBe(0);
    expect(r2.code, r2.stderr).toBe(0);
    // Grid order fp32, twn, ttq, sq (seed 0): shard 1 takes 1st and 3rd, shard 2 the 2nd and 4th.
    expect(readdirSync(path.join(s1, 'runs')).sort()).toEqual(['fp32-seed0', 'ttq-seed0']);
    expect(readdirSync(path.join(s2, 'runs')).sort()).toEqual(['sq-seed0', 'twn-seed0']);

    const m = await runCli(['bench', 'merge', s1, s2, '--out', merged]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain(`merged 4 runs into ${merged}`);
    expect(csvWithoutTiming(merged)).toEqual(csvWithoutTiming(reference));
    expect(summaryWithoutTiming(merged)).toEqual(summaryWithoutTiming(reference));
    expect(comparable(merged)).toEqual(comparable(reference));
    expect(existsSync(path.join(merged, 'report.html'))).toBe(true);
  });

  it('SIGKILL after a checkpoint, then --resume: the same results as the uninterrupted sweep', async () => {
    const out = path.join(work, 'killed');
    // Kill once the second method (twn) has written its first checkpoint: fp32 is finished,
    // twn is half-way (2 epochs), ttq and sq have not started.
    const target = path.join(out, 'runs', 'twn-seed0', 'checkpoint', 'checkpoint.json');
    const child = spawn(process.execPath, [CLI, ...SWEEP, '--out', out], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('close', (_code, signal) => resolve(signal)),
    );
    const poll = setInterval(() => {
      if (existsSync(target)) child.kill('SIGKILL');
    }, 10);
    const signal = await exited;
    clearInterval(poll);
    expect(signal, `the sweep ended before the checkpoint appeared:\n${stderr}`).toBe('SIGKILL');
    expect(existsSync(path.join(out, 'results.json'))).toBe(false);
    expect(existsSync(path.join(out, 'runs', 'fp32-seed0', 'result.json'))).toBe(true);
    expect(existsSync(path.join(out, 'runs', 'ttq-seed0', 'result.json'))).toBe(false);

    const resumed = await runCli([...SWEEP, '--out', out, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(
      `[bench] fp32 seed 0: already done, reusing ${path.join(out, 'runs', 'fp32-seed0', 'result.json')}`,
    );
    expect(resumed.stderr).not.toContain('pre-training FP32');
    // The newest checkpoint and the one before it (the fall-back if the newest is bad).
    expect(readdirSync(path.join(out, 'runs', 'twn-seed0')).sort()).toEqual([
      'checkpoint',
      'checkpoint.prev',
      'identity.json',
      'model.json',
      'result.json',
    ]);

    expect(readRuns(out).map((r) => r.finalTestAccuracy)).toEqual(
      readRuns(reference).map((r) => r.finalTestAccuracy),
    );
    expect(comparable(out)).toEqual(comparable(reference));
    expect(csvWithoutTiming(out)).toEqual(csvWithoutTiming(reference));
  });
});
