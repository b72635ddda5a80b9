/**
 * The two kernel sets (WebAssembly SIMD and the TypeScript fallback) on
 * whole models: same outputs, same errors for bad input, worker threads,
 * the choice of backend, and the fallback where WebAssembly is missing.
 * (test/ops.test.ts checks every op on both against tfjs.)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, TritFormatError, type TritModel } from '../src/index.js';
import { resnetish, smallGraph } from './fixtures.js';
import { BACKENDS, maxAbsDiff, rng, uniform } from './helpers.js';

/** Test-only view of a model's WebAssembly engine and its worker pool. */
function poolOf(model: TritModel): { workerChunks: number; size: number } | null {
  return (model as unknown as { engine: { pool: { workerChunks: number; size: number } | null } })
    .engine.pool;
}

/** Runs `model` on `x` until its workers have computed some chunks (they boot in the background). */
/**
 * Runs `x` until the worker threads have computed more chunks than `before`
 * (the calling thread takes chunks too, and on a loaded machine it may take
 * them all in one run), checking every run against `check`.
 */
async function untilWorkersHelp(
  model: TritModel,
  x: Float32Array,
  before = 0,
  check: (out: Float32Array) => void = () => {},
): Promise<void> {
  for (let i = 0; i < 200 && (poolOf(model)?.workerChunks ?? 0) <= before; i++) {
    check(model.predict(x).data);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('the WebAssembly and TypeScript kernels on whole models', () => {
  const { manifest, binary } = encodeModel(resnetish(3));
  const js = decodeModel(manifest, binary, { backend: 'js' });

  it('agree to 1e-4 (float32 rounding: sums in another order) on a small ResNet, batch 1 and 5, on one thread', () => {
    const wasm = decodeModel(manifest, binary, { backend: 'wasm', threads: 1 });
    expect(wasm.backend).toBe('wasm');
    expect(js.backend).toBe('js');
    for (const batch of [1, 5]) {
      const x = uniform(rng(batch), batch * 16 * 16 * 3);
      const a = js.predict(x).data;
      const b = wasm.predict(x).data;
      expect(b.length).toBe(batch * 10);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
      expect(maxAbsDiff(a, new Float32Array(a.length))).toBeGreaterThan(0.1);
      // Intermediate outputs by name too (they live in the module's memory).
      for (const name of ['r1', 'add1', 'pad', 'gap']) {
        expect(
          maxAbsDiff(js.run(x, [name])[name]!.data, wasm.run(x, [name])[name]!.data),
        ).toBeLessThan(1e-4);
      }
    }
  });

  it('agree with worker threads, which really take work (batch 1: by rows, batch 3: by images)', async () => {
    const wasm = decodeModel(manifest, binary, { backend: 'wasm', threads: 2 });
    const x1 = uniform(rng(11), 16 * 16 * 3);
    wasm.predict(x1); // starts the workers (the stem and c1 are over the threshold)
    await untilWorkersHelp(wasm, x1);
    expect(poolOf(wasm)!.workerChunks).toBeGreaterThan(0);
    // Each split (batch 1: by rows, batch 3: by images) until the workers took some of it.
    for (const batch of [1, 3]) {
      const x = uniform(rng(20 + batch), batch * 16 * 16 * 3);
      const want = js.predict(x).data;
      const before = poolOf(wasm)!.workerChunks;
      await untilWorkersHelp(wasm, x, before, (got) =>
        expect(maxAbsDiff(want, got)).toBeLessThan(1e-4),
      );
      expect(poolOf(wasm)!.workerChunks).toBeGreaterThan(before);
    }
    wasm.dispose();
    // A disposed model still runs, on the calling thread.
    expect(maxAbsDiff(js.predict(x1).data, wasm.predict(x1).data)).toBeLessThan(1e-4);
  });

  it('small models start no worker threads', () => {
    const m = encodeModel(smallGraph());
    const small = decodeModel(m.manifest, m.binary, { backend: 'wasm', threads: 4 });
    small.predict(uniform(rng(1), 2 * 6 * 6 * 3));
    expect(poolOf(small)).toBeNull();
  });

  it('outputs are copies: a later run, of another batch size, changes no earlier result', () => {
    const wasm = decodeModel(manifest, binary, { backend: 'wasm', threads: 1 });
    const x2 = uniform(rng(5), 2 * 16 * 16 * 3);
    const first = wasm.predict(x2).data;
    const kept = first.slice();
    wasm.predict(uniform(rng(6), 7 * 16 * 16 * 3));
    expect([...first]).toEqual([...kept]);
    expect([...wasm.predict(x2).data]).toEqual([...kept]);
  });
});

describe.each(BACKENDS)('bad feeds are clear errors (%s kernels)', (backend) => {
  const { manifest, binary } = encodeModel(smallGraph());
  const model = decodeModel(manifest, binary, { backend });
  const bad = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(TritFormatError);
      return e as TritFormatError;
    }
    throw new Error('no error');
  };
  it('wrong size, wrong shape, unknown input or output, fused-away name', () => {
    expect(bad(() => model.predict(new Float32Array(7))).message).toMatch(
      /7 values is not a whole number of \[6, 6, 3\] samples/,
    );
    expect(
      bad(() => model.predict({ shape: [1, 6, 3, 6], data: new Float32Array(108) })).message,
    ).toMatch(/shape \[1, 6, 3, 6\] does not match \[batch, 6, 6, 3\]/);
    expect(bad(() => model.run({ img: new Float32Array(108) })).message).toMatch(
      /feed "img" is not an input/,
    );
    expect(bad(() => model.run(new Float32Array(108), ['nope'])).code).toBe('bad-input');
    expect(bad(() => model.run(new Float32Array(108), ['bn2'])).message).toMatch(/fused into/);
    // Still fine afterwards.
    expect(model.predict(new Float32Array(108)).data.length).toBe(5);
  });
});

