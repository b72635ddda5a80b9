import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { readCheckpointIndex } from '../training/checkpoint.js';
import type { EpochRecord } from '../training/train.js';
import { parseTrainState } from '../training/train-state.js';
import { readFolderLock } from './folder-lock.js';
import { checkFolder } from './identity.js';
import { formatDuration, RECENT_EPOCHS } from './overall-progress.js';
import { PretrainDoneSchema, RunResultSchema, readValidated } from './result-schema.js';
import {
  gridSlice,
  pretrainDir,
  pretrainIdentity,
  pretrainSeedFor,
  runDirName,
  runIdentity,
} from './run.js';
import { resolveStudy, type Study } from './study.js';

/**
 * Where a study stands across its bench folders (the shards of a sweep, or
 * one folder): every FP32 pre-training and every method x seed run, done,
 * part-trained (its newest checkpoint's epoch) or not started, with the
 * epochs left and an ETA. A campaign of many hours is otherwise followed by
 * reading each shard's log. Only the small JSON files are read
 * (result.json, done.json, checkpoint.json, identity.json): no tensor is
 * loaded and nothing is written.
 */

/**
 * `done`; `training`; `paused`: its process is stopped by a signal
 * (SIGSTOP, Ctrl-Z); `stopped`: started, but no process trains it;
 * `started`: no epoch finished yet and nothing tells whether it trains;
 * `not started`. A folder's `bench.lock` says which run its process trains
 * and whether that process runs. A folder without one (a process of an older
 * trit, or none) is judged by time: `training` if the run's newest
 * checkpoint (or, before its first epoch, its folder) was written within two
 * epoch times + 1 min, as a live run writes one every epoch.
 */
export type RunState = 'done' | 'training' | 'paused' | 'stopped' | 'started' | 'not started';

export interface StatusRow {
  /** `FP32 pre-training` or the method's label. */
  readonly run: string;
  readonly seed: number;
  readonly state: RunState;
  readonly epochsDone: number;
  readonly epochs: number;
  /** Test accuracy (0–1) after the newest finished epoch. */
  readonly testAccuracy?: number;
  /** The folder of the run (or pre-training). */
  readonly folder?: string;
  /** When its newest result or checkpoint was written. */
  readonly written?: Date;
  /** Mean wall seconds of its newest epochs (up to {@link RECENT_EPOCHS}), training and evaluation. */
  readonly epochSeconds?: number;
  /** The pid of the process training it (from the folder's lock), when known. */
  readonly pid?: number;
}

export interface StudyStatus {
  readonly study: string;
  readonly rows: readonly StatusRow[];
  readonly runsDone: number;
  readonly runsTotal: number;
  readonly epochsDone: number;
  readonly epochsTotal: number;
  /** Runs (and pre-trainings) in state `training`. */
  readonly training: number;
  /** Pids of the processes whose run is `paused`. */
  readonly pausedPids: readonly number[];
  /** Mean wall seconds per epoch of the runs in training (of every run with a history if none has one yet). */
  readonly epochSeconds?: number;
  /** Epochs left x epochSeconds / runs in training: as if the runs going on now go on at this pace. */
  readonly secondsLeft?: number;
}

/** Mean of (seconds + evalSeconds) over the newest {@link RECENT_EPOCHS} records. */
function recentEpochSeconds(history: readonly EpochRecord[]): number | undefined {
  const recent = history.slice(-RECENT_EPOCHS);
  if (!recent.length) return undefined;
  return recent.reduce((a, h) => a + h.seconds + (h.evalSeconds ?? 0), 0) / recent.length;
}

/**
 * The newest readable checkpoint of a run folder (`checkpoint`, else the
 * `checkpoint.prev` a save in progress or a damaged newest one leaves): its
 * history and when it was written; undefined without one.
 */
function readProgress(dir: string): { history: EpochRecord[]; written: Date } | undefined {
  for (const name of ['checkpoint', 'checkpoint.prev']) {
    const ck = path.join(dir, name);
    if (!existsSync(path.join(ck, 'checkpoint.json'))) continue;
    try {
      const index = readCheckpointIndex(ck);
      const state = parseTrainState(index.state, path.join(ck, 'checkpoint.json'));
      return {
        history: state.history as EpochRecord[],
        written: statSync(path.join(ck, 'checkpoint.json')).mtime,
      };
    } catch {
      // Unreadable (being replaced, or damaged): resume would fall back the same way.
    }
  }
  return undefined;
}

/**
 * One run's (or pre-training's) row from the folders that may hold it: the
 * first with a finished result, else the one with the most epochs. A folder
 * whose recorded configuration is not the study's is an error (as for
 * resume and merge): its epochs would not count towards this study.
 */
