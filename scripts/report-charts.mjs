#!/usr/bin/env node
// Renders every chart of a `trit bench` report.html to a PNG (headless Chromium),
// so published results can show their plots where HTML is not rendered (GitHub).
//
//   node scripts/report-charts.mjs <report.html> <out-dir>
//
// Writes <out-dir>/<chart id>.png per chart and prints one line per file. Uses
// TRIT_CHROMIUM or Debian's chromium (installed by `npm run setup` as root).
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [report, outDir] = process.argv.slice(2);
if (!report || !outDir) {
  console.error('usage: node scripts/report-charts.mjs <report.html> <out-dir>');
  process.exit(2);
}
if (!existsSync(report)) {
  console.error(`${report}: no such file`);
  process.exit(2);
}
const candidates = [
  process.env.TRIT_CHROMIUM,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
].filter(/** @returns {c is string} */ (c) => c !== undefined && c !== '');
const executablePath = candidates.find((c) => existsSync(c));
if (!executablePath) {
  console.error(`no Chromium found (looked at ${candidates.join(', ')}); set TRIT_CHROMIUM`);
  process.exit(2);
}

mkdirSync(outDir, { recursive: true });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  /** @type {string[]} */
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(path.resolve(report)).href);
  await page.waitForFunction(() =>
    [...document.querySelectorAll('canvas')].every((c) => c.width > 0 && c.height > 0),
  );
  if (errors.length) throw new Error(`the report logged errors: ${errors.join('; ')}`);
  const sections = await page.$$('section:has(canvas)');
  for (const section of sections) {
    const id = await section.$eval('canvas', (c) => c.id);
    const file = path.join(outDir, `${id}.png`);
    await section.screenshot({ path: file });
    console.log(file);
  }
} finally {
  await browser.close();
}
