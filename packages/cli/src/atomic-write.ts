import { renameSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Writes `file` so a reader (or a crash) sees either the old content or the
 * new, never half of it: the bytes go to a sibling temp file that is renamed
 * over `file`.
 */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, content);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** {@link writeFileAtomic} of a value as indented JSON with a final newline. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 1)}\n`);
}
