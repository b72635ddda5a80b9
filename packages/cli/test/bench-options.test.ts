import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertWritableFolder, methodList, seedList } from '../src/cli/bench-options.js';
import { MAX_SEED, TrainConfigSchema } from '../src/training/train.js';
import { assertCliBuilt, removeDir, runCli, tempDir } from './bench-support.js';

let work: string;
beforeAll(() => {
  work = tempDir('trit-bench-options-');
});
afterAll(() => {
  chmodSync(path.join(work), 0o700);
  removeDir(work);
});

describe('--methods and --seeds parsers', () => {
  it('accept lists with spaces around the entries', () => {
    expect(methodList('fp32, ttq ,ttq:init=mean')).toEqual(['fp32', 'ttq', 'ttq:init=mean']);
    expect(seedList('0, 7,4294967295')).toEqual([0, 7, MAX_SEED]);
    expect(MAX_SEED).toBe(2 ** 32 - 1);
  });

  it('refuse an empty list, an empty entry, a repeated entry and a seed out of range', () => {
    const cases: [() => unknown, string][] = [
      [() => methodList(','), 'the list names no method'],
      [() => methodList(' '), 'the list names no method'],
      [
        () => methodList('fp32,,twn'),
        'method 2 of 3 is empty (two commas in a row, or one at an end)',
      ],
      [() => methodList('fp32,'), 'method 2 of 2 is empty'],
      [() => methodList('ttq,fp32,ttq'), 'method ttq is listed twice'],
      [() => seedList(','), 'the list names no seed'],
      [() => seedList('1,1'), 'seed 1 is listed twice'],
      [() => seedList('7,007'), 'seed 7 is listed twice'],
      [() => seedList('1.5'), '"1.5" is not a non-negative integer'],
      [() => seedList('-1'), '"-1" is not a non-negative integer'],
      [() => seedList('1e3'), '"1e3" is not a non-negative integer'],
      [
        () => seedList('99999999999999999999'),
        'seed 99999999999999999999 is out of range: seeds are integers from 0 to 4294967295 (32 bits)',
      ],
      [() => seedList('4294967296'), 'seed 4294967296 is out of range'],
    ];
    for (const [parse, message] of cases) {
      expect(parse, message).toThrow(InvalidArgumentError);
      expect(parse, message).toThrow(message);
    }
  });

  it('the training config refuses a seed above 32 bits too', () => {
    const config = { epochs: 1, batchSize: 1, optimizer: { type: 'sgd' as const, lr: 0.1 } };
    expect(TrainConfigSchema.parse({ ...config, seed: MAX_SEED }).seed).toBe(MAX_SEED);
    expect(() => TrainConfigSchema.parse({ ...config, seed: MAX_SEED + 1 })).toThrow();
  });
});

describe('assertWritableFolder', () => {
  it('passes a writable folder or one that can be created, and leaves nothing behind', () => {
    const dir = path.join(work, 'ok');
    mkdirSync(dir);
    assertWritableFolder('--out', dir);
    assertWritableFolder('--out', path.join(dir, 'new', 'deeper'));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a path through a file is an error naming the file', () => {
    const file = path.join(work, 'a-file');
    writeFileSync(file, 'x');
    expect(() => assertWritableFolder('--out', path.join(file, 'sub'))).toThrow(
      `--out ${path.join(file, 'sub')}: ${file} is a file, not a folder`,
    );
  });
});

describe('trit bench: option errors before anything loads (child process)', () => {
  beforeAll(() => assertCliBuilt());

  it('--methods, --seeds: the option, the value and what is wrong; nothing written', async () => {
    const out = path.join(work, 'never');
    const cases: [string[], string][] = [
      [
        ['--methods', ','],
        "error: option '--methods <list>' argument ',' is invalid. the list names no method",
      ],
      [
        ['--methods', 'fp32,,twn'],
        "error: option '--methods <list>' argument 'fp32,,twn' is invalid. method 2 of 3 is empty",
      ],
      [
        ['--seeds', '1,1'],
        "error: option '--seeds <list>' argument '1,1' is invalid. seed 1 is listed twice",
      ],
      [
        ['--seeds', '99999999999999999999'],
        "error: option '--seeds <list>' argument '99999999999999999999' is invalid. seed 99999999999999999999 is out of range: seeds are integers from 0 to 4294967295 (32 bits)",
      ],
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
      expect(r.stderr, args.join(' ')).not.toContain('"code"'); // no raw schema dump
    }
    expect(existsSync(out)).toBe(false);
  });

  it('--out on a read-only folder: says the folder is not writable', async () => {
    // root writes anywhere: run the CLI as "nobody" then (the folders on the way must let it pass).
    const asRoot = process.getuid?.() === 0;
    const user = asRoot ? { uid: 65534, gid: 65534 } : {};
    chmodSync(work, 0o755);
    const ro = path.join(work, 'read-only');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    const bench = (out: string) =>
      runCli(
        ['bench', '--preset', 'smoke', '--no-progress', '--methods', 'fp32', '--out', out],
        user,
      );
    const direct = await bench(ro);
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain(`trit: --out ${ro}: the folder is not writable (EACCES)`);
    const inside = await bench(path.join(ro, 'sub'));
    expect(inside.code).toBe(1);
    expect(inside.stderr).toContain(
      `trit: --out ${path.join(ro, 'sub')}: cannot create it, ${ro} is not writable (EACCES)`,
    );
    expect(readdirSync(ro)).toEqual([]);
  });
});
