import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMachine } from '../src/bench/outputs.js';
import { presetNames } from '../src/bench/presets.js';
import { machineInfo, type PretrainingResult, type RunResult } from '../src/bench/run.js';
import type { EpochRecord } from '../src/training/train.js';
import { assertCliBuilt, removeDir, runCli, tempDir } from './bench-support.js';

let work: string;
beforeAll(() => {
  assertCliBuilt();
  work = tempDir('trit-cli-');
});
afterAll(() => removeDir(work));

describe('trit (child process)', () => {
  it('--help lists the commands; --version prints the package version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: trit \[options\] \[command\]/);
    for (const cmd of ['data', 'models', 'bench'])
      expect(help.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    const benchHelp = await runCli(['bench', '--help']);
    expect(benchHelp.code).toBe(0);
    for (const opt of [
      '--preset',
      '--methods',
      '--seeds',
      '--epochs',
      '--pretrain-epochs',
      '--out',
      '--resume',
      '--shard',
      '--backend',
      '--no-progress',
    ]) {
      expect(benchHelp.stdout).toContain(opt);
    }
    expect(benchHelp.stdout).toMatch(/^ {2}merge \[options\] <dirs\.\.\.>/m);
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toBe('0.1.0');
  });

  it('`trit models` prints the table with the ResNet sizes of He et al.', async () => {
    const r = await runCli(['models']);
    expect(r.code).toBe(0);
    // a backend is initialised first, so tfjs prints no "install our node backend" banner
    expect(r.stderr).not.toContain('looks like you are running TensorFlow.js in Node.js');
    // params/1e6 to 3 decimals (271098, 466426, 661754, 857082, 274042),
    // MACs/1e6 to 1 decimal (40551040, ...), FLOPs = 2 x MACs.
    expect(r.stdout.trim().split('\n')).toEqual([
      '| model | input | params | MACs / image | FLOPs / image |',
      '| --- | --- | ---: | ---: | ---: |',
      '| resnet20 (CIFAR, option A) | 32x32x3 | 0.271 M | 40.6 M | 81.1 M |',
      '| resnet32 (CIFAR, option A) | 32x32x3 | 0.466 M | 68.9 M | 137.7 M |',
      '| resnet44 (CIFAR, option A) | 32x32x3 | 0.662 M | 97.2 M | 194.3 M |',
      '| resnet56 (CIFAR, option A) | 32x32x3 | 0.857 M | 125.5 M | 251.0 M |',
      '| resnet20 (CIFAR, option B) | 32x32x3 | 0.274 M | 40.8 M | 81.6 M |',
      expect.stringMatching(
        /^\| resnet18-64 \(widths 32-256\) \| 64x64x3 \| 2\.826 M \| \d+\.\d M \| \d+\.\d M \|$/,
      ),
    ]);
  });

  it('an unknown preset fails and lists the presets', async () => {
    const r = await runCli(['bench', '--preset', 'nope', '--out', path.join(work, 'nope')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: option '--preset <name>' argument 'nope' is invalid. Allowed choices are ${presetNames().join(', ')}.`,
    );
    expect(existsSync(path.join(work, 'nope'))).toBe(false);
  });

  it('bad --shard, --epochs and unknown methods fail before any training', async () => {
    const out = path.join(work, 'bad');
    const cases: [string[], string][] = [
      [
        ['--shard', '3/2'],
        "error: option '--shard <i/N>' argument '3/2' is invalid. shard 3/2: need 1 <= i <= N",
      ],
      [['--shard', '0/2'], 'shard 0/2: need 1 <= i <= N'],
      [['--shard', 'two'], '"two" is not of the form i/N (e.g. 2/4)'],
      [['--epochs', '0'], '"0" is not a positive integer'],
      [['--seeds', '1,x'], '"x" is not a non-negative integer'],
      [['--methods', 'fp32,nope,ttq'], 'trit: unknown method(s) nope; registered quantizers: '],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([
        'bench',
        '--preset',
        'smoke',
        '--no-progress',
        '--out',
        out,
        ...args,
      ]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(message);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('`trit bench` then `bench merge` of the folder twice: machine line, timed evaluation, one FP32 pre-training line per seed', async () => {
    const out = path.join(work, 'smoke');
    const r = await runCli([
      'bench',
      '--preset',
      'smoke',
      '--methods',
      'fp32,twn',
      '--pretrain-epochs',
      '2',
      '--epochs',
      '1',
      '--no-progress',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { history } = JSON.parse(
      readFileSync(path.join(out, 'pretrain', 'seed0', 'done.json'), 'utf8'),
    ) as { history: [EpochRecord, EpochRecord] };
    expect(history).toHaveLength(2);
    const [e1, e2] = history;
    const pretrainLine =
      `- seed 0: 2 epochs, final test accuracy ${(e2.testAccuracy * 100).toFixed(2)}% ` +
      `(best ${(Math.max(e1.testAccuracy, e2.testAccuracy) * 100).toFixed(2)}%), ` +
      `${((e1.imagesPerSecond + e2.imagesPerSecond) / 2).toFixed(0)} train images/s, ` +
      `wall time ${(e1.seconds + e1.evalSeconds! + e2.seconds + e2.evalSeconds!).toFixed(1)} s`;
    const md = readFileSync(path.join(out, 'summary.md'), 'utf8');
    const lines = md.split('\n');
    expect(lines[4]).toBe(
      `Backend: tensorflow (TensorFlow ${/TensorFlow (\S+)\)/.exec(md)?.[1]}). Machine: ${formatMachine(machineInfo())}.`,
    );
    expect(lines[4]).toMatch(/ cores?, \d+ GiB RAM, .+, Node v\d+/);
    expect(lines.slice(-3)).toEqual(['', pretrainLine, '']);
    expect(r.stdout).toContain(pretrainLine);

    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      pretraining: PretrainingResult[];
      runs: RunResult[];
    };
    expect(json.pretraining.map((p) => [p.seed, p.epochs])).toEqual([[0, 2]]);
    expect(json.pretraining[0]!.history).toEqual(history);
    for (const run of json.runs) {
      const [h] = run.history as [EpochRecord];
      expect(h.evalSeconds, run.method).toBeGreaterThan(0);
      expect(run.wallSeconds, run.method).toBeCloseTo(h.seconds + h.evalSeconds!, 12);
    }

    // The same folder twice: one run per (method, seed) and one pre-training per seed.
    const merged = path.join(work, 'smoke-merged');
    const m = await runCli(['bench', 'merge', out, out, '--out', merged]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain(`merged 2 runs into ${merged}`);
    const mergedJson = JSON.parse(readFileSync(path.join(merged, 'results.json'), 'utf8')) as {
      pretraining: PretrainingResult[];
    };
    expect(mergedJson.pretraining).toEqual(json.pretraining);
    const mergedMd = readFileSync(path.join(merged, 'summary.md'), 'utf8');
    expect(mergedMd.split('\n').filter((l) => l.startsWith('- seed '))).toEqual([pretrainLine]);
    expect(mergedMd.split('\n')[4]).toBe(lines[4]);
    const html = readFileSync(path.join(merged, 'report.html'), 'utf8');
    expect(html).toContain('<canvas id="pretrain-accuracy">');
    expect(html).toContain(`<li>${pretrainLine.slice(2)}</li>`);
  });

  it('`bench merge` needs --out and bench output folders', async () => {
    const notBench = path.join(work, 'not-bench');
    mkdirSync(notBench, { recursive: true });
    const noOut = await runCli(['bench', 'merge', notBench]);
    expect(noOut.code).toBe(1);
    expect(noOut.stderr).toContain('bench merge: --out <dir> is required');
    const bad = await runCli(['bench', 'merge', notBench, '--out', path.join(work, 'merged')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      `trit: ${notBench}: not a trit bench output folder (no runs/ inside)`,
    );
  });
});
