#!/usr/bin/env node
// Checks the README's commands on a fresh clone of this repository (its
// committed HEAD: uncommitted changes are not in the clone), in the temporary
// folder:
//   1. `npm run bench -- --preset smoke`: nothing is set up yet, so it must run
//      the set-up first, then the benchmark (the smoke preset instead of the
//      README's 8-minute quick one; the command is the same);
//   2. `npx trit --help`: the `trit` command is linked and runs;
//   3. `npm test -- --filter=@trit/runtime`: the set-up is done, so it must not
//      run again; then the tests (of one package, to keep this short);
//   4. `node scripts/setup.mjs --if-needed`, what both commands start with,
//      does nothing on the set-up clone.
// Takes a few minutes (an npm install and the native backend's build; the
// TensorFlow wheel comes from ~/.cache/trit or TRIT_CACHE_DIR when cached).
//
// Usage: node scripts/check-fresh-clone.mjs [--keep]   (--keep: leave the clone;
// it is also left when the check fails)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const keep = process.argv.includes('--keep');
const work = mkdtempSync(path.join(os.tmpdir(), 'trit-clone-'));
const clone = path.join(work, 'trit');
/** What scripts/setup.mjs prints when the whole set-up has run. */
const SETUP_DONE = /^setup done in \d+ s\./m;
const started = Date.now();

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`\ncheck-fresh-clone FAILED: ${message}\n(clone: ${clone})`);
  process.exit(1);
}

/**
 * Runs a command in the clone and shows the end of its output; returns the output and the time taken.
 * @param {string} cmd
 * @param {string[]} args
 */
function sh(cmd, args, cwd = clone) {
  console.log(`\n$ ${[cmd, ...args].join(' ')}   (in ${cwd})`);
  const t0 = Date.now();
  // Captured, not streamed: the checks read the output (its tail is shown below).
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const seconds = (Date.now() - t0) / 1000;
  console.log(`${out.split('\n').slice(-15).join('\n')}\n   (${seconds.toFixed(1)} s)`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  return { out, seconds };
}

try {
  sh('git', ['clone', '--quiet', '--no-hardlinks', root, clone], work);
  if (existsSync(path.join(clone, 'node_modules'))) fail('the clone already has node_modules');

  const bench = sh(npm, ['run', 'bench', '--', '--preset', 'smoke', '--out', 'runs/smoke']);
  if (!SETUP_DONE.test(bench.out)) fail('`npm run bench` on a fresh clone did not run the set-up');
  const results = JSON.parse(readFileSync(path.join(clone, 'runs/smoke/results.json'), 'utf8'));
  const methods = new Set(results.runs.map((/** @type {{ method: string }} */ r) => r.method));
  if (results.preset !== 'smoke' || methods.size < 6) {
    fail(`the smoke benchmark wrote an unexpected results.json (methods: ${[...methods]})`);
  }

  // `--` keeps npx from reading --help itself; --no: never fetch `trit` from the registry.
  const help = sh(npx, ['--no', '--', 'trit', '--help']);
  if (!/^Usage: trit /m.test(help.out) || !help.out.includes('bench')) {
    fail('`npx trit --help` did not print the trit usage');
  }

  const test = sh(npm, ['test', '--', '--filter=@trit/runtime']);
  if (SETUP_DONE.test(test.out) || test.out.includes('running `npm run setup` first')) {
    fail('`npm test` ran the set-up again on a set-up clone');
  }

  const again = sh(process.execPath, ['scripts/setup.mjs', '--if-needed']);
  if (again.out.trim() !== '') fail(`the set-up check printed something: ${again.out}`);

  console.log(
    `\ncheck-fresh-clone OK in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
      `bench ran the set-up first (${bench.seconds.toFixed(0)} s with the smoke run), ` +
      `npx trit works, npm test skipped the set-up, the set-up check took ${again.seconds.toFixed(2)} s.`,
  );
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
