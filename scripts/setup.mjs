#!/usr/bin/env node
// `npm run setup`: everything a new clone needs, in one command.
//   1. npm dependencies (versions from package-lock.json), with install scripts off: the only
//      script that matters is tfjs-node's, and it aborts the whole install on
//      a machine that cannot reach Google's storage, so step 2 runs it itself.
//   2. the native TensorFlow backend (scripts/setup-tfjs-node.mjs).
//   3. a build of every package, so the CLI and benchmarks run straight away;
//   4. a Chromium for the report test (Debian's package, when running as root
//      on Debian/Ubuntu; elsewhere it says how to get one, or set TRIT_CHROMIUM).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const started = Date.now();

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

const [major, minor] = process.versions.node.split('.').map(Number);
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
  'scripts/setup-tfjs-node.mjs',
]);
step('build all packages', npm, ['run', 'build']);
ensureChromium();
console.log(
  `\nsetup done in ${((Date.now() - started) / 1000).toFixed(0)} s. Next: \`npm test\`, then \`npm run bench\`.`,
);

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
