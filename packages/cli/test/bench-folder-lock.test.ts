import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FolderBusyError,
  LOCK_FILE,
  LOCK_STALE_SECONDS,
  type LockHolder,
  lockFolder,
  readFolderLock,
} from '../src/bench/folder-lock.js';
import { bootId, procStat } from '../src/process-info.js';
import { deadPid, removeDir, sleeper, tempDir, untilStopped } from './bench-support.js';

let dir: string;
let children: ChildProcess[] = [];
beforeEach(() => {
  dir = tempDir('trit-lock-');
});
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children = [];
  removeDir(dir);
});

const lockFile = () => path.join(dir, LOCK_FILE);
const readLock = () => JSON.parse(readFileSync(lockFile(), 'utf8')) as LockHolder;

/** A lock as another process would have written it. */
function writeLock(holder: Partial<LockHolder> & { pid: number }): void {
  writeFileSync(
    lockFile(),
    JSON.stringify({
      format: 'trit-bench-lock',
      host: hostname(),
      started: '2026-12-04T10:00:00.000Z',
      command: 'trit bench --study s.json --out x',
      ...holder,
    }),
  );
}

const onLinux = procStat(process.pid) !== undefined;

describe('bench.lock: one trit bench process per output folder', () => {
  it('taken: who holds it; a second taker is refused with the pid and the folder; released, it can be taken again', () => {
    const lock = lockFolder(dir);
    const h = readLock();
    expect(h).toMatchObject({ format: 'trit-bench-lock', pid: process.pid, host: hostname() });
    expect(Number.isNaN(Date.parse(h.started))).toBe(false);
    expect(h.command.startsWith('trit')).toBe(true);
    if (onLinux) {
      expect(h.startTicks).toBe(procStat(process.pid)!.startTicks);
      expect(h.bootId).toBe(bootId());
    }
    expect(readFolderLock(dir)!.state).toBe('running');

    const second = () => lockFolder(dir);
    expect(second).toThrow(FolderBusyError);
    expect(second).toThrow(
      `--out ${dir} is in use by another trit bench (pid ${process.pid} on this machine, started ${h.started}: ${h.command}); two processes on one folder would train the same runs into the same files.`,
    );
    expect(readLock()).toEqual(h); // the refused taker changed nothing

    lock.release();
    expect(existsSync(lockFile())).toBe(false);
    lock.release(); // idempotent
    expect(readFolderLock(dir)).toBeUndefined();
    lockFolder(dir).release();
  });

  it('setCurrent records the run being trained, and clears it', () => {
    const lock = lockFolder(dir);
    lock.setCurrent('runs/twn-seed0');
    expect(readLock().current).toBe('runs/twn-seed0');
    expect(readFolderLock(dir)!.holder.current).toBe('runs/twn-seed0');
    lock.setCurrent(undefined);
    expect('current' in readLock()).toBe(false);
    expect(readLock().pid).toBe(process.pid);
    lock.release();
    lock.setCurrent('runs/x'); // after release: writes nothing
    expect(existsSync(lockFile())).toBe(false);
  });

  it('a lock whose process is gone is stale: taken over, and the log says whose it was', () => {
    const pid = deadPid();
    writeLock({ pid });
    expect(readFolderLock(dir)!.state).toBe('gone');
    const lines: string[] = [];
    const lock = lockFolder(dir, (l) => lines.push(l));
    expect(readLock().pid).toBe(process.pid);
    expect(lines).toEqual([
      `[bench] took over the stale lock of pid ${pid} on ${hostname()} (started 2026-12-04T10:00:00.000Z; it no longer runs)`,
    ]);
    lock.release();
  });

  it.runIf(onLinux)(
    'a reused pid (alive, but started at another time) and another boot are stale too',
    () => {
      writeLock({ pid: process.pid, startTicks: '1' });
      expect(readFolderLock(dir)!.state).toBe('gone');
      writeLock({ pid: process.pid, startTicks: procStat(process.pid)!.startTicks });
      expect(readFolderLock(dir)!.state).toBe('running');
      writeLock({ pid: process.pid, bootId: 'not-this-boot' });
      expect(readFolderLock(dir)!.state).toBe('gone');
    },
  );

  it.runIf(onLinux)(
    'a paused holder (SIGSTOP) still holds the folder: the error says how to continue it',
    async () => {
      const { pid, startTicks } = await sleeper(children);
      writeLock({ pid, ...(startTicks ? { startTicks } : {}) });
      expect(readFolderLock(dir)!.state).toBe('running');
      process.kill(pid, 'SIGSTOP');
      await untilStopped(pid, true);
      expect(readFolderLock(dir)!.state).toBe('paused');
      expect(() => lockFolder(dir)).toThrow(
        `(pid ${pid} on this machine, paused (it continues after kill -CONT ${pid}), started 2026-12-04T10:00:00.000Z: trit bench --study s.json --out x)`,
      );
      process.kill(pid, 'SIGCONT');
      await untilStopped(pid, false);
      expect(readFolderLock(dir)!.state).toBe('running');
    },
  );

  it(`a lock from another host holds while its heartbeat is under ${LOCK_STALE_SECONDS / 60} min old, then is stale`, () => {
    writeLock({ pid: 4242, host: 'node-17' });
    const info = readFolderLock(dir)!;
    expect(info.state).toBe('elsewhere');
    expect(() => lockFolder(dir)).toThrow(
      `(if it no longer runs, delete ${lockFile()}, or wait until it is 10 min old)`,
    );
    expect(() => lockFolder(dir)).toThrow('pid 4242 on host node-17 (alive ');
    const old = new Date(Date.now() - (LOCK_STALE_SECONDS + 5) * 1000);
    utimesSync(lockFile(), old, old);
    expect(readFolderLock(dir)!.state).toBe('gone');
    const lines: string[] = [];
    lockFolder(dir, (l) => lines.push(l)).release();
    expect(lines[0]).toContain('took over the stale lock of pid 4242 on node-17');
  });

  it('the holder touches the lock every minute (its heartbeat)', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      vi.setSystemTime(new Date('2026-12-04T12:00:00Z'));
      const lock = lockFolder(dir);
      const long = new Date('2026-12-04T11:00:00Z');
      utimesSync(lockFile(), long, long);
      vi.advanceTimersByTime(59_000);
      expect(statSync(lockFile()).mtime.getTime()).toBe(long.getTime());
      vi.advanceTimersByTime(1_000);
      expect(statSync(lockFile()).mtime.getTime()).toBe(Date.parse('2026-12-04T12:01:00Z'));
      lock.release();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a damaged lock file is an error naming it, and is left for the user to judge', () => {
    writeFileSync(lockFile(), '{"format": "trit-bench-lo');
    const msg = `${lockFile()} is not a trit bench lock (or is damaged); if no trit bench runs on this folder, delete it`;
    expect(() => readFolderLock(dir)).toThrow(msg);
    expect(() => lockFolder(dir)).toThrow(msg);
    expect(readFileSync(lockFile(), 'utf8')).toBe('{"format": "trit-bench-lo');
  });

  it('under Slurm: a requeued job (same SLURM_JOB_ID, another node) takes over at once; another job is refused', () => {
    vi.stubEnv('SLURM_JOB_ID', '5501');
    try {
      writeLock({ pid: 4242, host: 'node-17', slurmJobId: '5502' });
      expect(() => lockFolder(dir)).toThrow('pid 4242 on host node-17');
      writeLock({ pid: 4242, host: 'node-17', slurmJobId: '5501' });
      const lines: string[] = [];
      const lock = lockFolder(dir, (l) => lines.push(l));
      expect(readLock()).toMatchObject({ pid: process.pid, slurmJobId: '5501' });
      expect(lines).toEqual([
        `[bench] took over the stale lock of pid 4242 on node-17 (started 2026-12-04T10:00:00.000Z; an earlier run of Slurm job 5501, requeued)`,
      ]);
      // The same job in this very process: still refused (one sweep per folder within a process too).
      expect(() => lockFolder(dir)).toThrow(FolderBusyError);
      lock.release();
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
