import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BACKENDS, initBackend } from '../src/index.js';
import { maxAbsDiff, withBackend } from '../src/testing.js';

/** Whether the tfjs-node binding loads at all on this machine (checked in a child process). */
function nativeBindingLoads(): boolean {
  const dir = createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(dir)})`], {
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  return r.status === 0;
}

/** Runs initBackend in a fresh Node process (backend state is per process); a null value unsets that variable. */
function initBackendInChild(
  env: Record<string, string | null>,
  options = '{}',
): Record<string, unknown> {
  const entry = new URL('../dist/index.js', import.meta.url).pathname;
  const code = `import(${JSON.stringify(entry)}).then(async (m) => {
    const info = await m.initBackend(${options});
    process.stdout.write(JSON.stringify(info));
  });`;
  const childEnv: Record<string, string | undefined> = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === null) delete childEnv[k];
    else childEnv[k] = v;
  }
  const r = spawnSync(process.execPath, ['-e', code], { env: childEnv, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return { ...JSON.parse(r.stdout), stderr: r.stderr };
}

const native = nativeBindingLoads();

describe('initBackend', () => {
  it('rejects an unknown backend name and lists the valid ones', async () => {
    await expect(initBackend({ prefer: 'gpu' as never })).rejects.toThrow(
      'unknown backend "gpu"; valid backends: tensorflow, cpu, wasm',
    );
    expect(BACKENDS).toEqual(['tensorflow', 'cpu', 'wasm']);
  });

  it('chooses the native TensorFlow backend by default when its binding loads', () => {
    // CI's .ci/run separately fails when the binding does not load, so this
    // branch is the one CI exercises.
    const info = initBackendInChild({ TRIT_BACKEND: '' });
    if (native) {
      expect(info.name).toBe('tensorflow');
      expect(info.tensorflowVersion).toMatch(/^2\.\d+\.\d+/);
      expect(info.fallbackReason).toBeUndefined();
      expect(info.threads).toBeGreaterThanOrEqual(1);
    } else {
      expect(info.name).toBe('cpu');
      expect(info.fallbackReason).toContain('npx @trit/quant-core setup-native');
    }
  });

  it.runIf(native)(
    "turns TensorFlow's oneDNN kernels on unless the environment says otherwise",
    () => {
      // TensorFlow says so at load time when its log level lets it.
      const ON = 'oneDNN custom operations are on';
      const env = { TRIT_BACKEND: '', TF_CPP_MIN_LOG_LEVEL: '0' };
      const byDefault = initBackendInChild({ ...env, TF_ENABLE_ONEDNN_OPTS: null });
      expect(byDefault.oneDNN).toBe(true);
      expect(String(byDefault.stderr)).toContain(ON);
      const off = initBackendInChild({ ...env, TF_ENABLE_ONEDNN_OPTS: '0' });
      expect(off.oneDNN).toBe(false);
      expect(String(off.stderr)).not.toContain(ON);
    },
  );

  it('falls back to cpu with one warning and the reason when native is forced off', () => {
    const info = initBackendInChild({ TRIT_NO_NATIVE: '1' });
    expect(info.name).toBe('cpu');
    expect(info.fallbackReason).toBe(
      'native TensorFlow backend unavailable (disabled by TRIT_NO_NATIVE=1); to fix it, ' +
        'run `npx @trit/quant-core setup-native` in your project ' +
        '(after `npm install @tensorflow/tfjs-node --ignore-scripts` if it is not installed)',
    );
    const warnings = String(info.stderr)
      .split('\n')
      .filter((l) => l.startsWith('trit:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('Using the pure-JS cpu backend');
  });

  it('reports the load error of a broken native library', async () => {
    const info = await initBackend({
      quiet: true,
      loadNative: async () => {
        throw new Error(
          'libtensorflow_cc.so.2: cannot open shared object file: No such file or directory',
        );
      },
    });
    expect(info.name).toBe('cpu');
    expect(info.fallbackReason).toContain('libtensorflow_cc.so.2: cannot open shared object file');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('selects cpu without a fallback reason when asked for cpu', async () => {
    const info = await initBackend({ prefer: 'cpu' });
    expect(info).toEqual({ name: 'cpu', tfjsVersion: tf.version_core, threads: 1 });
  });

  it('selects the wasm backend when asked', async () => {
    const info = await initBackend({ prefer: 'wasm' });
    expect(info.name).toBe('wasm');
    expect(info.fallbackReason).toBeUndefined();
    expect(tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0]).toBe(5);
  });
});

describe.runIf(native)('native backend numerics', () => {
  it('computes the same conv2d gradients as the cpu backend', async () => {
    const info = await initBackend();
    expect(info.name).toBe('tensorflow');
    // Fixed pseudo-random data (no RNG state shared between backends).
    const vals = (n: number, seed: number) =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
    const xv = vals(2 * 9 * 9 * 3, 1);
    const wv = vals(3 * 3 * 3 * 8, 2);
    const gv = vals(2 * 5 * 5 * 8, 3);
    const grads = (backend: string) =>
      withBackend(backend, () =>
        tf.tidy(() => {
          const x = tf.tensor4d(xv, [2, 9, 9, 3]);
          const w = tf.tensor4d(wv, [3, 3, 3, 8]);
          const g = tf.tensor4d(gv, [2, 5, 5, 8]);
          const f = (a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), g));
          const [dx, dw] = tf.grads(f)([x, w]);
          return [dx!.dataSync().slice(), dw!.dataSync().slice()];
        }),
      );
    const [nx, nw] = await grads('tensorflow');
    const [cx, cw] = await grads('cpu');
    expect(tf.getBackend()).toBe('tensorflow');
    expect(maxAbsDiff(nx!, cx!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(nw!, cw!)).toBeLessThan(1e-5);
    // Not trivially zero.
    expect(Math.max(...Array.from(nw!, Math.abs))).toBeGreaterThan(0.1);
  });
});

describe.runIf(native)('native ReLU gradient (TensorFlow ReluGrad)', () => {
  const xs = [-2, -0, 0, 1e-30, -1e-30, 0.5, 3, -7.25];
  const dys = [1, 2, 3, 4, 5, -6, 0.25, 9];

  it('equals dy · 1[x > 0] exactly, runs as one fused kernel, and leaks nothing', async () => {
    expect((await initBackend()).name).toBe('tensorflow');
    const x = tf.tensor1d(xs);
    const dy = tf.tensor1d(dys);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), dy)));
    expect(Array.from(g(x).dataSync())).toEqual([0, 0, 0, 4, 0, -6, 0.25, 0]);
    const profile = await tf.profile(() => g(x));
    const kernels = profile.kernels.map((k) => k.name);
    expect(kernels).toContain('TritReluGrad');
    expect(kernels).not.toContain('Step');
    g(x).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) g(x).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, dy]);
  });

  it('a conv → relu → conv chain: native gradients equal the cpu backend (tfjs formula) to 1e-6', async () => {
    expect((await initBackend()).name).toBe('tensorflow');
    const vals = (n: number, seed: number) =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(i * 78.233 + seed) * 0.7);
    const grads = (backend: string) =>
      withBackend(backend, () =>
        tf.tidy(() => {
          const x = tf.tensor4d(vals(2 * 6 * 6 * 3, 1), [2, 6, 6, 3]);
          const w1 = tf.tensor4d(vals(3 * 3 * 3 * 4, 2), [3, 3, 3, 4]);
          const w2 = tf.tensor4d(vals(3 * 3 * 4 * 2, 3), [3, 3, 4, 2]);
          const f = (a: tf.Tensor, b: tf.Tensor) =>
            tf.sum(
              tf.square(
                tf.conv2d(
                  tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same')),
                  w2,
                  1,
                  'same',
                ),
              ),
            );
          const [dx, dw] = tf.grads(f)([x, w1]);
          return [dx!.dataSync().slice(), dw!.dataSync().slice()];
        }),
      );
    const [nx, nw] = await grads('tensorflow');
    const [cx, cw] = await grads('cpu');
    expect(maxAbsDiff(nx!, cx!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(nw!, cw!)).toBeLessThan(1e-5);
    expect(Math.max(...Array.from(nw!, Math.abs))).toBeGreaterThan(0.1);
  });

  it.each([
    ['the option nativeGradients: false', '{ nativeGradients: false }', {}],
    ['TRIT_NATIVE_GRADIENTS=0', '{}', { TRIT_NATIVE_GRADIENTS: '0' }],
  ])(
    '%s keeps tfjs own ReLU gradient (Step kernel, same values) and BatchNorm ops',
    (_, options, env) => {
      const entry = new URL('../dist/index.js', import.meta.url).pathname;
      const code = `import(${JSON.stringify(entry)}).then(async (m) => {
      const tf = await import('@tensorflow/tfjs');
      await m.initBackend(${options});
      const x = tf.tensor1d(${JSON.stringify(xs)});
      const dy = tf.tensor1d(${JSON.stringify(dys)});
      const g = tf.grad((a) => tf.sum(tf.mul(tf.relu(a), dy)));
      const reluKernels = (await tf.profile(() => g(x))).kernels.map((k) => k.name);
      const bn = m.batchNormalization({ name: 'bn' });
      const xb = tf.randomNormal([2, 3, 3, 4], 0, 1, 'float32', 1);
      bn.apply(xb);
      const pb = await tf.profile(() => tf.grad((a) => tf.sum(bn.apply(a, { training: true })))(xb));
      process.stdout.write(JSON.stringify({
        g: Array.from(g(x).dataSync()),
        kernels: [...reluKernels, ...pb.kernels.map((k) => k.name)],
      }));
    });`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
        encoding: 'utf8',
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3', ...env },
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { g: number[]; kernels: string[] };
      expect(out.g).toEqual([0, 0, 0, 4, 0, -6, 0.25, 0]);
      expect(out.kernels).toContain('Step');
      expect(out.kernels).not.toContain('TritReluGrad');
      // BatchNorm trains through tfjs's ops too.
      expect(out.kernels).toContain('FusedBatchNorm');
      expect(out.kernels).not.toContain('TritFusedBatchNorm');
      expect(out.kernels).not.toContain('TritFusedBatchNormGrad');
    },
  );
});
