/**
 * Parsers and checks of `trit bench`'s options. Each error names the option
 * and the value, and comes before anything is loaded or written.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { MAX_SEED } from '../training/train.js';

/** The entries of a comma-separated list: none empty, none twice. */
function entries(value: string, what: string): string[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.every((p) => p === '')) throw new InvalidArgumentError(`the list names no ${what}`);
  const empty = parts.indexOf('');
  if (empty >= 0) {
    throw new InvalidArgumentError(
      `${what} ${empty + 1} of ${parts.length} is empty (two commas in a row, or one at an end)`,
    );
  }
  return parts;
}

function noRepeats<T>(values: readonly T[], what: string): T[] {
  const seen = new Set<T>();
  for (const v of values) {
    if (seen.has(v)) throw new InvalidArgumentError(`${what} ${v} is listed twice`);
    seen.add(v);
  }
  return [...values];
}

/** `--methods`: quantizer names (with options), e.g. `fp32,ttq,ttq:init=mean`. */
export function methodList(value: string): string[] {
  return noRepeats(entries(value, 'method'), 'method');
}

/** `--seeds`: integers from 0 to {@link MAX_SEED}, each once. */
export function seedList(value: string): number[] {
  const seeds = entries(value, 'seed').map((s) => {
    if (!/^\d+$/.test(s)) throw new InvalidArgumentError(`"${s}" is not a non-negative integer`);
    const n = Number(s);
    if (n > MAX_SEED) {
      throw new InvalidArgumentError(
        `seed ${s} is out of range: seeds are integers from 0 to ${MAX_SEED} (32 bits)`,
      );
    }
    return n;
  });
  return noRepeats(seeds, 'seed');
}

/**
 * Throws unless `dir` is a folder this process can write in, or can be
 * created: the nearest existing folder on its path must take a new entry
 * (tried with a temporary folder, removed at once, so read-only file systems
 * and permissions count whoever runs it).
 */
export function assertWritableFolder(option: string, dir: string): void {
  const target = path.resolve(dir);
  let existing = target;
  while (!existsSync(existing) && path.dirname(existing) !== existing)
    existing = path.dirname(existing);
  if (!statSync(existing).isDirectory()) {
    throw new Error(`${option} ${dir}: ${existing} is a file, not a folder`);
  }
  try {
    rmSync(mkdtempSync(path.join(existing, '.trit-write-test-')), { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(
      existing === target
        ? `${option} ${dir}: the folder is not writable (${code})`
        : `${option} ${dir}: cannot create it, ${existing} is not writable (${code})`,
    );
  }
}
