// The demo page's script (bundled by demo/build.mjs with esbuild). tfjs and its wasm backend
// come as the page's <script> globals; the runtime and the tfjs graph builder are bundled.
import { tfjsFromManifest } from '../../../perf/lib/tfjs-graph.mjs';
import * as rt from '../src/index.js';

const CIFAR10 = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];
/** The page's <script> globals (index.html): tfjs, with its wasm backend as `tf.wasm`. */
const { tf } =
  /** @type {{ tf: typeof import('@tensorflow/tfjs') & { wasm: typeof import('@tensorflow/tfjs-backend-wasm') } }} */ (
    /** @type {unknown} */ (globalThis)
  );
/**
 * How the export's metadata says raw pixels become inputs (what `trit export` writes).
 * @typedef {{ type: 'normalize', pixelScale?: number, mean: readonly number[], std: readonly number[] } | { type: 'none' }} Preprocessing
 */

/**
 * The element `#id` of index.html, checked to be a `type`.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T, readonly name: string }} type
 * @returns {T}
 */
const $ = (id, type) => {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`the page has no ${type.name} #${id}`);
  return el;
};
/** @param {string} text */
const status = (text) => {
  $('status', HTMLElement).textContent = text;
};

/**
 * The median time of `runs` calls of `fn` (runs >= 1), and its last result.
 * @template T
 * @param {() => T} fn
 * @returns {{ ms: number, out: T }}
 */
function median(fn, runs = 5) {
  /** @type {number[]} */
  const t = [];
  /** @type {T | undefined} */
  let out;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    out = fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { ms: Number(t[t.length >> 1]), out: /** @type {T} */ (out) };
}

/**
 * The top class and its softmax probability.
 * @param {Float32Array} logits
 * @param {readonly string[]} names
 */
function top(logits, names) {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (Number(logits[i]) > Number(logits[best])) best = i;
  const max = Number(logits[best]);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return `${names[best] ?? `class ${best}`} (${(100 / sum).toFixed(1)}%)`;
}

/**
 * Pixels of `bitmap` scaled to h x w, RGB, preprocessed as the export's metadata says.
 * @param {ImageBitmap} bitmap
 * @param {readonly [number, number, number]} hwc
 * @param {Preprocessing | null | undefined} pre
 * @param {HTMLCanvasElement} canvas
 */
function toInput(bitmap, [h, w, c], pre, canvas) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2d canvas context');
  ctx.drawImage(bitmap, 0, 0, w, h);
  const px = ctx.getImageData(0, 0, w, h).data;
  const x = new Float32Array(h * w * c);
  // Exports written before pixelScale was recorded scale 0..255 pixels to 0..1.
  const scale = (pre?.type === 'normalize' ? pre.pixelScale : undefined) ?? 1 / 255;
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < c; k++) {
      const v = Number(px[4 * i + k]) * scale;
      x[i * c + k] = pre?.type === 'normalize' ? (v - Number(pre.mean[k])) / Number(pre.std[k]) : v;
    }
  }
  return x;
}

async function main() {
  const url = new URLSearchParams(location.search).get('model') ?? './model/model.json';
  tf.wasm.setWasmPaths(new URL('./tfjs/', location.href).href);
  await tf.setBackend('wasm');
  const model = await rt.loadModel(url);
  const manifest = model.manifest;
  const binRes = await fetch(new URL(manifest.binary.file, new URL(url, location.href)));
  const net = tfjsFromManifest(tf, rt, manifest, new Uint8Array(await binRes.arrayBuffer()));
  const meta =
    /** @type {{ source?: { method?: string | null }, preprocessing?: Preprocessing | null }} */ (
      manifest.metadata ?? {}
    );
  const inShape = model.inputs[0]?.shape;
  if (inShape?.length !== 3)
    throw new Error(
      `the demo takes image models (input [h, w, c]), not ${JSON.stringify(inShape)}`,
    );
  const shape = /** @type {readonly [number, number, number]} */ (inShape);
  const classes = model.outputs[0]?.shape.at(-1);
  const names = classes === 10 ? CIFAR10 : [];
  const s = model.summary();
  $('model', HTMLElement).textContent =
    `Model ${url}: ${meta.source?.method ?? 'unknown method'}, input ${shape.join('x')}, ${classes} classes; ` +
    `${(s.bytes / 1024).toFixed(1)} KiB of weights (${s.compression.toFixed(1)}x smaller than float32); ` +
    `runtime kernels: ${model.backend}, tfjs backend: ${tf.getBackend()}.`;
  const picker = $('files', HTMLInputElement);
  const results = $('results', HTMLTableElement);
  const body = results.tBodies[0];
  if (!body) throw new Error('the page has no <tbody> in #results');
  picker.disabled = false;
  status('Pick one or more images.');
  picker.addEventListener('change', async () => {
    for (const file of picker.files ?? []) {
      const bitmap = await createImageBitmap(file);
      const canvas = document.createElement('canvas');
      const x = toInput(bitmap, shape, meta.preprocessing, canvas);
      const ours = median(() => model.predict(x).data);
      const theirs = median(() => net.run(x));
      const row = body.insertRow();
      row.insertCell().append(canvas);
      row.insertCell().textContent = top(ours.out, names);
      row.insertCell().textContent = top(theirs.out, names);
      for (const v of [ours.ms, theirs.ms]) {
        const cell = row.insertCell();
        cell.className = 'num';
        cell.textContent = v.toFixed(2);
      }
      const speed = row.insertCell();
      speed.className = `num${theirs.ms > ours.ms ? ' faster' : ''}`;
      speed.textContent = `${(theirs.ms / ours.ms).toFixed(1)}x`;
      results.hidden = false;
    }
    status(`Classified ${body.rows.length} image(s).`);
  });
}

main().catch((e) => {
  status(`Error: ${e instanceof Error ? e.message : e}`);
  throw e;
});
