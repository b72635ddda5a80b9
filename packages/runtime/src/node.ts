/**
 * Node.js file helpers (`@trit/runtime/node`): save a model as
 * `<name>.json` + `<name>.bin` in a directory, and load it back.
 * @packageDocumentation
 */
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { binaryLengthError, type DecodeOptions, decodeModel } from './decode.js';
import { type EncodedModel, type EncodeOptions, encodeModel } from './encode.js';
import { TritFormatError } from './errors.js';
import { manifestLimit, manifestTooLarge, parseManifest } from './manifest.js';
import type { TritModel } from './model.js';
import type { GraphSpec } from './spec.js';

/** Options of {@link saveModel} and {@link loadModelFromDir}. */
export interface ModelFileOptions {
  /** Base name of the two files. Default `model` (`model.json`, `model.bin`). */
  readonly name?: string;
  /**
   * Size limit of the manifest in bytes (default `MAX_MANIFEST_BYTES`, 4 MiB):
   * `loadModelFromDir` refuses a larger file before reading it, `saveModel`
   * refuses to write one.
   */
  readonly maxManifestBytes?: number;
}

/** Options of {@link saveModel} only. */
export interface SaveModelOptions extends ModelFileOptions, EncodeOptions {
  /**
   * Indent the manifest JSON (2 spaces) for reading by eye. Default false:
   * compact JSON on one line, as tfjs writes its model.json (a ResNet-20
   * manifest takes 7.7 KB compact against 16.4 KB indented).
   */
  readonly pretty?: boolean;
}

/** Paths written by {@link saveModel}. */
export interface SavedModel {
  readonly manifestPath: string;
  readonly binaryPath: string;
  readonly bytes: number;
}

function baseName(options: ModelFileOptions): string {
  const name = options.name ?? 'model';
  if (typeof name !== 'string' || !/^[\w.-]+$/.test(name))
    throw new TritFormatError(
      'bad-input',
      `model file name ${JSON.stringify(name)} must be a plain file name`,
    );
  return name;
}

/**
 * Writes `model` (an encoded model, or a graph description to encode) to
 * `dir/<name>.json` and `dir/<name>.bin`, creating `dir`.
 *
 * Nothing is written unless the model would load back: the manifest must fit
 * the size limit and the model must pass every check of {@link decodeModel}
 * (an `EncodedModel` is taken as given, so a hand-edited manifest or a binary
 * that does not match it is refused here, not at load time). Both files are
 * then written under temporary names and renamed into place, the binary
 * first, so a failed write (disk full, no permission) leaves the previous
 * files in place and a reader never sees a manifest without its binary.
 */
export async function saveModel(
  dir: string,
  model: EncodedModel | GraphSpec,
  options: SaveModelOptions = {},
): Promise<SavedModel> {
  const name = baseName(options);
  const limit = manifestLimit(options.maxManifestBytes);
  const binaryFile = `${name}.bin`;
  let encoded: EncodedModel;
  if (typeof model === 'object' && model !== null && 'manifest' in model) {
    const m = model.manifest as EncodedModel['manifest'] | null;
    if (typeof m !== 'object' || m === null || typeof m.binary !== 'object' || m.binary === null) {
      throw new TritFormatError('bad-manifest', 'saveModel: model.manifest.binary is missing');
    }
    encoded = {
      manifest: { ...m, binary: { ...m.binary, file: binaryFile } },
      binary: model.binary,
    };
  } else {
    encoded = encodeModel(model as GraphSpec, { ...options, binaryFile });
  }
  const text = `${JSON.stringify(encoded.manifest, null, options.pretty ? 2 : undefined)}\n`;
  const textBytes = Buffer.byteLength(text);
  if (textBytes > limit) {
    const e = manifestTooLarge(
      `to write to ${join(dir, `${name}.json`)}`,
      `${textBytes} bytes`,
      limit,
    );
    throw new TritFormatError('too-large', `saveModel: ${e.message}`);
  }
  try {
    decodeModel(parseManifest(text, { maxManifestBytes: limit }), encoded.binary);
  } catch (e) {
    if (!(e instanceof TritFormatError)) throw e;
    throw new TritFormatError(
      e.code,
      `saveModel: not writing ${join(dir, `${name}.json`)}: the model would not load: ${e.message}`,
    );
  }
  await mkdir(dir, { recursive: true });
  const manifestPath = join(dir, `${name}.json`);
  const binaryPath = join(dir, binaryFile);
  const tmp = `.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(binaryPath + tmp, encoded.binary);
    await writeFile(manifestPath + tmp, text);
    await rename(binaryPath + tmp, binaryPath);
    await rename(manifestPath + tmp, manifestPath);
  } finally {
    await rm(binaryPath + tmp, { force: true });
    await rm(manifestPath + tmp, { force: true });
  }
  return { manifestPath, binaryPath, bytes: encoded.binary.length };
}

/**
 * The bytes of the regular file `path`: `check(size)` may refuse it from its
 * size before it is read, and again from the bytes actually read, which are
 * at most `limit + 1`, so a file growing meanwhile cannot pass either.
 */
async function readBounded(
  path: string,
  limit: number,
  check: (size: number) => TritFormatError | null,
): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new TritFormatError('bad-input', `${path} is not a regular file`);
    const before = check(stat.size);
    if (before) throw before;
    const buffer = Buffer.alloc(Math.min(stat.size, limit) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    const after = check(length);
    if (after) throw after;
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/**
 * Reads `dir/<name>.json` and the binary it names, and decodes them (every
 * check of `decodeModel`; `backend` and `threads` as there). A manifest over the size limit is refused before
 * it is read (`too-large`); the binary must be a plain file name next to the
 * manifest (`bad-manifest`), and a binary whose size differs from the
 * manifest's `byteLength` is refused before it is read (`truncated`,
 * `size-mismatch`).
 */
export async function loadModelFromDir(
  dir: string,
  options: ModelFileOptions & DecodeOptions = {},
): Promise<TritModel> {
  const limit = manifestLimit(options.maxManifestBytes);
  const manifestPath = join(dir, `${baseName(options)}.json`);
  const text = await readBounded(manifestPath, limit, (size) =>
    size > limit ? manifestTooLarge(manifestPath, `${size} bytes`, limit) : null,
  );
  const manifest = parseManifest(text.toString('utf8'), { maxManifestBytes: limit });
  // parseManifest only accepts a plain file name (no separator, no '..').
  const binaryPath = join(dir, manifest.binary.file);
  const expected = manifest.binary.byteLength;
  const binary = await readBounded(binaryPath, expected, (size) =>
    binaryLengthError(size, expected),
  );
  return decodeModel(manifest, binary, options);
}
