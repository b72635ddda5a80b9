/**
 * Loading a model over HTTP with `fetch` (browsers, Deno, Node >= 18).
 * No Node-only API: this module is part of the main entry point.
 */
import { type DecodeOptions, decodeModel } from './decode.js';
import { TritFormatError } from './errors.js';
import { parseManifest } from './manifest.js';
import type { TritModel } from './model.js';
import { initWasm } from './wasm/module.js';

/** Options of {@link loadModel}; `backend` and `threads` are {@link decodeModel}'s. */
export interface LoadModelOptions extends DecodeOptions {
  /** The `fetch` to use (default: the global one); e.g. one that adds headers. */
  readonly fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  /** Passed to every request (credentials, headers, an `AbortSignal`). */
  readonly requestInit?: RequestInit;
}

async function get(
  f: NonNullable<LoadModelOptions['fetch']>,
  url: string,
  init: RequestInit | undefined,
  what: string,
) {
  let res: Response;
  try {
    res = await f(url, init);
  } catch (e) {
    throw new TritFormatError(
      'fetch-failed',
      `could not fetch the ${what} at ${url}: ${(e as Error).message}`,
    );
  }
  if (!res.ok)
    throw new TritFormatError(
      'fetch-failed',
      `fetching the ${what} at ${url} failed: HTTP ${res.status} ${res.statusText}`,
    );
  return res;
}

/**
 * Fetches a model: the manifest at `url`, then the binary it names
 * (resolved relative to `url`), and decodes both with every check of
 * {@link decodeModel}. Relative URLs resolve against the page's location.
 */
export async function loadModel(
  url: string | URL,
  options: LoadModelOptions = {},
): Promise<TritModel> {
  const f = options.fetch ?? globalThis.fetch?.bind(globalThis);
  if (!f) throw new TritFormatError('fetch-failed', 'no fetch available: pass options.fetch');
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  const manifestUrl = new URL(url, base).href;
  const res = await get(f, manifestUrl, options.requestInit, 'manifest');
  const text = await res.text();
  const manifest = parseManifest(text);
  const binaryUrl = new URL(manifest.binary.file, manifestUrl).href;
  const bin = await get(f, binaryUrl, options.requestInit, 'binary');
  // Compile the WebAssembly kernels asynchronously (a browser's main thread allows no other way).
  if (options.backend !== 'js') await initWasm();
  return decodeModel(manifest, new Uint8Array(await bin.arrayBuffer()), options);
}