function rowFrom(
  base: Pick<StatusRow, 'run' | 'seed' | 'epochs'>,
  dirs: readonly string[],
  finished: (dir: string) => { history: EpochRecord[]; written: Date } | undefined,
  check: (dir: string) => void,
  now: Date,
): StatusRow {
  let best: StatusRow = { ...base, state: 'not started', epochsDone: 0 };
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    check(dir);
    const done = finished(dir);
    const progress = done ?? readProgress(dir);
    if (!progress) {
      // Claimed (identity.json) but no epoch finished yet: its state is decided with the study's pace.
      const entries = readdirSync(dir);
      if (best.state === 'not started' && entries.length > 0) {
        const written = new Date(
          Math.max(...entries.map((e) => statSync(path.join(dir, e)).mtimeMs)),
        );
        best = { ...best, state: 'started', folder: dir, written };
      }
      continue;
    }
    const { history, written } = progress;
    const last = history[history.length - 1];
    const epochSeconds = recentEpochSeconds(history);
    // A live run writes a checkpoint every epoch: one twice as old as an epoch (+1 min) has stopped.
    const live =
      epochSeconds !== undefined &&
      now.getTime() - written.getTime() <= (2 * epochSeconds + 60) * 1000;
    const row: StatusRow = {
      ...base,
      state: done ? 'done' : live ? 'training' : 'stopped',
      epochsDone: done ? base.epochs : history.length,
      ...(last ? { testAccuracy: last.testAccuracy } : {}),
      folder: dir,
      written,
      ...(epochSeconds !== undefined ? { epochSeconds } : {}),
    };
    if (done) return row;
    if (row.epochsDone > best.epochsDone || best.state === 'not started') best = row;
  }
  return best;
}

