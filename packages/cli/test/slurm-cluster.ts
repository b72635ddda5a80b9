// A throw-away single-node Slurm for the integration test (not a test file):
// Debian's slurmctld, slurmd and munged with their config, key, state and logs
// in one temporary folder, in a network namespace of their own (loopback only)
// where the system allows one, else on 127.0.0.1 with free ports. Everything
// it starts runs under `timeout`, so even a killed test leaves nothing behind
// for long, and stop() ends it all: jobs, daemons, the namespace.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Why Slurm cannot run here (the test skips with it, or fails where Slurm is required). */
export class SlurmUnavailable extends Error {}

export interface CmdResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SlurmCluster {
  /** The temporary folder holding slurm.conf, the munge key, state and logs. */
  readonly dir: string;
  /** The node's name (one node, one partition). */
  readonly node: string;
  /** How the daemons talk: 'netns' (own network namespace) or 'host' (127.0.0.1, free ports). */
  readonly network: 'netns' | 'host';
  readonly ports: readonly [ctld: number, slurmd: number];
  /** Runs a command next to the daemons (same network), with SLURM_CONF set and node on PATH. */
  run(
    cmd: string,
    args: readonly string[],
    options?: { cwd?: string; env?: Record<string, string>; timeoutMs?: number },
  ): Promise<CmdResult>;
  /** The last lines of the daemons' logs (for failure messages). */
  logTail(lines?: number): string;
  /** Cancels every job, stops the daemons and removes the folder; safe to call twice. */
  stop(): Promise<void>;
}

/** Lifetime cap of every process started here, should the test itself be killed. */
const MAX_LIFETIME_S = 900;
const NODE = 'trit-test';
const DAEMONS = ['munged', 'slurmctld', 'slurmd'] as const;
const CLIENTS = ['sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo'] as const;

