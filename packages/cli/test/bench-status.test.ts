import { cpSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendInfo, initBackend } from '@trit/quant-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaleResultsError } from '../src/bench/identity.js';
import { MalformedResultError } from '../src/bench/result-schema.js';
import { readStudyRecord, runBench } from '../src/bench/run.js';
import { formatStatus, studyStatus } from '../src/bench/status.js';
import type { Study } from '../src/bench/study.js';
import { syntheticData } from '../src/training/synthetic-data.js';
import type { EpochRecord } from '../src/training/train.js';
import { removeDir, smokeStudy, tempDir } from './bench-support.js';

// The table prints local clock times: pin them.
process.env.TZ = 'UTC';

let backend: BackendInfo;
let work: string;
/** Shard 1 and 2 of a smoke study (fp32 and twn, seed 0, 1 pre-training epoch, 2 epochs each), finished. */
let shards: [string, string];
let study: Study;

const NOW = new Date('2026-12-04T13:00:00Z');
/** Sets a file's modification time to `secondsAgo` before NOW. */
const touch = (file: string, secondsAgo: number) => {
  const t = new Date(NOW.getTime() - secondsAgo * 1000);
  utimesSync(file, t, t);
};
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

beforeAll(async () => {
  backend = await initBackend({ quiet: true });
  work = tempDir('trit-status-');
  shards = [path.join(work, 'shard-1'), path.join(work, 'shard-2')];
  for (const [i, outDir] of shards.entries())
    await runBench({
      study: smokeStudy({ methods: ['fp32', 'twn'], pretrainEpochs: 1, epochs: 2 }),
      outDir,
      loadData: async (s: Study) => syntheticData(s.data as never),
      backend,
      progress: false,
      shard: [i + 1, 2],
      log: () => {},
    });
  study = readStudyRecord(shards[0])!;
});
afterAll(() => {
  removeDir(work);
  tf.disposeVariables();
});

/** A copy of the two finished shards to edit. */
function copyShards(name: string): [string, string] {
  const copies = shards.map((s, i) => {
    const copy = path.join(work, name, `shard-${i + 1}`);
    cpSync(s, copy, { recursive: true });
    return copy;
  });
  return copies as [string, string];
}

/** Turns a finished run back into one stopped after its first epoch: no result, a checkpoint at epoch 1. */
function rewindToEpoch1(runDir: string): EpochRecord {
  rmSync(path.join(runDir, 'result.json'));
  const index = path.join(runDir, 'checkpoint', 'checkpoint.json');
  const ck = readJson(index);
  ck.state.epoch = 1;
  ck.state.history = ck.state.history.slice(0, 1);
  ck.state.history[0].seconds = 100;
  ck.state.history[0].evalSeconds = 20;
  writeFileSync(index, JSON.stringify(ck));
  return ck.state.history[0];
}

