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
const $ = (id) => document.getElementById(id);
const status = (text) => {
  $('status').textContent = text;
};

function median(fn, runs = 5) {
  const t = [];
  let out;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    out = fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { ms: t[t.length >> 1], out };
}

function top(logits, names) {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  const max = logits[best];
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return `${names[best] ?? `class ${best}`} (${(100 / sum).toFixed(1)}%)`;
}

/** Pixels of `bitmap` scaled to h x w, RGB, preprocessed as the export's metadata says. */
function toInput(bitmap, [h, w, c], pre, canvas) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0, w, h);
  const px = ctx.getImageData(0, 0, w, h).data;
  const x = new Float32Array(h * w * c);
  const scale = pre?.pixelScale ?? 1 / 255;
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < c; k++) {
      const v = px[4 * i + k] * scale;
      x[i * c + k] = pre?.type === 'normalize' ? (v - pre.mean[k]) / pre.std[k] : v;
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
  const meta = manifest.metadata ?? {};
  const shape = model.inputs[0].shape;
  const classes = model.outputs[0].shape.at(-1);
  const names = classes === 10 ? CIFAR10 : [];
  const s = model.summary();
  $('model').textContent =
    `Model ${url}: ${meta.source?.method ?? 'unknown method'}, input ${shape.join('x')}, ${classes} classes; ` +
    `${(s.bytes / 1024).toFixed(1)} KiB of weights (${s.compression.toFixed(1)}x smaller than float32); ` +
    `runtime kernels: ${model.backend}, tfjs backend: ${tf.getBackend()}.`;
  $('files').disabled = false;
  status('Pick one or more images.');
  $('files').addEventListener('change', async (e) => {
    const body = $('results').querySelector('tbody');
    for (const file of e.target.files) {
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
      $('results').hidden = false;
    }
    status(`Classified ${body.rows.length} image(s).`);
  });
}

main().catch((e) => {
  status(`Error: ${e.message}`);
  throw e;
});
