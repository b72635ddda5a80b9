import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRESETS } from '../src/bench/presets.js';
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
      `error: option '--preset <name>' argument 'nope' is invalid. Allowed choices are ${Object.keys(PRESETS).join(', ')}.`,
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