/** The status of `study` over its bench folders, at `now`. */
export function studyStatus(
  study: Study,
  folders: readonly string[],
  now: Date = new Date(),
): StudyStatus {
  const { methods } = resolveStudy(study);
  const byLabel = new Map(methods.map((m) => [m.label, m]));
  const grid = gridSlice(
    methods.map((m) => m.label),
    study.seeds,
    undefined,
    (label) => byLabel.get(label)!.seeds,
  );
  const rows: StatusRow[] = [];
  if (study.protocol === 'finetune') {
    const seeds = [...new Set(grid.map((g) => pretrainSeedFor(study, g.seed)))];
    for (const seed of seeds) {
      const dirs = study.pretrainFrom
        ? [study.pretrainFrom]
        : folders.map((f) => pretrainDir(f, seed, study));
      rows.push(
        rowFrom(
          { run: 'FP32 pre-training', seed, epochs: study.pretrain.epochs },
          dirs,
          (dir) => {
            const file = path.join(dir, 'done.json');
            if (!existsSync(file)) return undefined;
            const done = readValidated(file, PretrainDoneSchema, 'done.json');
            return { history: done.history as EpochRecord[], written: statSync(file).mtime };
          },
          (dir) => checkFolder(dir, pretrainIdentity(study, seed), 'an FP32 pre-training'),
          now,
        ),
      );
    }
  }
  for (const { method, seed } of grid) {
    const m = byLabel.get(method)!;
    rows.push(
      rowFrom(
        { run: method, seed, epochs: m.train.epochs },
        folders.map((f) => path.join(f, 'runs', runDirName(method, seed))),
        (dir) => {
          const file = path.join(dir, 'result.json');
          if (!existsSync(file)) return undefined;
          const r = readValidated(file, RunResultSchema, 'result.json');
          return { history: r.history as EpochRecord[], written: statSync(file).mtime };
        },
        (dir) => checkFolder(dir, runIdentity(study, m, seed), 'a run'),
        now,
      ),
    );
  }
  // A run with no finished epoch yet is training if its folder was written within two epochs of the study's pace.
  const paces = rows.flatMap((r) => (r.epochSeconds === undefined ? [] : [r.epochSeconds]));
  const pace = paces.length ? paces.reduce((a, b) => a + b, 0) / paces.length : undefined;
  for (const [i, r] of rows.entries())
    if (r.state === 'started' && r.written && pace !== undefined) {
      const live = now.getTime() - r.written.getTime() <= (2 * pace + 60) * 1000;
      rows[i] = { ...r, state: live ? 'training' : 'stopped' };
    }
  // Where a folder has a lock, it says what trains rather than file times.
  const locks = new Map(folders.map((f) => [path.resolve(f), readFolderLock(f, now)]));
  for (const [i, r] of rows.entries()) {
    if (r.state === 'done' || r.state === 'not started' || !r.folder) continue;
    const base = path.resolve(r.folder, '..', '..'); // <out>/runs/<run> or <out>/pretrain/seed<S>
    const lock = locks.get(base);
    if (!lock) continue;
    const current =
      lock.state !== 'gone' &&
      lock.holder.current !== undefined &&
      path.resolve(base, lock.holder.current) === path.resolve(r.folder);
    const state: RunState = !current ? 'stopped' : lock.state === 'paused' ? 'paused' : 'training';
    rows[i] = { ...r, state, ...(current ? { pid: lock.holder.pid } : {}) };
  }
  const training = rows.filter((r) => r.state === 'training');
  const paced = training.filter((r) => r.epochSeconds !== undefined);
  const epochsTotal = rows.reduce((a, r) => a + r.epochs, 0);
  const epochsDone = rows.reduce((a, r) => a + r.epochsDone, 0);
  const epochSeconds = paced.length
    ? paced.reduce((a, r) => a + r.epochSeconds!, 0) / paced.length
    : pace;
  const runs = rows.filter((r) => r.run !== 'FP32 pre-training');
  return {
    study: study.name,
    rows,
    runsDone: runs.filter((r) => r.state === 'done').length,
    runsTotal: runs.length,
    epochsDone,
    epochsTotal,
    training: training.length,
    pausedPids: [...new Set(rows.flatMap((r) => (r.state === 'paused' ? [r.pid!] : [])))],
    ...(epochSeconds !== undefined && training.length
      ? {
          epochSeconds,
          secondsLeft: ((epochsTotal - epochsDone) * epochSeconds) / training.length,
        }
      : {}),
  };
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** `2026-12-03 14:05` (local time). */
function dateTimeOf(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** `14:05`, or `2026-12-03 14:05` when `d` is not on `now`'s day (local time). */
function clockOf(d: Date, now: Date): string {
  return d.toDateString() === now.toDateString() ? dateTimeOf(d).slice(11) : dateTimeOf(d);
}

/** The status as a Markdown table under a dated title, and two summary lines; folders relative to `cwd`. */
export function formatStatus(s: StudyStatus, now: Date = new Date(), cwd = process.cwd()): string {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const lines = [
    `study ${s.study}, as of ${dateTimeOf(now)} (${zone})`,
    '',
    '| run | seed | state | epochs | test accuracy (%) | folder | last written |',
    '| --- | ---: | --- | ---: | ---: | --- | --- |',
  ];
  for (const r of s.rows) {
    const acc = r.testAccuracy === undefined ? '' : (100 * r.testAccuracy).toFixed(2);
    const folder = r.folder ? path.relative(cwd, r.folder) || '.' : '';
    const written = r.written
      ? `${clockOf(r.written, now)} (${formatDuration((now.getTime() - r.written.getTime()) / 1000)} ago)`
      : '';
    lines.push(
      `| ${r.run} | ${r.seed} | ${r.state} | ${r.epochsDone}/${r.epochs} | ${acc} | ${folder} | ${written} |`,
    );
  }
  const pct = s.epochsTotal ? Math.floor((100 * s.epochsDone) / s.epochsTotal) : 100;
  lines.push(
    '',
    `runs: ${s.runsDone} of ${s.runsTotal} done; epochs: ${s.epochsDone} of ${s.epochsTotal} (${pct}%), pre-training included`,
  );
  if (s.epochsDone === s.epochsTotal) lines.push('finished: every run is done');
  else if (s.secondsLeft === undefined && s.rows.some((r) => r.state === 'started'))
    lines.push('ETA: once the first epoch has finished');
  else if (s.secondsLeft === undefined && s.pausedPids.length)
    lines.push(`ETA: none while paused; continue with kill -CONT ${s.pausedPids.join(' ')}`);
  else if (s.secondsLeft === undefined)
    lines.push(
      'ETA: none, nothing is training (no process holds a run, or no checkpoint was written within twice its epoch time); resume with trit bench --resume',
    );
  else {
    const at = new Date(now.getTime() + s.secondsLeft * 1000);
    lines.push(
      `ETA: ${formatDuration(s.secondsLeft)} (at ${clockOf(at, now)}), ` +
        `at ${(s.epochSeconds! / 60).toFixed(1)} min per epoch (the newest ${RECENT_EPOCHS} epochs of each run in training) ` +
        `with ${s.training} run${s.training === 1 ? '' : 's'} in parallel`,
    );
  }
  return lines.join('\n');
}
