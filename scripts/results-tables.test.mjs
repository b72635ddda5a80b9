// Tests of scripts/results-tables.mjs, and the check it exists for: every table
// a page of this repository quotes is identical to its committed source.
// Run by `npm test` (node --test scripts/).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { firstTable, parseMarker, renderTable, updatePage } from './results-tables.mjs';

const script = fileURLToPath(new URL('./results-tables.mjs', import.meta.url));
const SUMMARY = [
  '# a study',
  '',
  'Backend: cpu.',
  '',
  '| method | n | test accuracy (%) | gap to FP32 (points) |',
  '| --- | ---: | ---: | ---: |',
  '| fp32 | 3 | 87.90 ± 0.12 | reference |',
  '| twn | 3 | 87.40 ± 0.05 | -0.50 |',
  '',
  'Notes.',
  '',
  '| other | table |',
  '| --- | --- |',
  '| not | this |',
  '',
].join('\n');

/**
 * A repository in a temporary folder: results/summary.md and the page `page`.
 * @param {string} page
 */
function repo(page) {
  const root = mkdtempSync(path.join(tmpdir(), 'results-tables-'));
  mkdirSync(path.join(root, 'results'));
  writeFileSync(path.join(root, 'results', 'summary.md'), SUMMARY);
  writeFileSync(path.join(root, 'page.md'), page);
  return root;
}

test('firstTable reads the first table: header, alignment and rows', () => {
  assert.deepEqual(firstTable(SUMMARY, 'summary.md'), {
    header: ['method', 'n', 'test accuracy (%)', 'gap to FP32 (points)'],
    align: ['---', '---:', '---:', '---:'],
    rows: [
      ['fp32', '3', '87.90 ± 0.12', 'reference'],
      ['twn', '3', '87.40 ± 0.05', '-0.50'],
    ],
  });
  assert.throws(
    () => firstTable('# no table\n', 'x.md'),
    /^Error: x\.md: no markdown table in it$/,
  );
  assert.throws(
    () => firstTable('| a | b |\n| --- | --- |\n| 1 |\n', 'x.md'),
    /^Error: x\.md: a row of its table has 1 cells, the header 2: \| 1 \|$/,
  );
});

test('renderTable picks the named columns in the given order, and names an unknown one', () => {
  const table = firstTable(SUMMARY, 'summary.md');
  assert.equal(
    renderTable(table, ['gap to FP32 (points)', 'method'], 'page.md:3'),
    [
      '| gap to FP32 (points) | method |',
      '| ---: | --- |',
      '| reference | fp32 |',
      '| -0.50 | twn |',
    ].join('\n'),
  );
  assert.throws(
    () => renderTable(table, ['method', 'accuracy'], 'page.md:3'),
    /^Error: page\.md:3: no column "accuracy" in the source table; its columns: method \| n \| test accuracy \(%\) \| gap to FP32 \(points\)$/,
  );
});

test('parseMarker reads the source, columns and rows, and names what it cannot read', () => {
  assert.deepEqual(parseMarker('results/summary.md', 'p.md:1'), { source: 'results/summary.md' });
  assert.deepEqual(parseMarker(' a.md ; rows: twn | fp32 ; columns: method|n ', 'p.md:1'), {
    source: 'a.md',
    rows: ['twn', 'fp32'],
    columns: ['method', 'n'],
  });
  assert.throws(
    () => parseMarker('a.md; colums: method', 'p.md:4'),
    /^Error: p\.md:4: "colums: method" is not "columns: a \| b" or "rows: x \| y"$/,
  );
  assert.throws(
    () => parseMarker('a.md; rows: x; rows: y', 'p.md:4'),
    /^Error: p\.md:4: "rows:" given twice$/,
  );
  assert.throws(
    () => parseMarker('; rows: x', 'p.md:4'),
    /^Error: p\.md:4: the marker names no source file$/,
  );
});

test('renderTable with rows keeps those rows in the source order, and names an unknown one', () => {
  const table = firstTable(SUMMARY, 'summary.md');
  assert.equal(
    renderTable(table, ['method', 'n'], 'page.md:3', ['twn', 'fp32']),
    ['| method | n |', '| --- | ---: |', '| fp32 | 3 |', '| twn | 3 |'].join('\n'),
  );
  assert.throws(
    () => renderTable(table, undefined, 'page.md:3', ['hla']),
    /^Error: page\.md:3: no row "hla" in the source table; its rows: fp32 \| twn$/,
  );
});

