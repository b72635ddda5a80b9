import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBackend, formatMachine } from '../src/bench/outputs.js';
import { presetNames } from '../src/bench/presets.js';
import { machineInfo, type PretrainingResult, type RunResult } from '../src/bench/run.js';
import type { EpochRecord } from '../src/training/train.js';
import { assertCliBuilt, PACKAGE_DIR, removeDir, runCli, tempDir } from './bench-support.js';

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
      [['--methods', 'fp32,nope,ttq'], '  methods[1]: unknown quantizer "nope"; registered: '],
      [['--study', 'nope.json'], 'trit: --study and --preset name two studies: give one of them'],
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
  }, 300_000);

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
    expect(lines[4]).toMatch(
      /^Backend: tensorflow \(TensorFlow \d+\.\d+\.\d+, oneDNN (on|off), \d+ threads?\)\. Machine: /,
    );
    expect(lines[4]!.endsWith(`. Machine: ${formatMachine(machineInfo())}.`)).toBe(true);
    expect(lines[4]).toMatch(/ cores?, \d+ GiB RAM, .+, Node v\d+/);
    expect(lines.slice(-3)).toEqual(['', pretrainLine, '']);
    expect(r.stdout).toContain(pretrainLine);

    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      pretraining: PretrainingResult[];
      runs: RunResult[];
    };
    expect(json.pretraining.map((p) => [p.seed, p.epochs])).toEqual([[0, 2]]);
    expect(json.pretraining[0]!.history).toEqual(history);
    // Each run and the pre-training record the backend and machine that finished them.
    expect(json.pretraining[0]!.machine).toEqual(machineInfo());
    const backendLine = lines[4]!.slice('Backend: '.length, lines[4]!.indexOf('. Machine: '));
    for (const run of json.runs) {
      expect(run.machine, run.method).toEqual(machineInfo());
      expect(formatBackend(run.backend!), run.method).toBe(backendLine);
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
      `trit: ${notBench}: no study.json (not a trit bench output folder, or written by an older trit that did not record its study)`,
    );
  });
});

