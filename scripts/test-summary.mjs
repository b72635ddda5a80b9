#!/usr/bin/env node
// Adds up the vitest JSON reports that `npm test` leaves in each package (and
// the TAP report of the root's scripts tests) and
// prints one closing line, `Tests: N passed, N failed, N skipped`. Exits 1 if
// any test failed, a package with tests has no report, or nothing ran.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packagesDir = path.join(root, 'packages');
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
/**
 * One line per package (or the scripts), added to the totals.
 * @param {string} name @param {number} p @param {number} f @param {number} s
 */
function add(name, p, f, s) {
  console.log(
    `  ${name.padEnd(16)} ${String(p).padStart(4)} passed ${String(f).padStart(3)} failed ${String(s).padStart(3)} skipped`,
  );
  passed += p;
  failed += f;
  skipped += s;
}
for (const name of readdirSync(packagesDir).sort()) {
  const dir = path.join(packagesDir, name);
  if (!existsSync(path.join(dir, 'test'))) continue;
  const report = path.join(dir, 'test-results.json');
  if (!existsSync(report)) {
    missing.push(name);
    continue;
  }
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const p = r.numPassedTests ?? 0;
  // Failed tests; a failed suite (a file that did not load, a failing hook) only when no
  // test failed, since a failing test also fails its describe block and its file.
  const f = r.numFailedTests || r.numFailedTestSuites || 0;
  const s = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  add(name, p, f, s);
}
// The root's node:test files (`npm run test:scripts`) leave a TAP report.
const scriptsReport = path.join(root, 'scripts', 'test-results.tap');
if (existsSync(scriptsReport)) {
  const tap = readFileSync(scriptsReport, 'utf8');
  const count = (/** @type {string} */ key) =>
    Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  add(
    'scripts',
    count('pass'),
    count('fail') + count('cancelled'),
    count('skipped') + count('todo'),
  );
} else {
  missing.push('scripts');
}
for (const name of missing) console.log(`  ${name.padEnd(16)} no test report (did its tests run?)`);
console.log(`Tests: ${passed} passed, ${failed + missing.length} failed, ${skipped} skipped`);
process.exit(failed > 0 || missing.length > 0 || passed === 0 ? 1 : 0);
