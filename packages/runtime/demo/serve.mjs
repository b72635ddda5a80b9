#!/usr/bin/env node
/**
 * Serves the built demo (demo/dist) and an exported model on 127.0.0.1:
 * `node demo/serve.mjs <exported-model-dir> [--port N]`, then open the URL it
 * prints. Cross-origin isolated, so the runtime and tfjs may use threads.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { serveStatic } from '../../../perf/lib/static-server.mjs';
import { DEMO_DIST } from './build.mjs';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string', default: '0' } },
});
const dir = positionals[0];
// --port was documented but ignored (always a free port); 0 still means "a free one".
const port = Number(flags.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number (0-65535), got '${flags.port}'`);
  process.exit(1);
}
if (!dir || !existsSync(resolve(dir, 'model.json'))) {
  console.error(
    'usage: node demo/serve.mjs <exported-model-dir> (a folder with model.json + model.bin, from `trit export`)',
  );
  process.exit(1);
}
if (!existsSync(resolve(DEMO_DIST, 'app.js'))) {
  console.error('build the demo first: node demo/build.mjs');
  process.exit(1);
}
const server = await serveStatic({ '/model/': resolve(dir), '/': DEMO_DIST }, {}, { port });
console.log(`demo: ${server.url}/index.html (Ctrl-C to stop)`);
