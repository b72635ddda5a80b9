#!/usr/bin/env node
// Checks @trit/quant-core the way an application gets it from npm, outside this
// repository: `npm pack`s it (after a build), installs the tarball with
// @tensorflow/tfjs and @tensorflow/tfjs-node (this repository's versions) into a
// scratch project in the temporary folder, and requires that
//   1. before the set-up, initBackend() falls back to cpu with a message naming
//      `npx @trit/quant-core setup-native` (and no trit checkout);
//   2. `npx @trit/quant-core setup-native`, run in that project, exits 0;
//   3. after it, initBackend() selects the native TensorFlow backend and computes.
// tfjs-node is installed with --ignore-scripts, as the quant-core README says to do
// on a machine that cannot reach Google's storage; where its standard install can
// download, setup-native takes that path instead (either is fine).
//
// Usage: node scripts/check-consumer.mjs [--keep]   (--keep: leave the project for inspection;
// it is also left when the check fails)
// The wheel cache (~/.cache/trit or TRIT_CACHE_DIR) makes a second run fast.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const keep = process.argv.includes('--keep');
const work = mkdtempSync(path.join(os.tmpdir(), 'trit-consumer-'));
const project = path.join(work, 'app');
const started = Date.now();

/**
 * Runs a command, echoing it; returns its output. A non-zero exit fails the check.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv }} [options]
 */
function sh(cmd, args, { cwd = project, env = process.env } = {}) {
  console.log(`$ ${[cmd, ...args].join(' ')}   (in ${cwd})`);
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) fail(`${cmd} exited with ${r.status ?? r.signal}:\n${out}`);
  return { status: r.status, out };
}

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`\ncheck-consumer FAILED: ${message}\n(project: ${project})`);
  process.exit(1);
}

/** Runs `initBackend()` of the installed package in the project; returns its BackendInfo and stderr. */
function initBackendThere() {
  const code = `import('@trit/quant-core').then(async ({ initBackend }) => {
    const info = await initBackend();
    const tf = await import('@tensorflow/tfjs');
    const y = tf.conv2d(tf.ones([1, 4, 4, 2]), tf.ones([3, 3, 2, 1]), 1, 'same').sum().dataSync()[0];
    process.stdout.write(JSON.stringify({ ...info, conv: y }));
  });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: project,
    encoding: 'utf8',
  });
  if (r.status !== 0) fail(`initBackend() failed in the project:\n${r.stderr}`);
  return { info: JSON.parse(r.stdout), stderr: r.stderr };
}

try {
  const devDeps = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).devDependencies;
  sh(npm, ['run', 'build', '--', '--filter=@trit/quant-core', '--output-logs=errors-only'], {
    cwd: root,
  });
  const packs = path.join(work, 'packs');
  mkdirSync(packs);
  sh(npm, ['pack', '--silent', '--pack-destination', packs], {
    cwd: path.join(root, 'packages', 'quant-core'),
  });
  const packed = readdirSync(packs)[0];
  if (packed === undefined) fail(`npm pack wrote nothing to ${packs}`);
  const tarball = path.join(packs, packed);

  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  sh(npm, [
    'install',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    tarball,
    `@tensorflow/tfjs@${devDeps['@tensorflow/tfjs']}`,
    `@tensorflow/tfjs-node@${devDeps['@tensorflow/tfjs-node']}`,
  ]);

  // 1. Before: installed without its scripts, tfjs-node has no binding yet, so
  //    initBackend() falls back, and its message must name the command.
  const before = initBackendThere();
  const hint = before.info.fallbackReason ?? '';
  if (before.info.name !== 'cpu' || !hint.includes('npx @trit/quant-core setup-native')) {
    fail(`the cpu fallback does not name the command: ${JSON.stringify(before.info)}`);
  }
  if (hint.includes('trit checkout')) fail(`the fallback still mentions a trit checkout: ${hint}`);
  console.log(`   fallback message: ${hint}`);

  // 2. The command, exactly as the message words it (--no: never fetch it from the registry).
  const setup = sh(npx, ['--no', '--', '@trit/quant-core', 'setup-native'], {
    env: { ...process.env, TRIT_REQUIRE_NATIVE: '1' },
  });
  console.log(
    setup.out
      .split('\n')
      .filter((l) => l.startsWith('[tfjs-node]'))
      .join('\n'),
  );

  // 3. After: the native backend.
  const after = initBackendThere();
  if (after.info.name !== 'tensorflow' || after.info.conv !== 200) {
    fail(`after setup-native, initBackend() gave ${JSON.stringify(after.info)}\n${after.stderr}`);
  }
  const check = sh(npx, ['--no', '--', '@trit/quant-core', 'setup-native', '--check']);
  if (!check.out.includes('OK: native backend loads')) fail(`--check says: ${check.out}`);
  console.log(
    `\ncheck-consumer OK in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
      `initBackend() in ${project} selects ${after.info.name} (TensorFlow ${after.info.tensorflowVersion}).`,
  );
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