describe('choosing the kernels', () => {
  const { manifest, binary } = encodeModel(smallGraph());

  it("'auto' (the default) picks WebAssembly where it runs", () => {
    expect(decodeModel(manifest, binary).backend).toBe('wasm');
    expect(decodeModel(manifest, binary, { backend: 'auto' }).backend).toBe('wasm');
  });

  it('rejects an unknown backend or thread count, naming the value', () => {
    expect(() => decodeModel(manifest, binary, { backend: 'gpu' as 'js' })).toThrow(
      /backend "gpu" is not one of 'auto', 'wasm', 'js'/,
    );
    for (const threads of [0, 1.5, -1]) {
      expect(() => decodeModel(manifest, binary, { threads })).toThrow(
        new RegExp(`threads ${threads} is not 'auto' or a whole number >= 1`),
      );
    }
  });

  it('without WebAssembly (node --jitless), auto falls back to TypeScript and wasm is a clear error', () => {
    const dist = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href;
    const x = Array.from(uniform(rng(2), 108));
    const script = `
      const { decodeModel } = await import(${JSON.stringify(dist)});
      const { manifest, binary } = JSON.parse(process.argv[1]);
      const m = decodeModel(manifest, Uint8Array.from(binary));
      let err = '';
      try { decodeModel(manifest, Uint8Array.from(binary), { backend: 'wasm' }); } catch (e) { err = e.message; }
      console.log(JSON.stringify({ wasm: typeof WebAssembly, backend: m.backend, y: [...m.predict(Float32Array.from(${JSON.stringify(x)})).data], err }));
    `;
    const r = spawnSync(
      process.execPath,
      [
        '--jitless',
        '--input-type=module',
        '-e',
        script,
        JSON.stringify({ manifest, binary: [...binary] }),
      ],
      { encoding: 'utf8' },
    );
    // (--jitless prints a warning that it disables WebAssembly.)
    expect(r.stderr).not.toMatch(/Error/);
    const out = JSON.parse(r.stdout);
    expect(out.wasm).toBe('undefined');
    expect(out.backend).toBe('js');
    expect(out.err).toMatch(/backend 'wasm' is not available: WebAssembly is not available/);
    const here = decodeModel(manifest, binary, { backend: 'wasm' }).predict(Float32Array.from(x));
    expect(maxAbsDiff(Float32Array.from(out.y), here.data)).toBeLessThan(1e-6);
  });
});
