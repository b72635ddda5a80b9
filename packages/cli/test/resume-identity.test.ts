// Resume never mixes results of another configuration: every run and
// pre-training folder records what it is, and the output folder its study.
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { type BackendInfo, initBackend } from '@trit/quant-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeDifference,
  firstDifference,
  IDENTITY_FILE,
  StaleResultsError,
} from '../src/bench/identity.js';
import { MalformedResultError } from '../src/bench/result-schema.js';
import {
  collectRuns,
  type RunResult,
  readStudyRecord,
  runBench,
  STUDY_FILE,
} from '../src/bench/run.js';
import type { StudyOverrides } from '../src/cli/bench-command.js';
import { removeDir, smokeStudy, tempDir } from './bench-support.js';

let work: string;
let backend: BackendInfo;
beforeAll(async () => {
  work = tempDir('trit-resume-');
  backend = await initBackend({ quiet: true });
});
afterAll(() => removeDir(work));

/** A tiny smoke study: 8x8 images, 1 pre-training and 1 fine-tuning epoch. */
const TINY = { data: { type: 'synthetic', size: 8, numClasses: 3, numTrain: 48, numTest: 24 } };
const opts = (
  outDir: string,
  o: StudyOverrides = {},
  patch: Record<string, unknown> = {},
  log: string[] = [],
) => ({
  study: smokeStudy(
    { methods: ['fp32', 'twn'], pretrainEpochs: 1, epochs: 1, ...o },
    { ...TINY, ...patch },
  ),
  outDir,
  backend,
  progress: false,
  log: (l: string) => log.push(l),
});

