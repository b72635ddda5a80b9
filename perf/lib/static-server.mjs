/**
 * A static file server on 127.0.0.1 (a free port) for driving the runtime in
 * headless Chromium: the runtime's dist, exported models, tfjs bundles.
 * Pages are cross-origin isolated (COOP/COEP headers), so they may use
 * SharedArrayBuffer: the runtime's and tfjs-backend-wasm's worker threads.
 *
 *   const server = await serveStatic({ '/runtime/': distDir, '/model/': dir }, { '/': html });
 *   ... page.goto(`${server.url}/`) ...; await server.close();
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, resolve, sep } from 'node:path';

/** @type {Readonly<Record<string, string>>} */
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.map': 'application/json',
};

/**
 * `mounts`: URL prefix (ending in '/') -> directory; `pages`: exact path ->
 * HTML text. Anything else, or a path escaping its directory, is a 404.
 * @param {Readonly<Record<string, string>>} mounts
 * @param {Readonly<Record<string, string>>} [pages]
 * @param {{ port?: number }} [options] port to listen on (default: a free one)
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function serveStatic(mounts, pages = {}, { port = 0 } = {}) {
  const server = createServer(async (req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cache-Control': 'no-store',
    };
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      // A malformed %-escape: answer it instead of rejecting inside the handler.
      res.writeHead(400, headers);
      res.end('bad request');
      return;
    }
    const page = Object.hasOwn(pages, path) ? pages[path] : undefined;
    if (page !== undefined) {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
      res.end(page);
      return;
    }
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (!path.startsWith(prefix)) continue;
      const root = resolve(dir);
      const file = resolve(root, path.slice(prefix.length));
      if (file !== root && !file.startsWith(root + sep)) break;
      try {
        const body = await readFile(file);
        res.writeHead(200, {
          ...headers,
          'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        });
        res.end(body);
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404, headers);
    res.end('not found');
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', () => ok(undefined)));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  return {
    url: `http://127.0.0.1:${address.port}`,
    /** @type {() => Promise<void>} */
    close: () =>
      new Promise((ok, fail) => server.close((err) => (err ? fail(err) : ok(undefined)))),
  };
}
