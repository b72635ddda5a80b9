#!/usr/bin/env node
/**
 * Builds the demo page into demo/dist: the script bundled with esbuild (the
 * runtime and the tfjs graph builder inside), index.html, and tfjs with its
 * WebAssembly backend next to it. `node demo/build.mjs`, then
 * `node demo/serve.mjs <exported-model-dir>`.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const DEMO_DIST = join(here, 'dist');

export async function buildDemo() {
  mkdirSync(join(DEMO_DIST, 'tfjs'), { recursive: true });
  await build({
    entryPoints: [join(here, 'main.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: join(DEMO_DIST, 'app.js'),
    logLevel: 'warning',
  });
  copyFileSync(join(here, 'index.html'), join(DEMO_DIST, 'index.html'));
  const require = createRequire(import.meta.url);
  const tfjs = dirname(require.resolve('@tensorflow/tfjs/package.json'));
  const wasm = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  copyFileSync(join(tfjs, 'dist', 'tf.min.js'), join(DEMO_DIST, 'tfjs', 'tf.min.js'));
  for (const f of [
    'tf-backend-wasm.min.js',
    'tfjs-backend-wasm.wasm',
    'tfjs-backend-wasm-simd.wasm',
    'tfjs-backend-wasm-threaded-simd.wasm',
  ])
    copyFileSync(join(wasm, 'dist', f), join(DEMO_DIST, 'tfjs', f));
  return DEMO_DIST;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDemo();
  console.log(`demo built in ${DEMO_DIST}`);
}
