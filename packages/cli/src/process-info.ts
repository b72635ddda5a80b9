import { readFileSync } from 'node:fs';

/**
 * What this machine can tell about a process by its pid: whether it runs,
 * and on Linux (from /proc) whether it is stopped (SIGSTOP, Ctrl-Z) and when
 * it started, which tells a reused pid from the process that wrote it down.
 */

/** Whether a process with this pid exists on this machine (EPERM: it does, owned by another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process as /proc sees it: `stopped` by a signal, and its start time in clock ticks since boot. */
export interface ProcStat {
  readonly stopped: boolean;
  readonly startTicks: string;
}

/** /proc/<pid>/stat parsed, or undefined where there is no /proc (macOS, Windows) or no such process. */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so fields count from the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTicks = fields[19]; // field 22 of proc(5), starttime
  if (state === undefined || startTicks === undefined) return undefined;
  return { stopped: state === 'T' || state === 't', startTicks };
}

/** This boot's id (Linux), which differs after a reboot or on another machine with the same hostname. */
export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
