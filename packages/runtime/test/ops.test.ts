/**
 * Numerical parity of every op with tfjs float32 (cpu backend) on random
 * inputs. The tfjs reference gets the dequantized kernel; the runtime gets
 * the packed codes and never sees a float kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Backend,
  decodeModel,
  encodeModel,
  type GraphSpec,
  type OpSpec,
  type QuantizedKernel,
} from '../src/index.js';
import {
  BACKENDS,
  dequantize,
  floatKernel,
  maxAbsDiff,
  type QuantOptions,
  quantKernel,
  rng,
  uniform,
} from './helpers.js';

const TOL = 1e-4;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Runs `ops` (after an input op of `inShape`) in the runtime on `x` (batch first). */
function runOn(backend: Backend, inShape: number[], ops: OpSpec[], x: Float32Array, options = {}) {
  const graph: GraphSpec = { ops: [{ op: 'input', name: 'x', shape: inShape }, ...ops] };
  const { manifest, binary } = encodeModel(graph, options);
  const model = decodeModel(manifest, binary, { backend });
  expect(model.backend).toBe(backend);
  return model.predict(x);
}

/** Asserts a runtime output matches the tfjs reference within TOL (and is not all zeros). Not quant-core's expectClose: it compares two outputs, not values with literals. */
function expectMatchesTfjs(
  actual: { shape: readonly number[]; data: Float32Array },
  ref: tf.Tensor,
) {
  expect(actual.shape).toEqual(ref.shape);
  const diff = maxAbsDiff(actual.data, ref.dataSync());
  expect(diff).toBeLessThan(TOL);
  // The check is not vacuous: outputs are not all (near) zero.
  expect(maxAbsDiff(actual.data, new Float32Array(actual.data.length))).toBeGreaterThan(1e-2);
  ref.dispose();
}

function kernelTensor(k: QuantizedKernel): tf.Tensor {
  return tf.tensor(dequantize(k), [...k.shape]);
}

