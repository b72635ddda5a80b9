import {
  linkSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../atomic-write.js';
import { bootId, isAlive, procStat } from '../process-info.js';

/**
 * One `trit bench` process per output folder. Two processes on one folder
 * (a shard started twice, a resume while the first still runs) would train
 * the same runs into the same checkpoints and race on their results, so
 * `trit bench` holds `<out>/bench.lock` while it runs. The lock records who
 * holds it (pid, host, boot, the process's start time) and which run it is
 * training, which is also how `trit bench status` tells a paused or running
 * run from a stopped one without guessing from file times.
 *
 * A lock whose process is gone (killed, crashed, the machine rebooted) is
 * stale and taken over. On this machine that is certain (the pid no longer
 * runs, or runs but started at another time); a lock written on another host
 * (a shared file system) is judged by its heartbeat: its holder touches it
 * every {@link LOCK_HEARTBEAT_SECONDS}, and one untouched for
 * {@link LOCK_STALE_SECONDS} counts as gone. Under Slurm a lock also records
 * the job id: a requeued job (same id, maybe another node) takes over the lock
 * of its earlier run at once, since Slurm runs one instance of a job at a time.
 */

export const LOCK_FILE = 'bench.lock';
export const LOCK_HEARTBEAT_SECONDS = 60;
export const LOCK_STALE_SECONDS = 600;

const HolderSchema = z.object({
  format: z.literal('trit-bench-lock'),
  pid: z.number().int().positive(),
  host: z.string(),
  bootId: z.string().optional(),
  startTicks: z.string().optional(),
  started: z.string(),
  command: z.string(),
  /** SLURM_JOB_ID of the holder, when it ran under Slurm. */
  slurmJobId: z.string().optional(),
  /** The run or pre-training folder being trained, relative to the output folder. */
  current: z.string().optional(),
});
export type LockHolder = z.infer<typeof HolderSchema>;

/**
 * `running` or `paused` (stopped by a signal) on this machine; `elsewhere`:
 * held from another host with a recent heartbeat; `gone`: stale.
 */
export type HolderState = 'running' | 'paused' | 'elsewhere' | 'gone';

export interface LockInfo {
  readonly file: string;
  readonly holder: LockHolder;
  readonly state: HolderState;
  /** When the holder last touched the lock. */
  readonly heartbeat: Date;
}

/** Another process holds the folder. */
export class FolderBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FolderBusyError';
  }
}

function parseHolder(file: string, text: string): LockHolder {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const parsed = HolderSchema.safeParse(value);
  if (!parsed.success)
    throw new FolderBusyError(
      `${file} is not a trit bench lock (or is damaged); if no trit bench runs on this folder, delete it`,
    );
  return parsed.data;
}

function holderState(h: LockHolder, heartbeat: Date, now: Date): HolderState {
  if (h.host !== hostname()) {
    const age = (now.getTime() - heartbeat.getTime()) / 1000;
    return age <= LOCK_STALE_SECONDS ? 'elsewhere' : 'gone';
  }
  const boot = bootId();
  if (h.bootId && boot && h.bootId !== boot) return 'gone';
  if (!isAlive(h.pid)) return 'gone';
  const stat = procStat(h.pid);
  if (stat && h.startTicks && stat.startTicks !== h.startTicks) return 'gone'; // the pid was reused
  return stat?.stopped ? 'paused' : 'running';
}

