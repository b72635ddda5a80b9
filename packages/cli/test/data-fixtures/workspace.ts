// Per-test temp workspace and the DatasetError assertion shared by the data tests.
import { join } from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { DatasetError } from '../../src/data/index.js';
import { removeDir, tempDir } from './fixtures.js';

/**
 * The current test's temp folder, set by {@link useTempWorkspace}. A live ES
 * module binding: read it inside tests and hooks, never at import time.
 */
export let work: string;
/** The dataset cache of the current test, `<work>/cache` (a live binding, like {@link work}). */
export let dataDir: string;

/** Gives every test of the calling file a fresh {@link work} folder (and {@link dataDir}), removed after the test. */
export function useTempWorkspace(): void {
  beforeEach(async () => {
    work = await tempDir();
    dataDir = join(work, 'cache');
  });
  afterEach(async () => removeDir(work));
}

/** Awaits `p`, expects it to reject with a DatasetError of `code` whose message matches every part; returns the error. */
export async function expectError(
  p: Promise<unknown>,
  code: string,
  ...parts: (string | RegExp)[]
): Promise<DatasetError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  const e = err as DatasetError;
  expect(e.code).toBe(code);
  for (const part of parts) expect(e.message).toMatch(part);
  return e;
}

/** Whether two byte arrays are equal. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.from(a).equals(Buffer.from(b));
