// The Slurm example of the README (examples/slurm/*.sh), run as it is on a real
// single-node Slurm that the test starts and stops (Debian's slurmctld, slurmd
// and munge; .ci/install-slurm installs them). Without them, or without root,
// the Slurm test skips and prints why; with TRIT_REQUIRE_SLURM=1 (set by .ci/run
// once the packages are installed) it fails instead.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertCliBuilt,
  PACKAGE_DIR,
  removeDir,
  runCli,
  tempDir,
  withoutTiming,
} from './bench-support.js';
import { type SlurmCluster, SlurmUnavailable, startSlurm, waitFor } from './slurm-cluster.js';

const EXAMPLE = path.join(PACKAGE_DIR, 'examples', 'slurm');
const SCRIPTS = ['submit.sh', 'bench-array.sh', 'bench-merge.sh'];
const SUBMIT = path.join(EXAMPLE, 'submit.sh');

/** 3 methods x 2 seeds on a tiny synthetic task: 6 runs, 2 per shard, seconds each. */
const STUDY = {
  name: 'slurm-smoke',
  description: '3 methods x 2 seeds on a tiny synthetic task (the Slurm integration test)',
  data: { type: 'synthetic', size: 8, numClasses: 4, numTrain: 96, numTest: 64 },
  model: { type: 'resnet-cifar', depth: 8, widths: [4, 8, 8] },
  protocol: 'finetune',
  methods: ['fp32', 'twn', 'ttq'],
  seeds: [0, 1],
  pretrain: {
    epochs: 1,
    batchSize: 32,
    optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 },
    schedule: { type: 'constant' },
  },
  finetune: {
    epochs: 1,
    batchSize: 32,
    optimizer: { type: 'sgd', lr: 0.01, momentum: 0.9 },
    schedule: { type: 'constant' },
  },
};

let work: string;
let studyFile: string;
beforeAll(() => {
  assertCliBuilt();
  work = tempDir('trit-slurm-test-');
  // As submit.sh names it (realpath).
  studyFile = path.join(realpathSync(work), 'slurm-smoke.json');
  writeFileSync(studyFile, `${JSON.stringify(STUDY, null, 2)}\n`);
});
afterAll(() => removeDir(work));

