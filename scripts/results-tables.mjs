#!/usr/bin/env node
// Keeps the results tables that pages quote identical to the committed results
// files they come from. A page marks a quoted table with two comments:
//
//   <!-- table: results/summary.md; columns: method | n | test accuracy (%) -->
//   | method | n | test accuracy (%) |
//   ...
//   <!-- end table -->
//
// The source path is relative to the page and must stay inside the repository;
// the block gets the first markdown table of the source, with the named columns
// (all of them without `columns:`), in the order given, and with `rows: x | y`
// only the rows whose first cell is x or y (every such row, in the source's order).
//
//   node scripts/results-tables.mjs            rewrite every marked block of the repository's pages
//   node scripts/results-tables.mjs --check    exit 1 and name each block that differs from its source
//   node scripts/results-tables.mjs [--check] page.md ...   only these pages
//   --root DIR   the folder sources must stay inside (default: this repository)
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const OPEN = /^<!--\s*table:\s*(.+?)\s*-->\s*$/;
const CLOSE = /^<!--\s*end table\s*-->\s*$/;

/**
 * The cells of one markdown table row (`| a | b |` → ['a', 'b']).
 * @param {string} line
 */
function cells(line) {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());
}

/**
 * The first markdown table of `markdown`: its header, alignment row and body rows as cells.
 * @param {string} markdown
 * @param {string} where names the file in errors
 * @returns {{ header: string[], align: string[], rows: string[][] }}
 */
export function firstTable(markdown, where) {
  const lines = markdown.split('\n');
  const start = lines.findIndex(
    (l, i) => l.startsWith('|') && /^\|(\s*:?-+:?\s*\|)+\s*$/.test(lines[i + 1] ?? ''),
  );
  if (start < 0) throw new Error(`${where}: no markdown table in it`);
  const header = cells(lines[start] ?? '');
  const align = cells(lines[start + 1] ?? '');
  const rows = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const row = cells(line);
    if (row.length !== header.length) {
      throw new Error(
        `${where}: a row of its table has ${row.length} cells, the header ${header.length}: ${line}`,
      );
    }
    rows.push(row);
  }
  return { header, align, rows };
}

/**
 * A marker's `source; columns: a | b; rows: x | y` as its parts.
 * @param {string} spec
 * @param {string} where names the page and its marker in errors
 * @returns {{ source: string, columns?: string[], rows?: string[] }}
 */
export function parseMarker(spec, where) {
  const [source = '', ...options] = spec.split(';').map((p) => p.trim());
  /** @type {{ source: string, columns?: string[], rows?: string[] }} */
  const marker = { source };
  for (const option of options) {
    const m = /^(columns|rows):\s*(.*)$/.exec(option);
    if (!m?.[2]) {
      throw new Error(`${where}: "${option}" is not "columns: a | b" or "rows: x | y"`);
    }
    const key = /** @type {'columns' | 'rows'} */ (m[1]);
    if (marker[key]) throw new Error(`${where}: "${key}:" given twice`);
    marker[key] = m[2].split('|').map((c) => c.trim());
  }
  if (!source) throw new Error(`${where}: the marker names no source file`);
  return marker;
}

/**
 * The table as markdown, with only `columns` (header names, in that order) and
 * only the rows whose first cell is one of `rows` (in the source's order), if given.
 * @param {{ header: string[], align: string[], rows: string[][] }} table
 * @param {string[] | undefined} columns
 * @param {string} where names the page and its marker in errors
 * @param {string[]} [rows]
 */
export function renderTable(table, columns, where, rows) {
  for (const name of rows ?? []) {
    if (!table.rows.some((r) => r[0] === name)) {
      throw new Error(
        `${where}: no row "${name}" in the source table; its rows: ${[...new Set(table.rows.map((r) => r[0]))].join(' | ')}`,
      );
    }
  }
  const body = rows ? table.rows.filter((r) => rows.includes(r[0] ?? '')) : table.rows;
  const pick = (columns ?? table.header).map((name) => {
    const i = table.header.indexOf(name);
    if (i < 0) {
      throw new Error(
        `${where}: no column "${name}" in the source table; its columns: ${table.header.join(' | ')}`,
      );
    }
    return i;
  });
  const line = (/** @type {string[]} */ row) => `| ${pick.map((i) => row[i]).join(' | ')} |`;
  return [line(table.header), line(table.align), ...body.map(line)].join('\n');
}