describe('study files and plugins from the command line', () => {
  const EXAMPLE = path.join(PACKAGE_DIR, '..', '..', 'examples', 'study-plugin', 'study.json');
  const quick = ['--epochs', '1', '--pretrain-epochs', '1', '--no-progress'];

  it('--print-study prints the resolved study, with the plugin loaded and its path made absolute', async () => {
    const r = await runCli(['bench', '--study', EXAMPLE, '--print-study']);
    expect(r.code, r.stderr).toBe(0);
    const study = JSON.parse(r.stdout);
    expect(study.name).toBe('plugin-example');
    expect(study.imports).toEqual([path.join(path.dirname(EXAMPLE), 'ternary-percentile.mjs')]);
    expect(study.finetune).toMatchObject({
      epochs: 2,
      weightDecay: { kernel: 1e-4 },
      augment: true,
    });
  });

  it("a quantizer from outside the repository's packages runs head-to-head with fp32 and twn; results.json re-runs the study", async () => {
    const out = path.join(work, 'plugin');
    const r = await runCli([
      'bench',
      '--study',
      EXAMPLE,
      '--methods',
      'fp32,twn,ternary-percentile,tp-sparse',
      '--seeds',
      '0',
      ...quick,
      '--export',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      study: { name: string; methods: unknown[]; imports: string[] };
      runs: RunResult[];
    };
    // (runs are listed in folder-name order)
    const byMethod = (a: RunResult, b: RunResult) =>
      ['fp32', 'twn', 'ternary-percentile', 'tp-sparse'].indexOf(a.method) -
      ['fp32', 'twn', 'ternary-percentile', 'tp-sparse'].indexOf(b.method);
    expect(
      [...json.runs].sort(byMethod).map((x) => [x.method, x.quantizer.name, x.quantizer.config]),
    ).toEqual([
      ['fp32', 'fp32', {}],
      ['twn', 'twn', { deltaFactor: 0.7, perChannel: false }],
      ['ternary-percentile', 'ternary-percentile', { sparsity: 0.5 }],
      ['tp-sparse', 'ternary-percentile', { sparsity: 0.8 }],
    ]);
    // Its fixed sparsity is what the table reports.
    const sparsity = Object.fromEntries(json.runs.map((x) => [x.method, x.sparsity]));
    expect(sparsity['ternary-percentile']).toBeCloseTo(0.5, 2);
    expect(sparsity['tp-sparse']).toBeCloseTo(0.8, 2);
    expect(readFileSync(path.join(out, 'summary.md'), 'utf8')).toMatch(/^\| tp-sparse \| 1 \| /m);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('ternary-percentile');
    expect(json.study.name).toBe('plugin-example');
    // The recorded study re-runs: same resolved study from the results file.
    const again = await runCli([
      'bench',
      '--study',
      path.join(out, 'results.json'),
      '--print-study',
    ]);
    expect(again.code, again.stderr).toBe(0);
    // results.json records the plugin relative to its own folder; re-read, it resolves from there.
    const plugin = path.resolve(path.dirname(EXAMPLE), 'ternary-percentile.mjs');
    expect(json.study.imports).toEqual([path.relative(out, plugin)]);
    expect(JSON.parse(again.stdout)).toEqual({ ...json.study, imports: [plugin] });
  });

  it('a study file that cannot be read is an error naming it, before anything loads', async () => {
    const r = await runCli([
      'bench',
      '--study',
      'nope.json',
      '--out',
      path.join(work, 'nope-study'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${path.join(PACKAGE_DIR, 'nope.json')}: cannot read the study file (ENOENT)`,
    );
    expect(existsSync(path.join(work, 'nope-study'))).toBe(false);
  });

  it('--import loads a module given on the command line; a missing one is an error naming it', async () => {
    const plugin = path.join(path.dirname(EXAMPLE), 'ternary-percentile.mjs');
    const r = await runCli([
      'bench',
      '--preset',
      'smoke',
      '--import',
      plugin,
      '--methods',
      'ternary-percentile:sparsity=0.3',
      '--print-study',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).imports).toEqual([plugin]);
    const missing = await runCli([
      'bench',
      '--preset',
      'smoke',
      '--import',
      './no-such-plugin.mjs',
      '--print-study',
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      `import "./no-such-plugin.mjs": no such file ${path.join(PACKAGE_DIR, 'no-such-plugin.mjs')}`,
    );
  });

  it('shards of one study merge into the unsharded tables; shards of different studies are refused, naming the field', async () => {
    const args = (out: string, extra: string[] = []) => [
      'bench',
      '--preset',
      'smoke',
      '--methods',
      'fp32,twn,bwn',
      ...quick,
      '--out',
      out,
      ...extra,
    ];
    const whole = path.join(work, 'whole');
    const s1 = path.join(work, 'shard1');
    const s2 = path.join(work, 'shard2');
    for (const [out, extra] of [
      [whole, []],
      [s1, ['--shard', '1/2']],
      [s2, ['--shard', '2/2']],
    ] as const) {
      const r = await runCli(args(out, [...extra]));
      expect(r.code, r.stderr).toBe(0);
    }
    const merged = path.join(work, 'merged');
    const m = await runCli(['bench', 'merge', s1, s2, '--out', merged]);
    expect(m.code, m.stderr).toBe(0);
    const table = (dir: string) =>
      readFileSync(path.join(dir, 'summary.md'), 'utf8')
        .split('\n')
        .filter((l) => /^\| (fp32|twn|bwn) \|/.test(l))
        .map((l) => l.split('|').slice(1, 4).join('|'));
    expect(table(merged)).toEqual(table(whole));
    // `bench status` over the two shards: every run done, each from the shard that ran it.
    const st = await runCli(['bench', 'status', s1, s2], { cwd: work });
    expect(st.code, st.stderr).toBe(0);
    expect(
      st.stdout
        .split('\n')
        .filter((l) => l.startsWith('| ') && !l.startsWith('| ---'))
        .map((l) => l.split(' | ').slice(0, 4).concat(l.split(' | ')[5]!)),
    ).toEqual([
      ['| run', 'seed', 'state', 'epochs', 'folder'],
      ['| FP32 pre-training', '0', 'done', '1/1', path.join('shard1', 'pretrain', 'seed0')],
      ['| fp32', '0', 'done', '1/1', path.join('shard1', 'runs', 'fp32-seed0')],
      ['| twn', '0', 'done', '1/1', path.join('shard2', 'runs', 'twn-seed0')],
      ['| bwn', '0', 'done', '1/1', path.join('shard1', 'runs', 'bwn-seed0')],
    ]);
    expect(st.stdout).toContain(
      'runs: 3 of 3 done; epochs: 4 of 4 (100%), pre-training included\nfinished: every run is done',
    );
    const stJson = await runCli(['bench', 'status', s1, s2, '--json']);
    expect(JSON.parse(stJson.stdout)).toMatchObject({ runsDone: 3, runsTotal: 3, training: 0 });
    // A shard of another study (2 fine-tuning epochs): refused, nothing written.
    const other = path.join(work, 'other');
    const o = await runCli([
      'bench',
      '--preset',
      'smoke',
      '--methods',
      'fp32',
      '--epochs',
      '2',
      '--pretrain-epochs',
      '1',
      '--no-progress',
      '--out',
      other,
    ]);
    expect(o.code, o.stderr).toBe(0);
    const refused = path.join(work, 'refused');
    const bad = await runCli(['bench', 'merge', s1, other, '--out', refused]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      `bench merge: ${other} and ${s1} hold different studies: finetune.epochs differs: ${s1} has 1, ${other} has 2`,
    );
    expect(existsSync(refused)).toBe(false);
    // A malformed result.json in a shard: an error naming the file, nothing written.
    const file = path.join(s2, 'runs', 'twn-seed0', 'result.json');
    writeFileSync(file, '{"method": "twn"}');
    const malformed = await runCli(['bench', 'merge', s1, s2, '--out', refused]);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain(`${file}: malformed result.json (seed is missing: `);
    expect(existsSync(refused)).toBe(false);
  }, 600_000);
});
