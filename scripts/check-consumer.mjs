#!/usr/bin/env node
// Checks @trit/quant-core the way an application gets it from npm, outside this
// repository: `npm pack`s it (after a build), installs the tarball with
// @tensorflow/tfjs and @tensorflow/tfjs-node (this repository's versions) into a
// scratch project in the temporary folder, and requires that
//   1. before the set-up, initBackend() falls back to cpu with a message naming
//      `npx @trit/quant-core setup-native` (and no trit checkout);
//   2. `npx @trit/quant-core setup-native`, run in that project, exits 0;
//   3. after it, initBackend() selects the native TensorFlow backend and computes;
//   4. with @trit/export and @trit/runtime packed and installed the same way, a tiny
//      model quantized with quantizeModel exports and runs in the runtime, matching tfjs.
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
  const published = ['quant-core', 'runtime', 'export'];
  sh(
    npm,
    [
      'run',
      'build',
      '--',
      ...published.map((p) => `--filter=@trit/${p}`),
      '--output-logs=errors-only',
    ],
    { cwd: root },
  );
  const packs = path.join(work, 'packs');
  mkdirSync(packs);
  for (const p of published) {
    sh(npm, ['pack', '--silent', '--pack-destination', packs], {
      cwd: path.join(root, 'packages', p),
    });
  }
  const tarballs = readdirSync(packs).map((f) => path.join(packs, f));
  if (tarballs.length !== published.length)
    fail(`npm pack wrote ${tarballs.length} tarballs to ${packs}, expected ${published.length}`);

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
    ...tarballs,
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

  // 4. Export a tiny quantized model with the installed @trit/export and run it in @trit/runtime.
  const exportCode = `
    const tf = await import('@tensorflow/tfjs');
    const { quantizeModel } = await import('@trit/quant-core');
    const { exportModel } = await import('@trit/export');
    const { decodeModel } = await import('@trit/runtime');
    const base = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [8], units: 16, activation: 'relu' }),
      tf.layers.dense({ units: 16, activation: 'relu' }),
      tf.layers.dense({ units: 3 }),
    ] });
    const { model } = quantizeModel(base, { default: 'bwn' });
    const { manifest, binary } = exportModel(model);
    const x = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const ours = decodeModel(manifest, binary).predict({ shape: [2, 8], data: x }).data;
    const ref = model.predict(tf.tensor2d(x, [2, 8])).dataSync();
    const diff = Math.max(...ours.map((v, i) => Math.abs(v - ref[i])));
    const kernels = manifest.ops.filter((o) => o.kernel).map((o) => o.kernel.encoding);
    process.stdout.write(JSON.stringify({ kernels, diff }));`;
  const exported = spawnSync(process.execPath, ['--input-type=module', '-e', exportCode], {
    cwd: project,
    encoding: 'utf8',
  });
  if (exported.status !== 0) fail(`exporting with @trit/export failed:\n${exported.stderr}`);
  const { kernels, diff } = JSON.parse(exported.stdout);
  if (kernels.join() !== 'float32,binary,float32' || !(diff < 1e-5)) {
    fail(`@trit/export in the project gave kernels ${kernels}, max |runtime - tfjs| ${diff}`);
  }
  console.log(`   @trit/export: kernels ${kernels.join(', ')}; runtime vs tfjs max diff ${diff}`);
  console.log(
    `\ncheck-consumer OK in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
      `initBackend() in ${project} selects ${after.info.name} (TensorFlow ${after.info.tensorflowVersion}).`,
  );
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
