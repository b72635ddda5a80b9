#!/usr/bin/env node
// `npm run setup`: everything a new clone needs, in one command.
//   1. npm dependencies (versions from package-lock.json), with install scripts off: the only
//      script that matters is tfjs-node's, and it aborts the whole install on
//      a machine that cannot reach Google's storage, so step 2 runs it itself.
//   2. the native TensorFlow backend (`setup-native` of @trit/quant-core,
//      packages/quant-core/bin/setup-native.mjs).
//   3. a build of every package, so the CLI and benchmarks run straight away;
//   4. the `trit` command linked in node_modules/.bin (for `npx trit`);
//   5. a Chromium for the report test (Debian's package, when running as root
//      on Debian/Ubuntu; elsewhere it says how to get one, or set TRIT_CHROMIUM).
// When it has finished it writes node_modules/.trit-setup.json.
//
// `node scripts/setup.mjs --if-needed` (how `npm test` and `npm run bench` start)
// does nothing when that stamp matches this checkout (a file read and a hash),
// and the whole set-up otherwise: on a fresh clone, after `package-lock.json`
// changed, or under another Node.js ABI.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const STAMP = path.join(root, 'node_modules', '.trit-setup.json');
const started = Date.now();

/** What a finished set-up depends on: the locked dependencies and the Node.js ABI of the native addon. */
function fingerprint() {
  const lock = readFileSync(path.join(root, 'package-lock.json'));
  return {
    lockfile: createHash('sha256').update(lock).digest('hex'),
    nodeAbi: process.versions.modules,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** Why the set-up must run, or null when the stamp of a finished one matches. */
function setupNeeded() {
  if (!existsSync(STAMP)) return 'this checkout has not been set up yet';
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
  } catch {
    return `${path.relative(root, STAMP)} is unreadable`;
  }
  const now = fingerprint();
  if (stamp.lockfile !== now.lockfile) return 'package-lock.json changed since the last set-up';
  if (stamp.nodeAbi !== now.nodeAbi || stamp.platform !== now.platform) {
    return `the set-up was for Node.js ABI ${stamp.nodeAbi} on ${stamp.platform}, this is ${now.nodeAbi} on ${now.platform}`;
  }
  return null;
}

function writeStamp() {
  const tmp = `${STAMP}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    `${JSON.stringify({ ...fingerprint(), at: new Date().toISOString() }, null, 2)}\n`,
  );
  renameSync(tmp, STAMP);
}

if (process.argv.includes('--if-needed')) {
  const reason = setupNeeded();
  if (reason === null) process.exit(0);
  console.log(`trit: ${reason}; running \`npm run setup\` first.`);
}

/**
 * Runs one set-up step from the repository root, its output shown; a failure ends the set-up.
 * @param {string} title
 * @param {string} cmd
 * @param {string[]} args
 */
function step(title, cmd, args) {
  console.log(`\n== ${title}\n$ ${[cmd, ...args].join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\nsetup failed at "${title}" (${cmd} exited with ${r.status ?? r.signal}).`);
    process.exit(r.status || 1);
  }
  console.log(`   (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`trit needs Node.js 20.19 or newer; this is ${process.version}.`);
  process.exit(1);
}

// `npm install`, not `npm ci`: npm leaves other platforms' optional packages
// (biome, rollup, turbo binaries) out of the lockfile (npm/cli#8320), and
// `npm ci` then rejects the lockfile as out of sync. `npm install` still takes
// every version from package-lock.json.
step('npm dependencies', npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund']);
step('native TensorFlow backend (@tensorflow/tfjs-node)', process.execPath, [
  'packages/quant-core/bin/trit-quant-core.mjs',
  'setup-native',
]);
step('build all packages', npm, ['run', 'build']);
ensureTritBin();
ensureChromium();
writeStamp();
console.log(
  `\nsetup done in ${((Date.now() - started) / 1000).toFixed(0)} s. Next: \`npm test\`, then \`npm run bench\`.`,
);

/**
 * npm links bins while installing; packages/cli/bin/trit.mjs is committed so
 * that it exists then. An older node_modules can still miss the link (npm trusts
 * its own record of the bins), so re-link when it is not there.
 */
function ensureTritBin() {
  const bin = path.join(
    root,
    'node_modules',
    '.bin',
    process.platform === 'win32' ? 'trit.cmd' : 'trit',
  );
  if (existsSync(bin)) return;
  step('link the trit command', npm, ['rebuild', '--ignore-scripts', '@trit/cli']);
  if (!existsSync(bin)) {
    console.error(`\nsetup failed: npm did not link ${path.relative(root, bin)}.`);
    process.exit(1);
  }
}

function findChromium() {
  const candidates = [
    process.env.TRIT_CHROMIUM,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ];
  return candidates.find((c) => c && existsSync(c));
}

function ensureChromium() {
  console.log('\n== Chromium (for the HTML report test)');
  const found = findChromium();
  if (found) {
    console.log(`   found ${found}`);
    return;
  }
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (process.platform === 'linux' && root && existsSync('/usr/bin/apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [
      ['update', '-qq'],
      ['install', '-y', '-qq', 'chromium'],
    ]) {
      console.log(`$ apt-get ${args.join(' ')}`);
      const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
      if (r.status !== 0) break;
    }
    if (findChromium()) return;
  }
  console.warn(
    '   WARNING: no Chromium found; the report test will fail. Install one (Debian/Ubuntu: `apt-get install chromium`) ' +
      'or point TRIT_CHROMIUM at a Chrome/Chromium binary.',
  );
}