/**
 * `page` (the text of the file `pagePath`) with every marked block replaced by its source's table.
 * @param {string} page
 * @param {string} pagePath
 * @param {string} root the repository: sources outside it are refused
 * @returns {{ text: string, blocks: { line: number, source: string, stale: boolean }[] }}
 */
export function updatePage(page, pagePath, root) {
  const lines = page.split('\n');
  const out = [];
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const open = OPEN.exec(line);
    out.push(line);
    if (!open) continue;
    const where = `${pagePath}:${i + 1}`;
    const marker = parseMarker(open[1] ?? '', where);
    const src = marker.source;
    const end = lines.findIndex((l, j) => j > i && (CLOSE.test(l) || OPEN.test(l)));
    if (end < 0 || !CLOSE.test(lines[end] ?? '')) {
      throw new Error(`${where}: "<!-- table: … -->" without its "<!-- end table -->"`);
    }
    const source = path.resolve(path.dirname(pagePath), src);
    const rel = path.relative(root, source);
    const outside = (/** @type {string} */ r) =>
      r === '..' || r.startsWith(`..${path.sep}`) || path.isAbsolute(r);
    if (outside(rel)) {
      throw new Error(`${where}: the table's source ${src} is outside the repository`);
    }
    let text;
    try {
      // a symbolic link inside the repository may not lead out of it either
      if (outside(path.relative(realpathSync(root), realpathSync(source)))) {
        throw new Error('a link to outside the repository');
      }
      text = readFileSync(source, 'utf8');
    } catch (e) {
      throw new Error(
        `${where}: cannot read the table's source ${src} (${e instanceof Error ? e.message : e})`,
      );
    }
    const table = renderTable(firstTable(text, rel), marker.columns, where, marker.rows);
    const old = lines.slice(i + 1, end).join('\n');
    blocks.push({ line: i + 1, source: rel, stale: old !== table });
    out.push(table, lines[end]);
    i = end;
  }
  return { text: out.join('\n'), blocks };
}

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { check: { type: 'boolean', default: false }, root: { type: 'string' } },
  });
  const root = path.resolve(
    values.root ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'),
  );
  const pages = positionals.length
    ? positionals.map((p) => path.resolve(p))
    : execFileSync('git', ['ls-files', '-z', '--', '*.md'], { cwd: root, encoding: 'utf8' })
        .split('\0')
        .filter(Boolean)
        .map((p) => path.join(root, p));
  let stale = 0;
  let count = 0;
  /** @type {{ page: string, text: string }[]} */
  const writes = [];
  for (const page of pages) {
    const text = readFileSync(page, 'utf8');
    if (!/<!--\s*table:/.test(text)) continue;
    const rel = path.relative(root, page);
    const result = updatePage(text, page, root);
    for (const b of result.blocks) {
      count++;
      if (!b.stale) continue;
      stale++;
      console.log(
        `${rel}:${b.line}: the table ${values.check ? 'differs from' : 'rewritten from'} ${b.source}`,
      );
    }
    if (result.text !== text) writes.push({ page, text: result.text });
  }
  // Written only once every page has been read without an error, each by a rename.
  if (!values.check) {
    for (const w of writes) {
      const tmp = `${w.page}.tables-tmp`;
      writeFileSync(tmp, w.text);
      renameSync(tmp, w.page);
    }
  }
  if (values.check && stale > 0) {
    console.log(
      `${stale} of ${count} quoted tables are out of date: run node scripts/results-tables.mjs`,
    );
    process.exit(1);
  }
  console.log(
    values.check
      ? `${count} quoted tables match their sources`
      : `${count} quoted tables, ${stale} rewritten`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    main();
  } catch (e) {
    // the messages name the page, its line and the source: no stack needed
    console.error(`results-tables: ${e instanceof Error ? e.message : e}`);
    process.exit(2);
  }
}