describe('trit bench status', () => {
  it('a finished study: every run done, from the shard that ran it; nothing left', () => {
    const s = studyStatus(study, shards, NOW);
    expect(s.rows.map((r) => [r.run, r.seed, r.state, r.epochsDone, r.epochs, r.folder])).toEqual([
      ['FP32 pre-training', 0, 'done', 1, 1, path.join(shards[0], 'pretrain', 'seed0')],
      ['fp32', 0, 'done', 2, 2, path.join(shards[0], 'runs', 'fp32-seed0')],
      ['twn', 0, 'done', 2, 2, path.join(shards[1], 'runs', 'twn-seed0')],
    ]);
    const twn = readJson(path.join(shards[1], 'runs', 'twn-seed0', 'result.json'));
    expect(s.rows[2]!.testAccuracy).toBe(twn.finalTestAccuracy);
    expect(s).toMatchObject({ runsDone: 2, runsTotal: 2, epochsDone: 5, epochsTotal: 5 });
    expect(s.training).toBe(0);
    expect(s.secondsLeft).toBeUndefined();
    expect(formatStatus(s, NOW, work).split('\n').slice(-2)).toEqual([
      'runs: 2 of 2 done; epochs: 5 of 5 (100%), pre-training included',
      'finished: every run is done',
    ]);
  });

  it('a run stopped mid-way: training while its checkpoint is fresh, with the ETA; stopped once it is older than two epochs + 1 min', () => {
    const dirs = copyShards('partial');
    const twnDir = path.join(dirs[1], 'runs', 'twn-seed0');
    const first = rewindToEpoch1(twnDir);
    const index = path.join(twnDir, 'checkpoint', 'checkpoint.json');
    for (const f of [
      path.join(dirs[0], 'pretrain', 'seed0', 'done.json'),
      path.join(dirs[0], 'runs', 'fp32-seed0', 'result.json'),
    ])
      touch(f, 3 * 3600 + 5 * 60);
    touch(index, 130);

    const s = studyStatus(study, dirs, NOW);
    expect(s.rows[2]).toEqual({
      run: 'twn',
      seed: 0,
      state: 'training',
      epochsDone: 1,
      epochs: 2,
      testAccuracy: first.testAccuracy,
      folder: twnDir,
      written: new Date(NOW.getTime() - 130_000),
      epochSeconds: 120, // 100 s training + 20 s evaluation
    });
    // 1 epoch left at 120 s, 1 run training.
    expect(s).toMatchObject({ runsDone: 1, epochsDone: 4, epochsTotal: 5, training: 1 });
    expect(s.epochSeconds).toBe(120);
    expect(s.secondsLeft).toBe(120);
    const acc = (100 * first.testAccuracy).toFixed(2);
    expect(formatStatus(s, NOW, work).split('\n')).toEqual([
      `study ${study.name}, as of 2026-12-04 13:00 (UTC)`,
      '',
      '| run | seed | state | epochs | test accuracy (%) | folder | last written |',
      '| --- | ---: | --- | ---: | ---: | --- | --- |',
      `| FP32 pre-training | 0 | done | 1/1 | ${(100 * s.rows[0]!.testAccuracy!).toFixed(2)} | partial/shard-1/pretrain/seed0 | 09:55 (3h 05m ago) |`,
      `| fp32 | 0 | done | 2/2 | ${(100 * s.rows[1]!.testAccuracy!).toFixed(2)} | partial/shard-1/runs/fp32-seed0 | 09:55 (3h 05m ago) |`,
      `| twn | 0 | training | 1/2 | ${acc} | partial/shard-2/runs/twn-seed0 | 12:57 (2m 10s ago) |`,
      '',
      'runs: 1 of 2 done; epochs: 4 of 5 (80%), pre-training included',
      'ETA: 2m 00s (at 13:02), at 2.0 min per epoch (the newest 3 epochs of each run in training) with 1 run in parallel',
    ]);

    // 2 x 120 s + 60 s is the limit: 300 s ago still training, 301 s ago stopped.
    touch(index, 300);
    expect(studyStatus(study, dirs, NOW).rows[2]!.state).toBe('training');
    touch(index, 301);
    const stopped = studyStatus(study, dirs, NOW);
    expect(stopped.rows[2]!.state).toBe('stopped');
    expect(stopped.training).toBe(0);
    expect(stopped.secondsLeft).toBeUndefined();
    expect(formatStatus(stopped, NOW, work).split('\n').at(-1)).toBe(
      'ETA: none, nothing is training (no checkpoint written within twice its epoch time); resume with trit bench --resume',
    );
  });

  it('the newest checkpoint unreadable: the one before it counts, as resume would use it', () => {
    const dirs = copyShards('prev');
    const twnDir = path.join(dirs[1], 'runs', 'twn-seed0');
    rmSync(path.join(twnDir, 'result.json'));
    // checkpoint.prev holds epoch 1; the newest (epoch 2) is cut short.
    writeFileSync(path.join(twnDir, 'checkpoint', 'checkpoint.json'), '{"format": "trit-chec');
    touch(path.join(twnDir, 'checkpoint.prev', 'checkpoint.json'), 3600);
    const row = studyStatus(study, dirs, NOW).rows[2]!;
    expect(row.epochsDone).toBe(1);
    expect(row.state).toBe('stopped');
  });

  it('not started, and started without a finished epoch (training or stopped by the pace of the others)', () => {
    const dirs = copyShards('fresh');
    const twnDir = path.join(dirs[1], 'runs', 'twn-seed0');
    rmSync(twnDir, { recursive: true });
    const none = studyStatus(study, dirs, NOW);
    expect(none.rows[2]).toEqual({
      run: 'twn',
      seed: 0,
      state: 'not started',
      epochsDone: 0,
      epochs: 2,
    });
    expect(none).toMatchObject({ runsDone: 1, epochsDone: 3, epochsTotal: 5 });

    // Claimed: only identity.json, as `trit bench` leaves it before the first epoch ends.
    mkdirSync(twnDir);
    cpSync(
      path.join(shards[1], 'runs', 'twn-seed0', 'identity.json'),
      path.join(twnDir, 'identity.json'),
    );
    // The study's pace: the mean of the newest epochs of every run with a history.
    const paces = [
      readJson(path.join(dirs[0], 'pretrain', 'seed0', 'done.json')).history,
      readJson(path.join(dirs[0], 'runs', 'fp32-seed0', 'result.json')).history,
    ].map(
      (h: EpochRecord[]) => h.reduce((a, r) => a + r.seconds + (r.evalSeconds ?? 0), 0) / h.length,
    );
    const pace = (paces[0]! + paces[1]!) / 2;
    touch(path.join(twnDir, 'identity.json'), 10);
    const started = studyStatus(study, dirs, NOW);
    expect(started.rows[2]).toMatchObject({ state: 'training', epochsDone: 0, folder: twnDir });
    expect(started.training).toBe(1);
    expect(started.epochSeconds).toBeCloseTo(pace, 9);
    expect(started.secondsLeft).toBeCloseTo(2 * pace, 9);
    touch(path.join(twnDir, 'identity.json'), 2 * pace + 61);
    expect(studyStatus(study, dirs, NOW).rows[2]).toMatchObject({ state: 'stopped' });

    // The first epoch of the whole study (the pre-training, claimed only): no pace to judge by.
    const first = path.join(work, 'fresh', 'first');
    mkdirSync(path.join(first, 'pretrain', 'seed0'), { recursive: true });
    cpSync(
      path.join(dirs[0], 'pretrain', 'seed0', 'identity.json'),
      path.join(first, 'pretrain', 'seed0', 'identity.json'),
    );
    const st = studyStatus(study, [first], NOW);
    expect(st.rows.map((r) => r.state)).toEqual(['started', 'not started', 'not started']);
    expect(st.training).toBe(0);
    expect(formatStatus(st, NOW, work).split('\n').at(-1)).toBe(
      'ETA: once the first epoch has finished',
    );
  });

  it('a folder of another configuration, or a malformed result: an error naming the folder or file', () => {
    const dirs = copyShards('bad');
    const twnDir = path.join(dirs[1], 'runs', 'twn-seed0');
    const identity = path.join(twnDir, 'identity.json');
    const saved = readFileSync(identity, 'utf8');
    const edited = JSON.parse(saved);
    edited.identity.train.epochs = 3;
    writeFileSync(identity, JSON.stringify(edited));
    expect(() => studyStatus(study, dirs, NOW)).toThrow(StaleResultsError);
    expect(() => studyStatus(study, dirs, NOW)).toThrow(
      `${twnDir} holds a run of a different configuration: train.epochs differs`,
    );
    writeFileSync(identity, saved);
    const result = path.join(twnDir, 'result.json');
    const r = readJson(result);
    r.finalTestAccuracy = 1.5;
    writeFileSync(result, JSON.stringify(r));
    expect(() => studyStatus(study, dirs, NOW)).toThrow(MalformedResultError);
    expect(() => studyStatus(study, dirs, NOW)).toThrow(`${result}: `);
  });
});