// Every op on both kernel sets: the WebAssembly SIMD kernels and the TypeScript fallback.
describe.each(BACKENDS)('%s kernels', (backend) => {
  const runGraph = (inShape: number[], ops: OpSpec[], x: Float32Array, options = {}) =>
    runOn(backend, inShape, ops, x, options);

  describe('dense', () => {
    const cases: [string, QuantOptions][] = [
      ['ternary, per-layer symmetric scale (TWN)', {}],
      ['ternary, per-channel scales (TWN 2022)', { scales: 'channel' }],
      ['ternary, asymmetric per-layer Wp/Wn (TTQ)', { asymmetric: true }],
      ['ternary, asymmetric per-channel', { asymmetric: true, scales: 'channel' }],
      ['ternary, all codes zero but a few', { zeros: 0.95 }],
      ['binary, per-layer (BWN)', { bits: 1 }],
      ['binary, asymmetric per-channel', { bits: 1, asymmetric: true, scales: 'channel' }],
    ];
    for (const [label, opts] of cases) {
      for (const [cin, cout, batch] of [
        [64, 32, 1],
        [37, 5, 3],
        [3, 70, 2],
      ] as const) {
        it(`${label}: [${cin}, ${cout}], batch ${batch}, bias and relu`, () => {
          const rand = rng(cin * 1000 + cout + batch);
          const k = quantKernel(rand, [cin, cout], opts);
          const bias = uniform(rand, cout, -0.2, 0.2);
          const x = uniform(rand, batch * cin);
          const y = runGraph(
            [cin],
            [{ op: 'dense', name: 'fc', inputs: ['x'], kernel: k, bias }],
            x,
          );
          const ref = tf.tidy(() =>
            tf.add(tf.matMul(tf.tensor2d(x, [batch, cin]), kernelTensor(k)), bias),
          );
          expectMatchesTfjs(y, ref);
          const yr = runGraph(
            [cin],
            [{ op: 'dense', name: 'fc', inputs: ['x'], kernel: k, bias, activation: 'relu' }],
            x,
          );
          const refR = tf.tidy(() =>
            tf.relu(tf.add(tf.matMul(tf.tensor2d(x, [batch, cin]), kernelTensor(k)), bias)),
          );
          expectMatchesTfjs(yr, refR);
        });
      }
    }

    it('float32 kernel, with and without bias, softmax activation', () => {
      const rand = rng(7);
      const k = floatKernel(rand, [50, 12]);
      const bias = uniform(rand, 12);
      const x = uniform(rand, 4 * 50);
      const xt = () => tf.tensor2d(x, [4, 50]);
      const w = () => tf.tensor(k.values, [50, 12]);
      expectMatchesTfjs(
        runGraph([50], [{ op: 'dense', name: 'fc', inputs: ['x'], kernel: k }], x),
        tf.tidy(() => tf.matMul(xt(), w())),
      );
      const soft = runGraph(
        [50],
        [{ op: 'dense', name: 'fc', inputs: ['x'], kernel: k, bias, activation: 'softmax' }],
        x,
      );
      expectMatchesTfjs(
        soft,
        tf.tidy(() => tf.softmax(tf.add(tf.matMul(xt(), w()), bias))),
      );
    });

    it('applies to the last axis of a rank-3 input (as Keras Dense)', () => {
      const rand = rng(8);
      const k = quantKernel(rand, [6, 4], { scales: 'channel' });
      const x = uniform(rand, 2 * 5 * 6);
      const y = runGraph([5, 6], [{ op: 'dense', name: 'fc', inputs: ['x'], kernel: k }], x);
      const ref = tf.tidy(() =>
        tf.reshape(tf.matMul(tf.tensor2d(x, [10, 6]), kernelTensor(k)), [2, 5, 4]),
      );
      expectMatchesTfjs(y, ref);
    });
  });

  describe('conv2d', () => {
    const quant: [string, QuantOptions][] = [
      ['ternary per-layer', {}],
      ['ternary per-channel', { scales: 'channel' }],
      ['ternary asymmetric (TTQ)', { asymmetric: true }],
      ['ternary asymmetric per-channel', { asymmetric: true, scales: 'channel' }],
      ['binary', { bits: 1 }],
      ['binary asymmetric per-channel', { bits: 1, asymmetric: true, scales: 'channel' }],
    ];
    const geometries: [number, number, number, number, number, number, 1 | 2, 'same' | 'valid'][] =
      [
        // h, w, cin, kh, kw, cout, stride, padding
        [8, 8, 16, 3, 3, 16, 1, 'same'],
        [8, 8, 16, 3, 3, 32, 2, 'same'],
        [9, 7, 13, 3, 3, 8, 1, 'valid'],
        [9, 7, 13, 3, 3, 8, 2, 'valid'],
        [8, 8, 16, 1, 1, 32, 2, 'same'],
        [7, 10, 5, 5, 3, 6, 2, 'same'],
      ];
    for (const [label, opts] of quant) {
      for (const [h, w, cin, kh, kw, cout, s, padding] of geometries) {
        it(`${label}: ${h}x${w}x${cin} * ${kh}x${kw}x${cout}, stride ${s}, ${padding}`, () => {
          const rand = rng(
            h * 7 + cin * 13 + kh * 17 + cout + s * 5 + (padding === 'same' ? 1 : 0),
          );
          const k = quantKernel(rand, [kh, kw, cin, cout], opts);
          const bias = uniform(rand, cout, -0.2, 0.2);
          const batch = 2;
          const x = uniform(rand, batch * h * w * cin);
          // Some exact zeros, as after a ReLU, to exercise the all-zero group skip.
          for (let i = 0; i < x.length; i += 3) x[i] = 0;
          const spec: OpSpec = {
            op: 'conv2d',
            name: 'c',
            inputs: ['x'],
            kernel: k,
            bias,
            strides: s,
            padding,
            activation: 'relu',
          };
          const y = runGraph([h, w, cin], [spec], x);
          const ref = tf.tidy(() =>
            tf.relu(
              tf.add(
                tf.conv2d(
                  tf.tensor4d(x, [batch, h, w, cin]),
                  kernelTensor(k) as tf.Tensor4D,
                  s,
                  padding,
                ),
                bias,
              ),
            ),
          );
          expectMatchesTfjs(y, ref);
        });
      }
    }

    it('float32 kernel, strides [1, 2], no bias', () => {
      const rand = rng(11);
      const k = floatKernel(rand, [3, 3, 3, 16]);
      const x = uniform(rand, 9 * 11 * 3);
      const y = runGraph(
        [9, 11, 3],
        [{ op: 'conv2d', name: 'c', inputs: ['x'], kernel: k, strides: [1, 2], padding: 'same' }],
        x,
      );
      const ref = tf.tidy(() =>
        tf.conv2d(
          tf.tensor4d(x, [1, 9, 11, 3]),
          tf.tensor4d(k.values, [3, 3, 3, 16]),
          [1, 2],
          'same',
        ),
      );
      expectMatchesTfjs(y, ref);
    });

    it('float32 kernel, valid padding, stride 2, relu', () => {
      const rand = rng(12);
      const k = floatKernel(rand, [5, 5, 4, 7]);
      const bias = uniform(rand, 7);
      const x = uniform(rand, 2 * 12 * 12 * 4);
      const spec: OpSpec = {
        op: 'conv2d',
        name: 'c',
        inputs: ['x'],
        kernel: k,
        bias,
        strides: 2,
        activation: 'relu',
      };
      const y = runGraph([12, 12, 4], [spec], x);
      const ref = tf.tidy(() =>
        tf.relu(
          tf.add(
            tf.conv2d(
              tf.tensor4d(x, [2, 12, 12, 4]),
              tf.tensor4d(k.values, [5, 5, 4, 7]),
              2,
              'valid',
            ),
            bias,
          ),
        ),
      );
      expectMatchesTfjs(y, ref);
    });
  });

  describe('batchNorm and affine', () => {
    const rand = rng(21);
    const c = 12;
    const mean = uniform(rand, c);
    const variance = uniform(rand, c, 0.2, 2);
    const gamma = uniform(rand, c, 0.5, 1.5);
    gamma[3] = -0.7; // a negative gamma: folded scales turn negative
    const beta = uniform(rand, c);
    const x = uniform(rand, 2 * 5 * 5 * c, -2, 2);
    const bnRef = (t: tf.Tensor) => tf.batchNorm(t, mean, variance, beta, gamma, 1e-3);

    it('standalone batchNorm (stored as affine) matches tf.batchNorm', () => {
      const y = runGraph(
        [5, 5, c],
        [{ op: 'batchNorm', name: 'bn', inputs: ['x'], mean, variance, gamma, beta }],
        x,
      );
      expectMatchesTfjs(
        y,
        tf.tidy(() => bnRef(tf.tensor4d(x, [2, 5, 5, c]))),
      );
    });

    it('batchNorm without gamma/beta (Keras scale/center false), epsilon 1e-5', () => {
      const y = runGraph(
        [5, 5, c],
        [{ op: 'batchNorm', name: 'bn', inputs: ['x'], mean, variance, epsilon: 1e-5 }],
        x,
      );
      expectMatchesTfjs(
        y,
        tf.tidy(() =>
          tf.batchNorm(tf.tensor4d(x, [2, 5, 5, c]), mean, variance, undefined, undefined, 1e-5),
        ),
      );
    });

    it('explicit affine op', () => {
      const scale = uniform(rand, c);
      const shift = uniform(rand, c);
      const y = runGraph([5, 5, c], [{ op: 'affine', name: 'a', inputs: ['x'], scale, shift }], x);
      expectMatchesTfjs(
        y,
        tf.tidy(() => tf.add(tf.mul(tf.tensor4d(x, [2, 5, 5, c]), scale), shift)),
      );
    });

    for (const [label, kernel] of [
      ['ternary asymmetric conv', quantKernel(rng(22), [3, 3, 8, c], { asymmetric: true })],
      ['binary conv', quantKernel(rng(23), [3, 3, 8, c], { bits: 1 })],
      ['float conv', floatKernel(rng(24), [3, 3, 8, c])],
    ] as const) {
      it(`conv -> batchNorm -> relu folds into one op (${label}) and matches tfjs`, () => {
        const xin = uniform(rand, 2 * 6 * 6 * 8);
        const bias = uniform(rand, c);
        const ops: OpSpec[] = [
          { op: 'conv2d', name: 'conv', inputs: ['x'], kernel, bias, padding: 'same' },
          { op: 'batchNorm', name: 'bn', inputs: ['conv'], mean, variance, gamma, beta },
          { op: 'relu', name: 'act', inputs: ['bn'] },
        ];
        const { manifest } = encodeModel({
          ops: [{ op: 'input', name: 'x', shape: [6, 6, 8] }, ...ops],
        });
        expect(manifest.ops.map((o) => o.op)).toEqual(['input', 'conv2d']);
        expect(manifest.ops[1]!.fused).toEqual(['bn', 'act']);
        const wk = 'codes' in kernel ? dequantize(kernel) : kernel.values;
        const ref = tf.tidy(() =>
          tf.relu(
            bnRef(
              tf.add(
                tf.conv2d(tf.tensor4d(xin, [2, 6, 6, 8]), tf.tensor4d(wk, [3, 3, 8, c]), 1, 'same'),
                bias,
              ),
            ),
          ),
        );
        expectMatchesTfjs(runGraph([6, 6, 8], ops, xin), ref);
        // Unfolded, the same numbers come out of separate ops.
        const refAgain = tf.tidy(() =>
          tf.relu(
            bnRef(
              tf.add(
                tf.conv2d(tf.tensor4d(xin, [2, 6, 6, 8]), tf.tensor4d(wk, [3, 3, 8, c]), 1, 'same'),
                bias,
              ),
            ),
          ),
        );
        expectMatchesTfjs(
          runGraph([6, 6, 8], ops, xin, { foldBatchNorm: false, fuseActivations: false }),
          refAgain,
        );
      });
    }
  });

  describe('folding and fusion rules', () => {
    const rand = rng(41);
    const c = 6;
    const bnSpec = (name: string, input: string): OpSpec => ({
      op: 'batchNorm',
      name,
      inputs: [input],
      mean: uniform(rand, c),
      variance: uniform(rand, c, 0.5, 1.5),
      gamma: uniform(rand, c),
      beta: uniform(rand, c),
    });

    it('pre-activation BN -> ReLU (no conv before it) becomes one affine op with a fused ReLU', () => {
      const bn = bnSpec('bn', 'x') as Extract<OpSpec, { op: 'batchNorm' }>;
      const graph: GraphSpec = {
        ops: [
          { op: 'input', name: 'x', shape: [4, 4, c] },
          bn,
          { op: 'relu', name: 'r', inputs: ['bn'] },
        ],
      };
      const { manifest, binary } = encodeModel(graph);
      expect(manifest.ops.map((o) => [o.op, o.fused ?? []])).toEqual([
        ['input', []],
        ['affine', ['r']],
      ]);
      const x = uniform(rand, 4 * 4 * c * 2, -2, 2);
      const ref = tf.tidy(() =>
        tf.relu(
          tf.batchNorm(
            tf.tensor4d(x, [2, 4, 4, c]),
            bn.mean,
            bn.variance,
            bn.beta!,
            bn.gamma!,
            1e-3,
          ),
        ),
      );
      expectMatchesTfjs(decodeModel(manifest, binary, { backend }).predict(x), ref);
    });

    it('does not fold a BN into a conv whose output has another consumer, nor into a conv with an activation', () => {
      const k = quantKernel(rand, [3, 3, c, c]);
      const graph: GraphSpec = {
        ops: [
          { op: 'input', name: 'x', shape: [4, 4, c] },
          { op: 'conv2d', name: 'conv', inputs: ['x'], kernel: k, padding: 'same' },
          bnSpec('bn', 'conv'),
          { op: 'add', name: 'sum', inputs: ['bn', 'conv'] },
          {
            op: 'conv2d',
            name: 'conv_relu',
            inputs: ['sum'],
            kernel: k,
            padding: 'same',
            activation: 'relu',
          },
          bnSpec('bn2', 'conv_relu'),
        ],
      };
      const { manifest } = encodeModel(graph);
      expect(manifest.ops.map((o) => o.op)).toEqual([
        'input',
        'conv2d',
        'affine',
        'add',
        'conv2d',
        'affine',
      ]);
      expect(manifest.ops.every((o) => o.fused === undefined)).toBe(true);
    });

    it('does not fuse into an op that is itself a requested model output', () => {
      const graph: GraphSpec = {
        ops: [
          { op: 'input', name: 'x', shape: [3] },
          { op: 'dense', name: 'fc', inputs: ['x'], kernel: quantKernel(rand, [3, 2]) },
          { op: 'relu', name: 'r', inputs: ['fc'] },
        ],
        outputs: ['fc', 'r'],
      };
      expect(encodeModel(graph).manifest.ops.map((o) => o.op)).toEqual(['input', 'dense', 'relu']);
    });
  });

  describe('parameter-free ops', () => {
    const rand = rng(31);
    const x = uniform(rand, 2 * 7 * 6 * 5, -2, 2);
    const xt = () => tf.tensor4d(x, [2, 7, 6, 5]);

    it('add of two and of three inputs, relu, softmax, flatten', () => {
      const ops: OpSpec[] = [
        { op: 'relu', name: 'r', inputs: ['x'] },
        { op: 'add', name: 'a2', inputs: ['x', 'r'] },
        { op: 'add', name: 'a3', inputs: ['x', 'r', 'a2'] },
        { op: 'flatten', name: 'f', inputs: ['a3'] },
        { op: 'softmax', name: 's', inputs: ['f'] },
      ];
      const graph: GraphSpec = {
        ops: [{ op: 'input', name: 'x', shape: [7, 6, 5] }, ...ops],
        outputs: ['r', 'a2', 'a3', 'f', 's'],
      };
      const { manifest, binary } = encodeModel(graph);
      const out = decodeModel(manifest, binary, { backend }).run(x, ['r', 'a2', 'a3', 'f', 's']);
      const [r, a2, a3, f, s] = tf.tidy(() => {
        const r = tf.relu(xt());
        const a2 = tf.add(xt(), r);
        const a3 = tf.addN([xt(), r, a2]);
        const f = tf.reshape(a3, [2, -1]);
        return [r, a2, a3, f, tf.softmax(f)];
      });
      expectMatchesTfjs(out.r!, r!);
      expectMatchesTfjs(out.a2!, a2!);
      expectMatchesTfjs(out.a3!, a3!);
      expectMatchesTfjs(out.f!, f!);
      expectMatchesTfjs(out.s!, s!);
    });

    for (const [pool, size, stride, padding] of [
      ['maxPool', 2, 2, 'valid'],
      ['maxPool', 3, 2, 'same'],
      ['maxPool', 3, 1, 'same'],
      ['avgPool', 2, 2, 'valid'],
      ['avgPool', 3, 2, 'same'],
      ['avgPool', 3, 1, 'valid'],
    ] as const) {
      it(`${pool} ${size}x${size}, stride ${stride}, ${padding}`, () => {
        const y = runGraph(
          [7, 6, 5],
          [{ op: pool, name: 'p', inputs: ['x'], poolSize: size, strides: stride, padding }],
          x,
        );
        const f = pool === 'maxPool' ? tf.maxPool : tf.avgPool;
        expectMatchesTfjs(
          y,
          tf.tidy(() => f(xt(), size, stride, padding)),
        );
      });
    }

    it('pool strides default to the pool size (Keras)', () => {
      const y = runGraph(
        [7, 6, 5],
        [{ op: 'maxPool', name: 'p', inputs: ['x'], poolSize: [2, 3] }],
        x,
      );
      expectMatchesTfjs(
        y,
        tf.tidy(() => tf.maxPool(xt(), [2, 3], [2, 3], 'valid')),
      );
    });

    it('global average pool', () => {
      const y = runGraph([7, 6, 5], [{ op: 'globalAvgPool', name: 'g', inputs: ['x'] }], x);
      expectMatchesTfjs(
        y,
        tf.tidy(() => tf.mean(xt(), [1, 2])),
      );
    });

    for (const [k, mult, stride, padding] of [
      [3, 1, 1, 'same'],
      [3, 2, 2, 'same'],
      [2, 3, 1, 'valid'],
    ] as const) {
      it(`depthwise conv ${k}x${k}, multiplier ${mult}, stride ${stride}, ${padding}, bias, relu`, () => {
        const rand = rng(50 + k * 10 + mult);
        const kernel = uniform(rand, k * k * 5 * mult);
        const bias = uniform(rand, 5 * mult, -0.2, 0.2);
        const ops: OpSpec[] = [
          {
            op: 'depthwiseConv2d',
            name: 'dw',
            inputs: ['x'],
            kernel: { shape: [k, k, 5, mult], values: kernel },
            bias,
            strides: stride,
            padding,
            activation: 'relu',
          },
        ];
        const y = runGraph([7, 6, 5], ops, x);
        expectMatchesTfjs(
          y,
          tf.tidy(() =>
            tf.relu(
              tf
                .depthwiseConv2d(xt(), tf.tensor4d(kernel, [k, k, 5, mult]), stride, padding)
                .add(tf.tensor1d(bias)),
            ),
          ),
        );
      });
    }

    it('depthwise conv with a BatchNorm folded in (output channel c * mult + m)', () => {
      const rand = rng(61);
      const kernel = uniform(rand, 3 * 3 * 5 * 2);
      const [gamma, beta, mean] = [
        uniform(rand, 10, -1.5, 1.5),
        uniform(rand, 10),
        uniform(rand, 10),
      ];
      const variance = uniform(rand, 10, 0.2, 2);
      const ops: OpSpec[] = [
        {
          op: 'depthwiseConv2d',
          name: 'dw',
          inputs: ['x'],
          kernel: { shape: [3, 3, 5, 2], values: kernel },
          padding: 'same',
        },
        { op: 'batchNorm', name: 'bn', inputs: ['dw'], gamma, beta, mean, variance, epsilon: 1e-3 },
      ];
      const graph: GraphSpec = { ops: [{ op: 'input', name: 'x', shape: [7, 6, 5] }, ...ops] };
      const { manifest, binary } = encodeModel(graph);
      expect(manifest.ops.map((o) => [o.op, o.fused ?? []])).toEqual([
        ['input', []],
        ['depthwiseConv2d', ['bn']],
      ]);
      const y = decodeModel(manifest, binary, { backend }).predict(x);
      expectMatchesTfjs(
        y,
        tf.tidy(() =>
          tf.batchNorm(
            tf.depthwiseConv2d(xt(), tf.tensor4d(kernel, [3, 3, 5, 2]), 1, 'same'),
            tf.tensor1d(mean),
            tf.tensor1d(variance),
            tf.tensor1d(beta),
            tf.tensor1d(gamma),
            1e-3,
          ),
        ),
      );
    });

    it('depthwise conv refuses a ternary kernel, naming the op', () => {
      const kernel = quantKernel(rng(62), [3, 3, 5, 1], {});
      expect(() =>
        runGraph(
          [7, 6, 5],
          [{ op: 'depthwiseConv2d', name: 'dw', inputs: ['x'], kernel } as unknown as OpSpec],
          x,
        ),
      ).toThrow(/op "dw" \(depthwiseConv2d\): a depthwise kernel must be float/);
    });

    it('global max pool', () => {
      const y = runGraph([7, 6, 5], [{ op: 'globalMaxPool', name: 'g', inputs: ['x'] }], x);
      expectMatchesTfjs(
        y,
        tf.tidy(() => tf.max(xt(), [1, 2])),
      );
    });

    for (const [op, f] of [
      ['relu6', tf.relu6],
      ['sigmoid', tf.sigmoid],
      ['tanh', tf.tanh],
    ] as const) {
      it(`${op} (inputs in [-8, 8], beyond relu6's clip)`, () => {
        const wide = x.map((v) => v * 4);
        const y = runGraph([7, 6, 5], [{ op, name: 'a', inputs: ['x'] }], wide);
        expectMatchesTfjs(
          y,
          tf.tidy(() => f(tf.tensor4d(wide, [2, 7, 6, 5]))),
        );
      });
    }

    it('concat along the channels of three inputs (5 + 5 + 5 -> 15), by hand and against tfjs', () => {
      const y = runGraph(
        [7, 6, 5],
        [
          { op: 'relu', name: 'r', inputs: ['x'] },
          { op: 'tanh', name: 't', inputs: ['x'] },
          { op: 'concat', name: 'c', inputs: ['x', 'r', 't'] },
        ],
        x,
      );
      expect(y.shape).toEqual([2, 7, 6, 15]);
      // Pixel (0, 0, 0): its 5 values, then their ReLU, then their tanh.
      for (let j = 0; j < 5; j++) {
        expect(y.data[j]).toBe(x[j]);
        expect(y.data[5 + j]).toBe(Math.max(x[j]!, 0));
        expect(y.data[10 + j]).toBeCloseTo(Math.tanh(x[j]!), 6);
      }
      expectMatchesTfjs(
        y,
        tf.tidy(() => tf.concat([xt(), tf.relu(xt()), tf.tanh(xt())], -1)),
      );
    });

    it('concat refuses inputs whose other axes differ, naming both', () => {
      expect(() =>
        runGraph(
          [7, 6, 5],
          [
            { op: 'maxPool', name: 'p', inputs: ['x'], poolSize: 2 },
            { op: 'concat', name: 'c', inputs: ['x', 'p'] },
          ],
          x,
        ),
      ).toThrow(/op "c": input "p" has shape \[3, 3, 5\], but "x" has \[7, 6, 5\]/);
    });

    it('zero padding (spatial and channels) and strided subsampling', () => {
      const pad = runGraph(
        [7, 6, 5],
        [
          {
            op: 'zeroPad',
            name: 'z',
            inputs: ['x'],
            padding: [
              [1, 2],
              [0, 3],
            ],
            channels: [2, 1],
          },
        ],
        x,
      );
      expectMatchesTfjs(
        pad,
        tf.tidy(() =>
          tf.pad(xt(), [
            [0, 0],
            [1, 2],
            [0, 3],
            [2, 1],
          ]),
        ),
      );
      const same = runGraph(
        [7, 6, 5],
        [{ op: 'zeroPad', name: 'z', inputs: ['x'], padding: 1 }],
        x,
      );
      expectMatchesTfjs(
        same,
        tf.tidy(() =>
          tf.pad(xt(), [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]),
        ),
      );
      const sub = runGraph(
        [7, 6, 5],
        [{ op: 'subsample', name: 's', inputs: ['x'], strides: 2 }],
        x,
      );
      expectMatchesTfjs(
        sub,
        tf.tidy(() => tf.stridedSlice(xt(), [0, 0, 0, 0], [2, 7, 6, 5], [1, 2, 2, 1])),
      );
    });
  });
});
