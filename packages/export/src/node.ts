/**
 * Node.js file helper (`@trit/export/node`): {@link saveExport} writes an
 * exported model to `<name>.json` + `<name>.bin`, atomically. Kept out of the
 * main entry so that `exportModel` also works in a browser bundle.
 * @packageDocumentation
 */
import { basename, dirname } from 'node:path';
import type { EncodedModel } from '@trit/runtime';
import { type SavedModel, saveModel } from '@trit/runtime/node';

/** Options of {@link saveExport}. */
export interface SaveExportOptions {
  /** Indent the manifest JSON (2 spaces). Default false (one compact line). */
  readonly pretty?: boolean;
  /** Size limit of the manifest in bytes (default the runtime's, 4 MiB). */
  readonly maxManifestBytes?: number;
}

/**
 * Writes an exported model (the `{ manifest, binary }` of `exportModel`).
 * `target` is either a folder, which gets `model.json` + `model.bin`
 * (created if missing), or a manifest path ending in `.json`
 * (`out/net.json` writes `out/net.json` + `out/net.bin`).
 *
 * Nothing is half-written: the model is checked to load back (every check
 * of `decodeModel`) before anything is written, then the binary and the
 * manifest are written under temporary names and renamed into place, the
 * binary first (`saveModel` of `@trit/runtime/node`). A failure leaves any
 * previous files as they were. Returns the two paths and the binary's size.
 */
export async function saveExport(
  target: string,
  model: EncodedModel,
  options: SaveExportOptions = {},
): Promise<SavedModel> {
  if (typeof target !== 'string' || target.length === 0) {
    throw new Error(`saveExport: target must be a folder or a .json path, got ${String(target)}`);
  }
  const file = target.endsWith('.json');
  const dir = file ? dirname(target) : target;
  const name = file ? basename(target).slice(0, -'.json'.length) : 'model';
  return saveModel(dir, model, {
    name,
    ...(options.pretty !== undefined ? { pretty: options.pretty } : {}),
    ...(options.maxManifestBytes !== undefined
      ? { maxManifestBytes: options.maxManifestBytes }
      : {}),
  });
}