test('updatePage fills a block, reports it stale before and current after, and keeps the rest', () => {
  const page = [
    '# page',
    '<!-- table: results/summary.md; columns: method | test accuracy (%) -->',
    '| method | test accuracy (%) |',
    '| --- | ---: |',
    '| fp32 | 87.00 |',
    '<!-- end table -->',
    'after',
  ].join('\n');
  const root = repo(page);
  const file = path.join(root, 'page.md');
  const first = updatePage(page, file, root);
  assert.deepEqual(first.blocks, [{ line: 2, source: 'results/summary.md', stale: true }]);
  assert.equal(
    first.text,
    [
      '# page',
      '<!-- table: results/summary.md; columns: method | test accuracy (%) -->',
      '| method | test accuracy (%) |',
      '| --- | ---: |',
      '| fp32 | 87.90 ± 0.12 |',
      '| twn | 87.40 ± 0.05 |',
      '<!-- end table -->',
      'after',
    ].join('\n'),
  );
  const second = updatePage(first.text, file, root);
  assert.equal(second.text, first.text);
  assert.deepEqual(second.blocks, [{ line: 2, source: 'results/summary.md', stale: false }]);
});

test('updatePage refuses a block without its end, a source outside the repository, a missing source', () => {
  const root = repo('');
  const file = path.join(root, 'page.md');
  assert.throws(
    () => updatePage('x\n<!-- table: results/summary.md -->\n| a |\n', file, root),
    (e) =>
      e instanceof Error &&
      e.message === `${file}:2: "<!-- table: … -->" without its "<!-- end table -->"`,
  );
  assert.throws(
    () => updatePage('<!-- table: ../outside.md -->\n<!-- end table -->\n', file, root),
    (e) =>
      e instanceof Error &&
      e.message === `${file}:1: the table's source ../outside.md is outside the repository`,
  );
  // a link inside the repository to another folder that has a summary.md
  symlinkSync(repo(''), path.join(root, 'elsewhere'));
  assert.throws(
    () =>
      updatePage('<!-- table: elsewhere/results/summary.md -->\n<!-- end table -->\n', file, root),
    (e) =>
      e instanceof Error &&
      e.message ===
        `${file}:1: cannot read the table's source elsewhere/results/summary.md (a link to outside the repository)`,
  );
  assert.throws(
    () => updatePage('<!-- table: results/none.md -->\n<!-- end table -->\n', file, root),
    (e) =>
      e instanceof Error &&
      e.message.startsWith(`${file}:1: cannot read the table's source results/none.md (ENOENT`),
  );
});

test('the command rewrites a stale page, and --check then passes; --check fails on a stale one', () => {
  const root = repo(
    '<!-- table: results/summary.md; columns: method | n -->\n<!-- end table -->\n',
  );
  const page = path.join(root, 'page.md');
  const run = (/** @type {string[]} */ args) => {
    try {
      return {
        code: 0,
        out: execFileSync('node', [script, ...args, '--root', root, page], { encoding: 'utf8' }),
      };
    } catch (e) {
      const err = /** @type {{ status: number, stdout: string }} */ (e);
      return { code: err.status, out: err.stdout };
    }
  };
  const stale = run(['--check']);
  assert.equal(stale.code, 1);
  assert.match(stale.out, /page\.md:1: the table differs from results\/summary\.md/);
  assert.equal(
    readFileSync(page, 'utf8'),
    '<!-- table: results/summary.md; columns: method | n -->\n<!-- end table -->\n',
  );
  assert.deepEqual(run([]), {
    code: 0,
    out: 'page.md:1: the table rewritten from results/summary.md\n1 quoted tables, 1 rewritten\n',
  });
  assert.equal(
    readFileSync(page, 'utf8'),
    '<!-- table: results/summary.md; columns: method | n -->\n| method | n |\n| --- | ---: |\n| fp32 | 3 |\n| twn | 3 |\n<!-- end table -->\n',
  );
  assert.deepEqual(run(['--check']), { code: 0, out: '1 quoted tables match their sources\n' });
});

test('every table the pages of this repository quote matches its committed source', () => {
  const out = execFileSync('node', [script, '--check'], { encoding: 'utf8' });
  assert.match(out, /^\d+ quoted tables match their sources\n$/);
});

test('the command names the page, line and source of a bad block and exits 2, writing nothing', () => {
  const text =
    'x\n<!-- table: results/summary.md; columns: method | accuracy -->\n<!-- end table -->\n';
  const root = repo(text);
  const page = path.join(root, 'page.md');
  // a stale page before it is not rewritten either: nothing is written unless every page is good
  const good = path.join(root, 'good.md');
  const goodText = '<!-- table: results/summary.md; columns: method -->\n<!-- end table -->\n';
  writeFileSync(good, goodText);
  const r = spawnSync('node', [script, '--root', root, good, page], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.equal(readFileSync(good, 'utf8'), goodText);
  assert.equal(
    r.stderr,
    `results-tables: ${page}:2: no column "accuracy" in the source table; its columns: method | n | test accuracy (%) | gap to FP32 (points)\n`,
  );
  assert.equal(readFileSync(page, 'utf8'), text);
});
