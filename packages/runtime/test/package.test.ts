/** Packaging properties: browser-safe main entry, no float kernels kept, version in step. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, RUNTIME_VERSION } from '../src/index.js';
import { quantKernel, rng } from './helpers.js';

const src = join(import.meta.dirname, '..', 'src');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await sources(join(dir, e.name))));
    else if (e.name.endsWith('.ts')) out.push(join(dir, e.name));
  }
  return out;
}

describe('package', () => {
  it('the main entry uses no Node-only API (only src/node.ts may)', async () => {
    // worker-source.ts is the worker threads' program as a string, evaluated only inside a worker
    // (Node or web), never imported as code: its `require` is checked below to stay in the string.
    const workerSource = join('src', 'wasm', 'worker-source.ts');
    const files = (await sources(src)).filter(
      (f) => !f.endsWith(`${join('src', 'node.ts')}`) && !f.endsWith(workerSource),
    );
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = (await readFile(f, 'utf8')).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      expect(text, f).not.toMatch(
        /from ['"]node:|require\(|\bprocess\.|\bBuffer\b|from ['"](fs|path|os)['"]/,
      );
    }
    const index = await readFile(join(src, 'index.ts'), 'utf8');
    expect(index).not.toMatch(/node\.js/);
    const worker = (await readFile(join(src, '..', workerSource), 'utf8'))
      .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
      .replace(/`[\s\S]*?`/g, '``');
    expect(worker).not.toMatch(/from ['"]node:|require\(|\bprocess\.|\bimport\b/);
  });

  it('has no dependencies, and RUNTIME_VERSION matches package.json', async () => {
    const pkg = JSON.parse(await readFile(join(src, '..', 'package.json'), 'utf8'));
    expect(pkg.version).toBe(RUNTIME_VERSION);
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.peerDependencies).toBeUndefined();
    expect(Object.keys(pkg.exports)).toEqual(['.', './node', './package.json']);
  });

  it('a decoded model holds packed codes, never a float32 copy of a quantized kernel', () => {
    const n = 512;
    const { manifest, binary } = encodeModel({
      ops: [
        { op: 'input', name: 'x', shape: [n] },
        {
          op: 'dense',
          name: 'fc',
          inputs: ['x'],
          kernel: quantKernel(rng(1), [n, n], { asymmetric: true }),
        },
      ],
    });
    const model = decodeModel(manifest, binary);
    model.predict(new Float32Array(n).fill(0.5));
    // Every typed array reachable from the model, private fields included.
    let bytes = 0;
    const seen = new Set<unknown>();
    const visit = (v: unknown) => {
      if (typeof v !== 'object' || v === null || seen.has(v)) return;
      seen.add(v);
      if (ArrayBuffer.isView(v)) {
        bytes += v.byteLength;
        return;
      }
      const children = v instanceof Map ? [...v.keys(), ...v.values()] : Object.values(v);
      for (const c of children) visit(c);
    };
    visit(model);
    const packed = (n * n) / 4;
    expect(bytes).toBeGreaterThanOrEqual(packed);
    expect(bytes).toBeLessThan(packed * 1.1); // float32 would be 16x `packed`
    expect(model.weightBytes()).toBeGreaterThanOrEqual(packed);
    expect(model.weightBytes()).toBeLessThanOrEqual(bytes);
  });
});