/** Runs a script outside Slurm (for the checks submit.sh makes before it submits). */
function runScript(
  file: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // No Slurm is reachable: a check that let the script through would fail at sbatch.
    const child = spawn(file, args, {
      cwd,
      env: { ...process.env, SLURM_CONF: path.join(cwd, 'no-slurm.conf'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const TIMING_COLUMNS = new Set([
  'train_images_per_second',
  'wall_seconds',
  'train images/s',
  'wall time',
]);

/** results.csv without its timing columns. */
function csvRows(dir: string): string[][] {
  const [header, ...rows] = readFileSync(path.join(dir, 'results.csv'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(','));
  const keep = header!.map((h, i) => (TIMING_COLUMNS.has(h) ? -1 : i)).filter((i) => i >= 0);
  return [header!, ...rows].map((r) => keep.map((i) => r[i]!));
}

/** summary.md's results table without its timing columns, and its pre-training lines without timings. */
function summaryTables(dir: string): { table: string[][]; pretraining: string[] } {
  const lines = readFileSync(path.join(dir, 'summary.md'), 'utf8').split('\n');
  const cells = lines
    .filter((l) => l.startsWith('| '))
    .map((l) =>
      l
        .slice(2, -2)
        .split(' | ')
        .map((c) => c.trim()),
    );
  const keep = cells[0]!.map((h, i) => (TIMING_COLUMNS.has(h) ? -1 : i)).filter((i) => i >= 0);
  const pretraining = lines
    .filter((l) => l.startsWith('- seed ') || l.startsWith('- mean over'))
    .map((l) =>
      l.replace(/, [\d.]+ train images\/s/, '').replace(/, wall time [\d.]+ s( in all)?/, ''),
    );
  return { table: cells.map((r) => keep.map((i) => r[i]!)), pretraining };
}

/** Every run's epoch records (losses, accuracies, per-layer codes) without timings, by method and seed. */
function histories(dir: string) {
  const runs = (
    JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as {
      runs: { method: string; seed: number; history: Parameters<typeof withoutTiming>[0] }[];
    }
  ).runs;
  return Object.fromEntries(
    runs.map((r) => [`${r.method}-seed${r.seed}`, withoutTiming(r.history)]),
  );
}

function resultsJson(dir: string): { generatedAt: string; config: { shard?: number[] } } {
  return JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8'));
}

describe('the Slurm example (examples/slurm)', () => {
  it('the README quotes each script verbatim', () => {
    const readme = readFileSync(path.join(PACKAGE_DIR, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    for (const file of SCRIPTS)
      expect(blocks, `README.md quotes examples/slurm/${file}`).toContain(
        readFileSync(path.join(EXAMPLE, file), 'utf8'),
      );
  });

  it('submit.sh checks the study file and N, and keeps a folder to one sweep, before it submits anything', async () => {
    const dir = path.join(work, 'checks');
    mkdirSync(dir);
    const env = { TRIT_STUDY: studyFile, TRIT_SHARDS: '3' };
    const noStudy = await runScript(SUBMIT, [], dir, { ...env, TRIT_STUDY: 'nope.json' });
    expect(noStudy.code).toBe(2);
    expect(noStudy.stderr).toBe('submit.sh: no study file nope.json\n');
    const badN = await runScript(SUBMIT, [], dir, { ...env, TRIT_SHARDS: '0' });
    expect(badN.code).toBe(2);
    expect(badN.stderr).toBe("submit.sh: N must be a positive integer, got '0'\n");
    // A folder that holds a sweep of this study in 3 shards.
    const out = path.join(dir, 'runs');
    mkdirSync(out);
    writeFileSync(path.join(out, 'sweep.txt'), `${studyFile} in 3 shards\n`);
    const otherN = await runScript(SUBMIT, [], dir, { ...env, TRIT_SHARDS: '4' });
    expect(otherN.code).toBe(2);
    expect(otherN.stderr).toBe(
      `submit.sh: ${out} holds the sweep of ${studyFile} in 3 shards, not of ${studyFile} in 4 shards\n`,
    );
    // TRIT_STUDY forgotten: the default study is refused too.
    const builtIn = path.join(PACKAGE_DIR, 'studies', 'cifar10-resnet20.json');
    const otherStudy = await runScript(SUBMIT, [], dir, { TRIT_SHARDS: '3' });
    expect(otherStudy.code).toBe(2);
    expect(otherStudy.stderr).toBe(
      `submit.sh: ${out} holds the sweep of ${studyFile} in 3 shards, not of ${builtIn} in 3 shards\n`,
    );
    expect(readFileSync(path.join(out, 'sweep.txt'), 'utf8')).toBe(`${studyFile} in 3 shards\n`);
    expect(readdirSync(out)).toEqual(['logs', 'sweep.txt']);
  });

  it('on a real single-node Slurm: 3 shards as a job array and the merge after it, as the README says; one shard re-submitted; merged tables equal the unsharded run', async (ctx) => {
    let cluster: SlurmCluster;
    try {
      cluster = await startSlurm({
        // Not more than the machine has (and 2 at most): the tasks must not over-subscribe it.
        cpus: Math.min(2, os.availableParallelism()),
        realMemoryMb: Math.min(4096, Math.floor(os.totalmem() / 2 ** 20)),
      });
    } catch (err) {
      if (err instanceof SlurmUnavailable && process.env.TRIT_REQUIRE_SLURM !== '1') {
        const reason = err.message.split('\n')[0]!;
        console.warn(`[slurm test] skipped: ${err.message}`);
        ctx.skip(reason);
      }
      throw err;
    }
    const c = cluster;
    const sweep = path.join(work, 'sweep');
    const out = path.join(sweep, 'runs');
    const logs = path.join(out, 'logs');
    /** squeue's id, state and reason of every task of these jobs (finished ones included). */
    const jobStates = async (ids: readonly string[]) => {
      const q = await c.run('squeue', [
        '--states=all',
        '-h',
        '-o',
        '%i|%T|%r',
        '-j',
        ids.join(','),
      ]);
      expect(q.code, q.stderr).toBe(0);
      return Object.fromEntries(
        q.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('|'))
          .map(([id, state, reason]) => [id!, `${state} (${reason})`]),
      );
    };
    const ACTIVE = /^(PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|RESIZING|SUSPENDED)/;
    /** Waits until every task of these jobs has ended; their final states. */
    const finished = (ids: readonly string[], timeoutMs: number) =>
      waitFor(
        `jobs ${ids.join(', ')} to end`,
        async () => {
          const s = await jobStates(ids);
          const pendingArray = Object.keys(s).some((id) => id.includes('['));
          return !pendingArray && Object.values(s).every((v) => !ACTIVE.test(v)) ? s : undefined;
        },
        timeoutMs,
        2_000,
      );
    const diagnostics = () => {
      const files = existsSync(logs) ? readdirSync(logs).sort() : [];
      return `${files.map((f) => `--- ${f}\n${readFileSync(path.join(logs, f), 'utf8').slice(-2000)}`).join('\n')}\n${c.logTail()}`;
    };
    const submit = async (extra: readonly string[]) => {
      // The documented command; the shards' resources fit the test node (1 CPU,
      // 512 MB each: the #SBATCH lines ask for a real node's 8 CPUs and 8 GB).
      const r = await c.run(SUBMIT, ['--cpus-per-task=1', '--mem=512M', '--time=10', ...extra], {
        cwd: sweep,
        env: { TRIT_STUDY: studyFile, TRIT_SHARDS: '3' },
      });
      expect(r.code, r.stderr).toBe(0);
      console.log(`[slurm test] ./submit.sh ${extra.join(' ')}\n${r.stdout}`);
      const array = /^array job (\d+):/m.exec(r.stdout)?.[1];
      const merge = /^merge job (\d+):/m.exec(r.stdout)?.[1];
      expect(array && merge, r.stdout).toBeTruthy();
      return { array: array!, merge: merge! };
    };
    try {
      console.log(
        `[slurm test] Slurm up: ${c.network} network, ports ${c.ports.join('/')}, folder ${c.dir}`,
      );
      mkdirSync(sweep);
      // No logs/ folder before submitting: submit.sh must create it.
      const first = await submit([]);
      // The merge waits for every task of the array to succeed.
      const merge = await c.run('squeue', ['-h', '-j', first.merge, '-o', '%T|%r|%E']);
      expect(merge.stdout.trim()).toMatch(
        new RegExp(`^PENDING\\|Dependency\\|afterok:${first.array}_\\*\\(unfulfilled\\)$`),
      );
      const states = await finished([first.array, first.merge], 300_000).catch((err) => {
        throw new Error(`${err.message}\n${diagnostics()}`);
      });
      console.log(`[slurm test] final states: ${JSON.stringify(states)}`);
      expect(states, diagnostics()).toEqual({
        [`${first.array}_1`]: 'COMPLETED (None)',
        [`${first.array}_2`]: 'COMPLETED (None)',
        [`${first.array}_3`]: 'COMPLETED (None)',
        [first.merge]: 'COMPLETED (None)',
      });
      for (const i of [1, 2, 3]) {
        expect(existsSync(path.join(logs, `shard-${i}-job${first.array}.out`))).toBe(true);
        expect(resultsJson(path.join(out, `shard-${i}`)).config.shard).toEqual([i, 3]);
      }
      const mergeLog = readFileSync(path.join(logs, `merge-job${first.merge}.out`), 'utf8');
      expect(mergeLog).toContain(`merged 6 runs into ${path.join(out, 'merged')}`);

      // Shard 2 again, as the README says for a failed task: i/N stays 2/3 (not
      // 2/1 from an array of one task), its runs are reused, the merge re-runs.
      const before = resultsJson(path.join(out, 'shard-2')).generatedAt;
      const mergedBefore = resultsJson(path.join(out, 'merged')).generatedAt;
      const again = await submit(['--array=2']);
      const againStates = await finished([again.array, again.merge], 180_000).catch((err) => {
        throw new Error(`${err.message}\n${diagnostics()}`);
      });
      console.log(`[slurm test] re-submitted shard 2: ${JSON.stringify(againStates)}`);
      expect(againStates, diagnostics()).toEqual({
        [`${again.array}_2`]: 'COMPLETED (None)',
        [again.merge]: 'COMPLETED (None)',
      });
      const shard2 = resultsJson(path.join(out, 'shard-2'));
      expect(shard2.config.shard).toEqual([2, 3]);
      expect(shard2.generatedAt > before).toBe(true);
      expect(resultsJson(path.join(out, 'merged')).generatedAt > mergedBefore).toBe(true);
      const log2 = readFileSync(path.join(logs, `shard-2-job${again.array}.out`), 'utf8');
      for (const seed of [0, 1])
        expect(log2).toContain(
          `[bench] twn seed ${seed}: already done, reusing ${path.join(out, 'shard-2', 'runs', `twn-seed${seed}`, 'result.json')}`,
        );
    } finally {
      await c.stop();
    }
    expect(existsSync(c.dir)).toBe(false);

    // The same study, unsharded and outside Slurm: the same tables, timing aside.
    const whole = path.join(work, 'whole');
    const r = await runCli(['bench', '--study', studyFile, '--out', whole, '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const merged = path.join(out, 'merged');
    const mergedTables = summaryTables(merged);
    console.log(
      `[slurm test] merged summary.md (timing aside):\n${mergedTables.table.map((row) => row.join(' | ')).join('\n')}\n${mergedTables.pretraining.join('\n')}`,
    );
    expect(mergedTables.table).toHaveLength(5); // header, rule, fp32, twn, ttq
    expect(mergedTables).toEqual(summaryTables(whole));
    expect(csvRows(merged)).toHaveLength(7); // header + 3 methods x 2 seeds
    expect(csvRows(merged)).toEqual(csvRows(whole));
    expect(histories(merged)).toEqual(histories(whole));
  }, 600_000);
});