/** `cmd` on PATH or in the sbin folders (which a non-login PATH may lack), else undefined. */
function which(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin'];
  for (const d of dirs.filter(Boolean)) {
    const p = path.join(d, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

/** The environment of every Slurm command: none of the caller's SLURM_/SBATCH_ settings leak in. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SCONTROL)_/.test(k)) env[k] = v;
  env.PATH = [path.dirname(process.execPath), env.PATH ?? '', '/usr/sbin', '/usr/bin'].join(':');
  return { ...env, ...extra };
}

function collect(child: ChildProcess, timeoutMs: number): Promise<CmdResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns a value (not undefined), or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function netnsOf(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/**
 * Starts munged, slurmctld and slurmd (node `trit-test` with `cpus` CPUs and
 * `realMemoryMb` of memory, one partition) and waits, at most `timeoutMs`,
 * until the node is idle. Throws SlurmUnavailable, naming the reason and with
 * the daemons' logs, when a program is missing, the process is not root or a
 * daemon does not come up; whatever it started is stopped first.
 */
export async function startSlurm(options: {
  cpus: number;
  realMemoryMb: number;
  timeoutMs?: number;
}): Promise<SlurmCluster> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (process.platform !== 'linux')
    throw new SlurmUnavailable(`needs Linux, not ${process.platform}`);
  if (process.getuid?.() !== 0)
    throw new SlurmUnavailable('needs root (slurmd starts every job as its user)');
  const bins: Record<string, string> = {};
  const missing: string[] = [];
  for (const cmd of [...DAEMONS, ...CLIENTS, 'timeout']) {
    const p = which(cmd);
    if (p) bins[cmd] = p;
    else missing.push(cmd);
  }
  if (missing.length)
    throw new SlurmUnavailable(
      `${missing.join(', ')} not found: install Debian's slurmctld, slurmd, slurm-client and munge (.ci/install-slurm does, as root)`,
    );

  const dir = mkdtempSync(path.join(os.tmpdir(), 'trit-slurm-'));
  // munged wants its socket folder (and the path to it) open to all, its key folder private.
  chmodSync(dir, 0o755);
  const sub = (name: string, mode = 0o755) => {
    const p = path.join(dir, name);
    mkdirSync(p, { mode });
    chmodSync(p, mode);
    return p;
  };
  const keyDir = sub('munge-key', 0o700);
  const sockDir = sub('munge');
  const state = sub('state', 0o700);
  const spool = sub('spool', 0o755);
  const logs = sub('log');
  const socket = path.join(sockDir, 'munge.socket');
  const conf = path.join(dir, 'slurm.conf');

  const children = new Map<string, ChildProcess>();
  let holder: ChildProcess | undefined;
  let netns: string | undefined;
  let prefix: string[] = [];
  let stopped = false;

  const spawnIn = (cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd = dir) =>
    spawn(
      prefix.length ? prefix[0]! : cmd,
      prefix.length ? [...prefix.slice(1), cmd, ...args] : [...args],
      {
        cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  const daemonEnv = cleanEnv({ SLURM_CONF: conf });
  const startDaemon = (name: string, args: readonly string[]) => {
    const out = path.join(logs, `${name}.stdout`);
    const child = spawnIn(
      bins.timeout!,
      ['--kill-after=10', String(MAX_LIFETIME_S), bins[name]!, ...args],
      daemonEnv,
    );
    child.stdout?.on('data', (d) => writeFileSync(out, d, { flag: 'a' }));
    child.stderr?.on('data', (d) => writeFileSync(out, d, { flag: 'a' }));
    child.on('error', () => {});
    children.set(name, child);
    return child;
  };
  const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  const run: SlurmCluster['run'] = (cmd, args, o = {}) =>
    collect(
      spawnIn(cmd, args, cleanEnv({ SLURM_CONF: conf, ...(o.env ?? {}) }), o.cwd ?? dir),
      o.timeoutMs ?? 30_000,
    );
  const logTail = (lines = 15) =>
    readdirSync(logs)
      .sort()
      .map((f) => {
        const text = readFileSync(path.join(logs, f), 'utf8').trimEnd().split('\n');
        return `--- ${f}\n${text.slice(-lines).join('\n')}`;
      })
      .join('\n');

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const ctld = children.get('slurmctld');
    if (ctld && alive(ctld)) {
      const q = await run(bins.squeue!, ['-h', '-o', '%A'], { timeoutMs: 10_000 });
      const ids = [...new Set(q.stdout.split(/\s+/).filter(Boolean))];
      if (ids.length) {
        await run(bins.scancel!, ids, { timeoutMs: 10_000 });
        await waitFor(
          'the cancelled jobs to end',
          async () =>
            (await run(bins.squeue!, ['-h', '-o', '%A'], { timeoutMs: 10_000 })).stdout.trim()
              ? undefined
              : true,
          20_000,
        ).catch(() => {});
      }
    }
    // slurmd, slurmctld, munged: SIGTERM (timeout passes it on), then after 10 s
    // SIGKILL to timeout's process group (it leads one), which holds the daemon.
    for (const child of [...children.values()].reverse()) {
      if (!alive(child)) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (alive(child) && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
        await Promise.race([exited, sleep(5_000)]);
      }
    }
    // Whatever is still in the namespace (a job step, a stray slurmstepd) was started here.
    if (netns) {
      for (const pid of readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .map(Number)) {
        if (pid !== holder?.pid && netnsOf(pid) === netns) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {}
        }
      }
    }
    if (holder && alive(holder)) {
      const exited = new Promise((r) => holder!.once('exit', r));
      holder.kill('SIGKILL');
      await Promise.race([exited, sleep(5_000)]);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  let network: 'netns' | 'host' = 'host';
  let ports: [number, number];
  try {
    // A network namespace with only loopback: nothing outside can reach the
    // daemons and their ports collide with nothing. Needs unshare, nsenter, ip.
    const [unshare, nsenter, ip] = ['unshare', 'nsenter', 'ip'].map(which);
    if (unshare && nsenter && ip) {
      const h = spawn(unshare, ['--net', '--', 'sleep', String(MAX_LIFETIME_S)], {
        stdio: 'ignore',
      });
      h.on('error', () => {});
      const self = netnsOf('self');
      const ns = await waitFor(
        'the network namespace',
        () => {
          if (h.exitCode !== null || h.signalCode !== null) return null;
          const n = h.pid ? netnsOf(h.pid) : undefined;
          return n && n !== self ? n : undefined;
        },
        5_000,
        50,
      ).catch(() => null);
      if (ns && h.pid) {
        const nsPrefix = [nsenter, `--net=/proc/${h.pid}/ns/net`, '--'];
        const ipIn = (...args: string[]) =>
          collect(
            spawn(nsPrefix[0]!, [...nsPrefix.slice(1), ip, ...args], {
              stdio: ['ignore', 'pipe', 'pipe'],
            }),
            5_000,
          );
        // A second loopback address: slurmctld looks up its listening address
        // with AI_ADDRCONFIG, which glibc answers only when an IPv4 address
        // other than 127.0.0.1 exists.
        const up =
          (await ipIn('link', 'set', 'dev', 'lo', 'up')).code === 0 &&
          (await ipIn('addr', 'add', '127.0.0.2/8', 'dev', 'lo')).code === 0;
        if (up) {
          holder = h;
          netns = ns;
          prefix = nsPrefix;
          network = 'netns';
        }
      }
      if (!holder && h.exitCode === null) h.kill('SIGKILL');
    }
    ports = network === 'netns' ? [6817, 6818] : [await freePort(), await freePort()];

    writeFileSync(path.join(keyDir, 'munge.key'), randomBytes(1024), { mode: 0o600 });
    const munged = startDaemon('munged', [
      '--foreground',
      `--socket=${socket}`,
      `--key-file=${path.join(keyDir, 'munge.key')}`,
      `--log-file=${path.join(logs, 'munged.log')}`,
      `--pid-file=${path.join(keyDir, 'munged.pid')}`,
      `--seed-file=${path.join(keyDir, 'munged.seed')}`,
      '--num-threads=2',
    ]);
    await waitFor(
      'munged to create its socket',
      () => (alive(munged) ? existsSync(socket) || undefined : false),
      10_000,
      100,
    );
    if (!alive(munged)) throw new SlurmUnavailable('munged exited');

    writeFileSync(
      conf,
      [
        'ClusterName=trit-test',
        'SlurmctldHost=localhost(127.0.0.1)',
        `SlurmctldPort=${ports[0]}`,
        `SlurmdPort=${ports[1]}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${socket}`,
        `StateSaveLocation=${state}`,
        `SlurmdSpoolDir=${spool}`,
        `SlurmctldPidFile=${path.join(dir, 'slurmctld.pid')}`,
        `SlurmdPidFile=${path.join(dir, 'slurmd.pid')}`,
        `SlurmctldLogFile=${path.join(logs, 'slurmctld.log')}`,
        `SlurmdLogFile=${path.join(logs, 'slurmd.log')}`,
        // No cgroups, accounting or MPI: nothing outside the folder is touched.
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'JobCompType=jobcomp/none',
        'MpiDefault=none',
        'SwitchType=switch/none',
        'SchedulerType=sched/backfill',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_CPU',
        'ReturnToService=2',
        // Finished jobs stay visible to squeue for the whole test.
        'MinJobAge=900',
        `NodeName=${NODE} NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=${options.cpus} RealMemory=${options.realMemoryMb} State=UNKNOWN`,
        `PartitionName=trit Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP`,
        '',
      ].join('\n'),
    );
    const ctld = startDaemon('slurmctld', ['-D', '-f', conf]);
    await waitFor(
      'slurmctld to answer',
      async () => {
        if (!alive(ctld)) return false;
        const p = await run(bins.scontrol!, ['ping'], { timeoutMs: 10_000 });
        return /is UP/.test(p.stdout) || undefined;
      },
      timeoutMs,
    );
    if (!alive(ctld)) throw new SlurmUnavailable('slurmctld exited');
    const slurmd = startDaemon('slurmd', ['-D', '-N', NODE, '-f', conf]);
    const nodeState = await waitFor(
      `node ${NODE} to be idle`,
      async () => {
        if (!alive(slurmd)) return 'slurmd exited';
        const s = await run(bins.sinfo!, ['-h', '-n', NODE, '-o', '%T'], { timeoutMs: 10_000 });
        return s.stdout.trim() === 'idle' ? 'idle' : undefined;
      },
      timeoutMs,
    );
    if (nodeState !== 'idle') throw new SlurmUnavailable(nodeState);
  } catch (err) {
    const tail = existsSync(logs) ? logTail() : '';
    await stop();
    const reason = err instanceof Error ? err.message : String(err);
    throw new SlurmUnavailable(`Slurm did not start (${network} network): ${reason}\n${tail}`);
  }
  return { dir, node: NODE, network, ports, run, logTail, stop };
}