describe('firstDifference', () => {
  it('names the first differing field path and both values; key order and absent/undefined do not matter', () => {
    expect(firstDifference({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBeNull();
    expect(firstDifference({ a: 1, x: undefined }, { a: 1 })).toBeNull();
    expect(firstDifference({ t: { o: { lr: 0.1 } } }, { t: { o: { lr: 0.01 } } })).toEqual({
      path: 't.o.lr',
      a: 0.1,
      b: 0.01,
    });
    expect(firstDifference({ s: [0, 1] }, { s: [0, 2] })).toEqual({ path: 's[1]', a: 1, b: 2 });
    expect(firstDifference({ a: 1 }, { a: 1, b: 2 })).toEqual({ path: 'b', a: undefined, b: 2 });
    expect(describeDifference({ e: 2 }, { e: 5 })).toBe(
      'e differs: the folder has 2, this run has 5',
    );
  });
});

describe('resume reuses only results of the same configuration', () => {
  let base: string;
  let first: RunResult[];
  beforeAll(async () => {
    base = path.join(work, 'base');
    first = await runBench(opts(base));
  });

  it('records the study in the folder and each run/pre-training configuration in its folder', () => {
    expect(readStudyRecord(base)!.name).toBe('smoke');
    for (const dir of ['runs/fp32-seed0', 'runs/twn-seed0', 'pretrain/seed0'])
      expect(existsSync(path.join(base, dir, IDENTITY_FILE)), dir).toBe(true);
    const id = JSON.parse(
      readFileSync(path.join(base, 'runs', 'twn-seed0', IDENTITY_FILE), 'utf8'),
    ).identity;
    expect(id).toMatchObject({
      kind: 'run',
      method: 'twn',
      protocol: 'finetune',
      quantizer: { name: 'twn', config: { perChannel: false } },
      train: { epochs: 1, seed: 0, optimizer: { type: 'sgd', lr: 0.01 } },
      pretraining: { kind: 'pretrain', train: { epochs: 1, seed: 0 } },
    });
  });

  it('a resume with other epochs stops before training, naming the field and both values', async () => {
    await expect(runBench({ ...opts(base, { epochs: 2 }), resume: true })).rejects.toThrow(
      `--out ${base} holds runs of a different study: finetune.epochs differs: the folder has 1, this run has 2; start fresh with a new --out folder`,
    );
    // Another dataset (the "quick into a smoke folder" case): the data is named.
    await expect(
      runBench({ ...opts(base, {}, { data: { ...TINY.data, numTrain: 64 } }), resume: true }),
    ).rejects.toThrow('data.numTrain differs: the folder has 48, this run has 64');
  });

  it('a run folder of another configuration (copied in by hand) is refused, naming the field', async () => {
    const mixed = path.join(work, 'mixed');
    cpSync(base, mixed, { recursive: true });
    // twn-seed0 from a study whose fine-tuning used lr 0.05.
    const file = path.join(mixed, 'runs', 'twn-seed0', IDENTITY_FILE);
    const rec = JSON.parse(readFileSync(file, 'utf8'));
    rec.identity.train.optimizer.lr = 0.05;
    writeFileSync(file, JSON.stringify(rec));
    await expect(runBench({ ...opts(mixed), resume: true })).rejects.toThrow(
      `${path.join(mixed, 'runs', 'twn-seed0')} holds a run of a different configuration: train.optimizer.lr differs: the folder has 0.05, this run has 0.01`,
    );
    // The tables refuse it too.
    expect(() => collectRuns([mixed], readStudyRecord(mixed))).toThrow(
      /train\.optimizer\.lr differs/,
    );
  });

  it('without --resume an existing study folder is an error; with it, finished runs are reused unchanged', async () => {
    await expect(runBench(opts(base))).rejects.toThrow(
      `--out ${base} already holds runs of this study; pass --resume to continue it`,
    );
    const log: string[] = [];
    const again = await runBench({ ...opts(base, {}, {}, log), resume: true });
    expect(again).toEqual(first);
    expect(log.filter((l) => l.includes('already done'))).toHaveLength(2);
  });

  it('more methods and seeds may join the folder; the recorded study grows', async () => {
    const grow = path.join(work, 'grow');
    cpSync(base, grow, { recursive: true });
    await runBench({ ...opts(grow, { methods: ['bwn'] }), resume: true });
    const study = readStudyRecord(grow)!;
    expect(study.methods).toEqual(['fp32', 'twn', 'bwn']);
    expect(
      collectRuns([grow], study)
        .map((r) => r.method)
        .sort(),
    ).toEqual(['bwn', 'fp32', 'twn']);
  });

  it('a malformed result.json is an error naming the file and field, not a TypeError', async () => {
    const bad = path.join(work, 'bad-result');
    cpSync(base, bad, { recursive: true });
    const file = path.join(bad, 'runs', 'twn-seed0', 'result.json');
    const r = JSON.parse(readFileSync(file, 'utf8'));
    r.history = null;
    writeFileSync(file, JSON.stringify(r));
    await expect(runBench({ ...opts(bad), resume: true })).rejects.toThrow(MalformedResultError);
    await expect(runBench({ ...opts(bad), resume: true })).rejects.toThrow(
      `${file}: malformed result.json (history is null: `,
    );
    expect(() => collectRuns([bad])).toThrow(`${file}: malformed result.json (history is null`);
  });

  it('folders of an older trit (no recorded configuration) and unrelated folders are never written into', async () => {
    const legacy = path.join(work, 'legacy');
    cpSync(base, legacy, { recursive: true });
    rmSync(path.join(legacy, STUDY_FILE));
    await expect(runBench({ ...opts(legacy), resume: true })).rejects.toThrow(
      `--out ${legacy} is not empty and is not a trit bench folder of a recorded study (no study.json; its runs were written by an older trit); choose a new or empty folder`,
    );
    // A run folder without its record, inside a recorded study folder.
    const partial = path.join(work, 'partial');
    cpSync(base, partial, { recursive: true });
    rmSync(path.join(partial, 'runs', 'twn-seed0', IDENTITY_FILE));
    await expect(runBench({ ...opts(partial), resume: true })).rejects.toThrow(
      'holds a run written without a recorded configuration (by an older trit)',
    );
    const unrelated = path.join(work, 'unrelated');
    mkdirSync(unrelated);
    writeFileSync(path.join(unrelated, 'summary.md'), 'my notes');
    await expect(runBench({ ...opts(unrelated), resume: true })).rejects.toThrow(
      `--out ${unrelated} is not empty and is not a trit bench folder of a recorded study (no study.json); choose a new or empty folder`,
    );
    expect(readdirSync(unrelated)).toEqual(['summary.md']);
    expect(readFileSync(path.join(unrelated, 'summary.md'), 'utf8')).toBe('my notes');
  });

  it('a start that fails before training (data that does not load) records nothing: the next start needs no --resume', async () => {
    const out = path.join(work, 'failed-start');
    await expect(
      runBench({
        ...opts(out),
        loadData: async () => {
          throw new Error('dataset "cifar10" is not imported');
        },
      }),
    ).rejects.toThrow('dataset "cifar10" is not imported');
    expect(existsSync(path.join(out, STUDY_FILE))).toBe(false);
    const results = await runBench(opts(out, { methods: ['fp32'] }));
    expect(results.map((r) => r.method)).toEqual(['fp32']);
  });

  it('errors are StaleResultsError', async () => {
    await expect(runBench({ ...opts(base, { epochs: 3 }), resume: true })).rejects.toBeInstanceOf(
      StaleResultsError,
    );
  });
});

describe('pretrainSeed: one FP32 pre-training shared by every seed', () => {
  it('pre-trains once; each seed fine-tunes from it with its own seed', async () => {
    const out = path.join(work, 'shared');
    const log: string[] = [];
    const results = await runBench(
      opts(out, { methods: ['twn'], seeds: [0, 1, 2] }, { pretrainSeed: 0 }, log),
    );
    expect(log.filter((l) => l.includes('pre-training FP32'))).toEqual([
      '[bench] pre-training FP32 (seed 0) for 1 epochs',
    ]);
    expect(readdirSync(path.join(out, 'pretrain'))).toEqual(['seed0']);
    expect(results.map((r) => r.seed)).toEqual([0, 1, 2]);
    for (const seed of [0, 1, 2]) {
      const id = JSON.parse(
        readFileSync(path.join(out, 'runs', `twn-seed${seed}`, IDENTITY_FILE), 'utf8'),
      ).identity;
      expect([id.train.seed, id.pretraining.train.seed]).toEqual([seed, 0]);
    }
    // Different seeds fine-tune differently (data order), from the same start.
    expect(results[0]!.history[0]!.trainLoss).not.toBe(results[1]!.history[0]!.trainLoss);
  });

  it('--pretrain-only trains the shared pre-training and nothing else', async () => {
    const out = path.join(work, 'pretrain-only');
    const results = await runBench({
      ...opts(out, { seeds: [0, 1] }, { pretrainSeed: 1 }),
      pretrainOnly: true,
    });
    expect(results).toEqual([]);
    expect(readdirSync(path.join(out, 'pretrain'))).toEqual(['seed1']);
    expect(existsSync(path.join(out, 'pretrain', 'seed1', 'done.json'))).toBe(true);
    expect(readdirSync(path.join(out, 'runs'))).toEqual([]);
  });
});
