/**
 * Loading a model over HTTP with `fetch` (browsers, Deno, Node >= 18).
 * No Node-only API: this module is part of the main entry point.
 */
import { type DecodeOptions, decodeModel } from './decode.js';
import { TritFormatError } from './errors.js';
import { manifestLimit, manifestTooLarge, parseManifest } from './manifest.js';
import type { TritModel } from './model.js';
import { initWasm } from './wasm/module.js';

/** Options of {@link loadModel}; `backend` and `threads` are {@link decodeModel}'s. */
export interface LoadModelOptions extends DecodeOptions {
  /** The `fetch` to use (default: the global one); e.g. one that adds headers. */
  readonly fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  /**
   * Passed to both requests (credentials, headers, an `AbortSignal`). Both go
   * to the manifest's origin only: the binary is always the file next to the
   * manifest.
   */
  readonly requestInit?: RequestInit;
  /** Size limit of the manifest in bytes (default `MAX_MANIFEST_BYTES`, 4 MiB). */
  readonly maxManifestBytes?: number;
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
 * The body of `res`, read chunk by chunk and abandoned as soon as it passes
 * `limit` bytes (`tooLarge(size)` is thrown: `size` describes what was seen),
 * so a huge or endless body costs at most `limit` bytes of memory.
 */
async function readCapped(
  res: Response,
  limit: number,
  tooLarge: (size: string) => TritFormatError,
  what: string,
  url: string,
): Promise<Uint8Array> {
  const body = res.body;
  if (!body || typeof body.getReader !== 'function') {
    // A fetch without body streams: the whole body is read before the check.
    const all = new Uint8Array(await res.arrayBuffer());
    if (all.length > limit) throw tooLarge(`${all.length} bytes`);
    return all;
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge(`more than ${limit} bytes (${total} received so far)`);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof TritFormatError) throw e;
    throw new TritFormatError(
      'fetch-failed',
      `reading the ${what} at ${url} failed: ${(e as Error).message}`,
    );
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** `Content-Length` when it gives the body's size (absent, or compressed in transit: null). */
function declaredLength(res: Response): number | null {
  const length = res.headers?.get('content-length');
  const encoding = res.headers?.get('content-encoding');
  if (length == null || !/^\d+$/.test(length.trim())) return null;
  if (encoding != null && encoding.trim() !== '' && encoding.trim() !== 'identity') return null;
  return Number(length);
}

/**
 * Fetches a model: the manifest at `url`, then the binary it names, and
 * decodes both with every check of {@link decodeModel}. Relative URLs
 * resolve against the page's location.
 *
 * What is fetched is bounded: the manifest must be at most
 * `maxManifestBytes` (refused from its `Content-Length`, else while it
 * streams in; `too-large`), and its `binary.file` must be a plain file name
 * (`bad-manifest`, before any request for it), which resolves next to the
 * manifest, on the same origin: a manifest cannot send the request, or the
 * caller's `requestInit` headers, anywhere else. The binary is read up to the
 * manifest's `binary.byteLength` and abandoned beyond it (`size-mismatch`).
 */
export async function loadModel(
  url: string | URL,
  options: LoadModelOptions = {},
): Promise<TritModel> {
  const f = options.fetch ?? globalThis.fetch?.bind(globalThis);
  if (!f) throw new TritFormatError('fetch-failed', 'no fetch available: pass options.fetch');
  const limit = manifestLimit(options.maxManifestBytes);
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  const manifestUrl = new URL(url, base);
  const at = `at ${manifestUrl.href}`;
  const res = await get(f, manifestUrl.href, options.requestInit, 'manifest');
  const declared = declaredLength(res);
  if (declared !== null && declared > limit) {
    await res.body?.cancel().catch(() => {});
    throw manifestTooLarge(at, `${declared} bytes (Content-Length)`, limit);
  }
  const bytes = await readCapped(
    res,
    limit,
    (size) => manifestTooLarge(at, size, limit),
    'manifest',
    manifestUrl.href,
  );
  const manifest = parseManifest(new TextDecoder().decode(bytes), { maxManifestBytes: limit });
  // parseManifest accepts only a plain file name; the origin check is a second line of defence.
  const binaryUrl = new URL(manifest.binary.file, manifestUrl);
  if (binaryUrl.origin !== manifestUrl.origin) {
    throw new TritFormatError(
      'bad-manifest',
      `manifest.binary.file ${JSON.stringify(manifest.binary.file)} resolves to ${binaryUrl.href}, ` +
        `outside the manifest's origin ${manifestUrl.origin}`,
    );
  }
  const expected = manifest.binary.byteLength;
  const bin = await get(f, binaryUrl.href, options.requestInit, 'binary');
  const binary = await readCapped(
    bin,
    expected,
    (size) =>
      new TritFormatError(
        'size-mismatch',
        `the binary at ${binaryUrl.href} has ${size}, the manifest expects ${expected} ` +
          '(is it the binary of another model?)',
      ),
    'binary',
    binaryUrl.href,
  );
  // Compile the WebAssembly kernels asynchronously (a browser's main thread allows no other way).
  if (options.backend !== 'js') await initWasm();
  return decodeModel(manifest, binary, options);
}
