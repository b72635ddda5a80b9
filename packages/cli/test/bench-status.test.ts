import type { ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type BackendInfo, initBackend } from '@trit/quant-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FolderBusyError, LOCK_FILE } from '../src/bench/folder-lock.js';
import { StaleResultsError } from '../src/bench/identity.js';
import { MalformedResultError } from '../src/bench/result-schema.js';
import { readStudyRecord, runBench } from '../src/bench/run.js';
import { formatStatus, studyStatus } from '../src/bench/status.js';
import type { Study } from '../src/bench/study.js';
import { procStat } from '../src/process-info.js';
import { syntheticData } from '../src/training/synthetic-data.js';
import type { EpochRecord } from '../src/training/train.js';
import { deadPid, removeDir, sleeper, smokeStudy, tempDir, untilStopped } from './bench-support.js';

// The table prints local clock times: pin them.
process.env.TZ = 'UTC';

let backend: BackendInfo;
let work: string;
/** Shard 1 and 2 of a smoke study (fp32 and twn, seed 0, 1 pre-training epoch, 2 epochs each), finished. */
let shards: [string, string];
let study: Study;
/** What each shard's bench.lock said when its runs started training, in order. */
const lockWhileTraining: (string | undefined)[][] = [[], []];
let children: ChildProcess[] = [];

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
      log: (line) => {
        if (/: training \d+ epochs/.test(line) || line.includes('pre-training FP32')) {
          const lock = path.join(outDir, LOCK_FILE);
          lockWhileTraining[i]!.push(existsSync(lock) ? readJson(lock).current : '(no lock)');
        }
      },
    });
  study = readStudyRecord(shards[0])!;
});
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children = [];
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
      'ETA: none, nothing is training (no process holds a run, or no checkpoint was written within twice its epoch time); resume with trit bench --resume',
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

  it('a folder with a lock: the run it names is training or paused by its process, whatever the file times; other runs, and every run of a gone holder, stopped', async () => {
    const dirs = copyShards('locked');
    const twnDir = path.join(dirs[1], 'runs', 'twn-seed0');
    rewindToEpoch1(twnDir);
    const index = path.join(twnDir, 'checkpoint', 'checkpoint.json');
    touch(index, 3600); // by time alone: stopped an hour ago
    expect(studyStatus(study, dirs, NOW).rows[2]!.state).toBe('stopped');

    const { pid, startTicks } = await sleeper(children);
    const lock = (holder: Record<string, unknown>) =>
      writeFileSync(
        path.join(dirs[1], LOCK_FILE),
        JSON.stringify({
          format: 'trit-bench-lock',
          host: hostname(),
          started: '2026-12-04T10:00:00.000Z',
          command: 'trit bench',
          ...holder,
        }),
      );
    lock({ pid, ...(startTicks ? { startTicks } : {}), current: 'runs/twn-seed0' });
    const running = studyStatus(study, dirs, NOW);
    expect(running.rows[2]).toMatchObject({ state: 'training', pid, epochsDone: 1 });
    expect(running.training).toBe(1);
    expect(running.secondsLeft).toBe(120);

    if (procStat(pid)) {
      process.kill(pid, 'SIGSTOP');
      await untilStopped(pid, true);
      const paused = studyStatus(study, dirs, NOW);
      expect(paused.rows[2]).toMatchObject({ state: 'paused', pid });
      expect(paused).toMatchObject({ training: 0, pausedPids: [pid] });
      expect(formatStatus(paused, NOW, work).split('\n')).toContain(
        `| twn | 0 | paused | 1/2 | ${(100 * paused.rows[2]!.testAccuracy!).toFixed(2)} | locked/shard-2/runs/twn-seed0 | 12:00 (1h 00m ago) |`,
      );
      expect(formatStatus(paused, NOW, work).split('\n').at(-1)).toBe(
        `ETA: none while paused; continue with kill -CONT ${pid}`,
      );
      process.kill(pid, 'SIGCONT');
    }

    // The holder trains another run (or none): this one is not being trained.
    lock({ pid, ...(startTicks ? { startTicks } : {}), current: 'runs/fp32-seed0' });
    expect(studyStatus(study, dirs, NOW).rows[2]!.state).toBe('stopped');
    // The holder is gone: stopped, though its checkpoint is only 10 s old.
    touch(index, 10);
    lock({ pid: deadPid(), current: 'runs/twn-seed0' });
    expect(studyStatus(study, dirs, NOW).rows[2]!.state).toBe('stopped');
    // No lock (a process of an older trit): judged by time again.
    rmSync(path.join(dirs[1], LOCK_FILE));
    expect(studyStatus(study, dirs, NOW).rows[2]!.state).toBe('training');
  });
});

describe('trit bench holds <out>/bench.lock', () => {
  it('while it runs, naming the run or pre-training it trains; released at the end', () => {
    expect(lockWhileTraining).toEqual([
      [path.join('pretrain', 'seed0'), path.join('runs', 'fp32-seed0')],
      [path.join('pretrain', 'seed0'), path.join('runs', 'twn-seed0')],
    ]);
    for (const s of shards) expect(existsSync(path.join(s, LOCK_FILE))).toBe(false);
  });

  it('a second process on a folder in use is refused before loading data, and changes nothing', async () => {
    const [dir] = copyShards('busy');
    const { pid, startTicks } = await sleeper(children);
    const held = JSON.stringify({
      format: 'trit-bench-lock',
      pid,
      host: hostname(),
      ...(startTicks ? { startTicks } : {}),
      started: '2026-12-04T10:00:00.000Z',
      command: 'trit bench --shard 1/2',
      current: 'runs/fp32-seed0',
    });
    writeFileSync(path.join(dir, LOCK_FILE), held);
    const loadData = vi.fn(async (s: Study) => syntheticData(s.data as never));
    for (const resume of [true, false]) {
      const run = runBench({
        study: smokeStudy({ methods: ['fp32', 'twn'], pretrainEpochs: 1, epochs: 2 }),
        outDir: dir,
        loadData,
        backend,
        progress: false,
        shard: [1, 2],
        resume,
        log: () => {},
      });
      await expect(run).rejects.toThrow(FolderBusyError);
      await expect(run).rejects.toThrow(
        `--out ${dir} is in use by another trit bench (pid ${pid} on this machine, started 2026-12-04T10:00:00.000Z: trit bench --shard 1/2)`,
      );
    }
    expect(loadData).not.toHaveBeenCalled();
    expect(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).toBe(held);
  });

  it('a sweep that fails before writing anything leaves no folder and no lock behind', async () => {
    const fresh = path.join(work, 'failed-early', 'out');
    const existing = path.join(work, 'failed-early', 'empty');
    mkdirSync(existing, { recursive: true });
    for (const outDir of [fresh, existing]) {
      const run = runBench({
        study: smokeStudy({ methods: ['fp32'], pretrainEpochs: 1, epochs: 1 }),
        outDir,
        loadData: async () => {
          throw new Error('no data here');
        },
        backend,
        progress: false,
        log: () => {},
      });
      await expect(run).rejects.toThrow('no data here');
    }
    expect(existsSync(fresh)).toBe(false);
    expect(existsSync(path.join(existing, LOCK_FILE))).toBe(false);
    expect(existsSync(existing)).toBe(true); // the user's folder stays
  });
});