/** Who holds `<dir>/bench.lock` and whether it still runs; undefined when there is no lock. */
export function readFolderLock(dir: string, now: Date = new Date()): LockInfo | undefined {
  const file = path.join(dir, LOCK_FILE);
  let text: string;
  let heartbeat: Date;
  try {
    text = readFileSync(file, 'utf8');
    heartbeat = statSync(file).mtime;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const holder = parseHolder(file, text);
  return { file, holder, state: holderState(holder, heartbeat, now), heartbeat };
}

function describeHolder(info: LockInfo): string {
  const h = info.holder;
  const where =
    info.state === 'elsewhere'
      ? `on host ${h.host} (alive ${Math.round((Date.now() - info.heartbeat.getTime()) / 1000)} s ago)`
      : 'on this machine';
  const paused = info.state === 'paused' ? `, paused (it continues after kill -CONT ${h.pid})` : '';
  return `pid ${h.pid} ${where}${paused}, started ${h.started}: ${h.command}`;
}

/** The lock this process holds on an output folder. */
export class FolderLock {
  private holder: LockHolder;
  private readonly timer: NodeJS.Timeout;
  private released = false;

  constructor(
    readonly file: string,
    holder: LockHolder,
  ) {
    this.holder = holder;
    this.timer = setInterval(() => this.touch(), LOCK_HEARTBEAT_SECONDS * 1000);
    this.timer.unref();
  }

  private touch(): void {
    const now = new Date();
    try {
      utimesSync(this.file, now, now);
    } catch {
      // Removed under us: release() or a user; nothing to keep alive.
    }
  }

  /** Records which run (a folder relative to the output folder) is training now; undefined: none. */
  setCurrent(current: string | undefined): void {
    if (this.released) return;
    const { current: _, ...rest } = this.holder;
    this.holder = current === undefined ? rest : { ...rest, current };
    writeJsonAtomic(this.file, this.holder);
  }

  /** Removes the lock (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    rmSync(this.file, { force: true });
  }
}

/**
 * Takes `<dir>/bench.lock` for this process, or throws a
 * {@link FolderBusyError} naming the process that holds it. A stale lock is
 * taken over (and `log` says whose it was). `dir` must exist.
 */
export function lockFolder(dir: string, log: (line: string) => void = () => {}): FolderLock {
  const file = path.join(dir, LOCK_FILE);
  const stat = procStat(process.pid);
  const boot = bootId();
  const holder: LockHolder = {
    format: 'trit-bench-lock',
    pid: process.pid,
    host: hostname(),
    ...(boot ? { bootId: boot } : {}),
    ...(stat ? { startTicks: stat.startTicks } : {}),
    started: new Date().toISOString(),
    command: ['trit', ...process.argv.slice(2)].join(' '),
    ...(process.env.SLURM_JOB_ID ? { slurmJobId: process.env.SLURM_JOB_ID } : {}),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(holder, null, 1)}\n`, { flag: 'wx' });
      return new FolderLock(file, holder);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const info = readFolderLock(dir);
    if (!info) continue; // released between our two steps
    const requeued =
      info.holder.slurmJobId !== undefined &&
      info.holder.slurmJobId === process.env.SLURM_JOB_ID &&
      !(info.holder.pid === process.pid && info.holder.host === holder.host);
    if (info.state !== 'gone' && !requeued)
      throw new FolderBusyError(
        `--out ${dir} is in use by another trit bench (${describeHolder(info)}); two processes on one folder would train the same runs into the same files. Wait for it to finish or stop it, then run again with --resume${
          info.state === 'elsewhere'
            ? ` (if it no longer runs, delete ${file}, or wait until it is ${LOCK_STALE_SECONDS / 60} min old)`
            : ''
        }`,
      );
    // Stale: move it aside under a name of our own, so that of two processes taking it over only one
    // succeeds, and put it back if what we moved was a fresh lock taken in the meantime.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    const moved = parseHolder(aside, readFileSync(aside, 'utf8'));
    if (moved.pid !== info.holder.pid || moved.started !== info.holder.started) {
      try {
        linkSync(aside, file);
      } catch {
        // Another process holds it by now; its own lock stands.
      }
      rmSync(aside, { force: true });
      continue;
    }
    rmSync(aside, { force: true });
    log(
      `[bench] took over the stale lock of pid ${info.holder.pid} on ${info.holder.host} (started ${info.holder.started}; ${
        requeued && info.state !== 'gone'
          ? `an earlier run of Slurm job ${info.holder.slurmJobId}, requeued`
          : 'it no longer runs'
      })`,
    );
  }
  throw new FolderBusyError(
    `--out ${dir}: could not take ${file} (other processes keep taking it)`,
  );
}

/** Whether `name` in an output folder is the lock or one of its transient files. */
export function isLockFile(name: string): boolean {
  return name === LOCK_FILE || name.startsWith(`${LOCK_FILE}.`);
}
