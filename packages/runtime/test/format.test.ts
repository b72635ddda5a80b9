/**
 * The file format: encode/decode round trip, the manifest's content, and
 * every kind of bad input (each must be a clear error; nothing half-loads).
 */
import { describe, expect, it } from 'vitest';
import {
  crc32,
  decodeModel,
  encodeModel,
  FORMAT_NAME,
  FORMAT_VERSION,
  type GraphSpec,
  type Manifest,
  manifestTensors,
  type OpSpec,
  RUNTIME_VERSION,
  type TensorEntry,
  TritFormatError,
  unpackBits,
  unpackTrits,
} from '../src/index.js';
import { smallGraph } from './fixtures.js';
import { maxAbsDiff, quantKernel, rng, uniform } from './helpers.js';

const hex = (n: number) => n.toString(16).padStart(8, '0');

// biome-ignore lint/suspicious/noExplicitAny: the tests edit raw manifest JSON to break it on purpose
type Json = any;

/** Mutable deep copy of a manifest. */
function clone(m: Manifest): Json {
  return JSON.parse(JSON.stringify(m));
}

function tensor(m: Manifest, name: string): TensorEntry {
  return manifestTensors(m).find((t) => t.name === name)!;
}

const bytesOf = (bin: Uint8Array, t: TensorEntry) =>
  bin.subarray(t.byteOffset, t.byteOffset + t.byteLength);

/** Re-signs a modified binary: per-tensor (`[offset, length, crc]` of each op) and whole-binary CRCs. */
function resign(m: Json, bin: Uint8Array): Json {
  for (const op of m.ops) {
    for (const ref of Object.values(op.tensors ?? {}) as [number, number, string][])
      ref[2] = hex(crc32(bin.subarray(ref[0], ref[0] + ref[1])));
  }
  m.binary.crc32 = hex(crc32(bin));
  return m;
}

function failure(fn: () => unknown): TritFormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TritFormatError);
    return e as TritFormatError;
  }
  throw new Error('expected a TritFormatError, but the call succeeded');
}

describe('encode / decode round trip', () => {
  const graph = smallGraph();
  const { manifest, binary } = encodeModel(graph);
  const x = uniform(rng(2), 2 * 6 * 6 * 3);

  it('writes a versioned manifest with the op graph, quantizers, shapes and checksums', () => {
    expect(manifest.format).toBe(FORMAT_NAME);
    expect(manifest.version).toBe(FORMAT_VERSION);
    expect(manifest.producer).toBe(`@trit/runtime ${RUNTIME_VERSION}`);
    expect(manifest.binary).toEqual({
      file: 'model.bin',
      byteLength: binary.length,
      crc32: hex(crc32(binary)),
    });
    expect(manifest.outputs).toEqual(['probs']);
    expect(manifest.metadata).toEqual({ dataset: 'none', note: 'test fixture' });
    // BatchNorm folded into conv2, ReLUs and softmax fused.
    expect(manifest.ops.map((o) => [o.name, o.op, o.fused ?? []])).toEqual([
      ['image', 'input', []],
      ['conv1', 'conv2d', []],
      ['conv2', 'conv2d', ['bn2', 'relu2']],
      ['conv3', 'conv2d', []],
      ['add', 'add', ['relu3']],
      ['gap', 'globalAvgPool', []],
      ['fc', 'dense', ['probs']],
    ]);
    const conv2 = manifest.ops[2] as Extract<Manifest['ops'][number], { op: 'conv2d' }>;
    expect(conv2.kernel).toEqual({ encoding: 'ternary', quantizer: 'ttq', shape: [3, 3, 8, 8] });
    expect(conv2.activation).toBe('relu');
    expect(conv2.strides).toBeUndefined(); // [1, 1], the default, is left out
    // TTQ's per-layer Wp, Wn stay per layer; the folded BatchNorm is one per-channel `scale`.
    expect(Object.keys(conv2.tensors)).toEqual(['codes', 'positive', 'negative', 'scale', 'bias']);
    expect(tensor(manifest, 'conv2/positive').shape).toEqual([1]);
    expect(tensor(manifest, 'conv2/negative').shape).toEqual([1]);
    expect(tensor(manifest, 'conv2/scale').shape).toEqual([8]);
    // 3*3*8*8 = 576 ternary codes, 5 per byte: ceil(576 / 5) = 116 bytes.
    expect(tensor(manifest, 'conv2/codes')).toMatchObject({
      dtype: 'ternary',
      shape: [3, 3, 8, 8],
      byteLength: 116,
    });
    // 1*1*8*8 = 64 binary codes, 8 per byte: 8 bytes.
    expect(tensor(manifest, 'conv3/codes')).toMatchObject({
      dtype: 'binary',
      shape: [1, 1, 8, 8],
      byteLength: 8,
    });
    // BWN's symmetric scale is stored once: no `negative`, no `scale`.
    expect(Object.keys((manifest.ops[3] as typeof conv2).tensors)).toEqual(['codes', 'positive']);
    // conv1: kernel, bias; conv2: codes, positive, negative, scale, bias; conv3: codes, positive;
    // fc (TWN per channel): codes, positive, bias.
    const all = manifestTensors(manifest);
    expect(all).toHaveLength(12);
    for (const t of all) {
      expect(t.byteOffset % 4).toBe(0);
      expect(t.crc32).toBe(hex(crc32(bytesOf(binary, t))));
    }
  });

  it('stores codes exactly and scales as float32', () => {
    const fc = graph.ops.find((o) => o.name === 'fc') as Json;
    const codes = tensor(manifest, 'fc/codes');
    expect([...unpackTrits(bytesOf(binary, codes), codes.shape)]).toEqual([...fc.kernel.codes]);
    const pos = tensor(manifest, 'fc/positive');
    expect(new Float32Array(bytesOf(binary, pos).slice().buffer)).toEqual(fc.kernel.positive);
    const conv3 = graph.ops.find((o) => o.name === 'conv3') as Json;
    const b = tensor(manifest, 'conv3/codes');
    expect([...unpackBits(bytesOf(binary, b), b.shape)]).toEqual([...conv3.kernel.codes]);
  });

  it('decodes from the object or the JSON text, and from an ArrayBuffer, with identical outputs', () => {
    const a = decodeModel(manifest, binary).predict(x);
    const b = decodeModel(JSON.stringify(manifest), binary.slice().buffer).predict(x);
    expect(a.shape).toEqual([2, 5]);
    expect([...b.data]).toEqual([...a.data]);
    // Softmax rows sum to 1.
    expect(a.data[0]! + a.data[1]! + a.data[2]! + a.data[3]! + a.data[4]!).toBeCloseTo(1, 5);
  });

  it('decodes from a Node Buffer sitting at an offset in a shared pool (Buffer.slice does not copy)', () => {
    const pooled = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(binary)]).subarray(3);
    expect(pooled.byteOffset).toBeGreaterThan(0);
    const a = decodeModel(manifest, binary).predict(x);
    expect([...decodeModel(manifest, pooled).predict(x).data]).toEqual([...a.data]);
  });

  it('gives the same numbers folded and unfolded', () => {
    const folded = decodeModel(manifest, binary).predict(x);
    const plain = encodeModel(graph, { foldBatchNorm: false, fuseActivations: false });
    expect(plain.manifest.ops.map((o) => o.op)).toContain('affine');
    expect(
      maxAbsDiff(decodeModel(plain.manifest, plain.binary).predict(x).data, folded.data),
    ).toBeLessThan(1e-6);
  });

  it('serves intermediate results by op name, fused names as documented', () => {
    const model = decodeModel(manifest, binary);
    const out = model.run(x, ['conv1', 'relu2', 'gap']);
    expect(out.conv1!.shape).toEqual([2, 6, 6, 8]);
    expect(out.relu2!.shape).toEqual([2, 6, 6, 8]);
    expect(out.gap!.shape).toEqual([2, 8]);
    expect(out.relu2!.data.every((v) => v >= 0)).toBe(true);
    const e = failure(() => model.run(x, ['bn2']));
    expect(e.code).toBe('bad-input');
    expect(e.message).toMatch(/"bn2" was fused into "conv2"/);
    expect(failure(() => model.run(x, ['nope'])).message).toMatch(
      /"nope" is not the name of an op/,
    );
  });

  it('rejects feeds of the wrong size or shape', () => {
    const model = decodeModel(manifest, binary);
    expect(failure(() => model.predict(new Float32Array(7))).message).toMatch(
      /not a whole number of \[6, 6, 3\] samples/,
    );
    expect(
      failure(() => model.predict({ shape: [1, 6, 3, 6], data: new Float32Array(108) })).message,
    ).toMatch(/does not match \[batch, 6, 6, 3\]/);
    expect(failure(() => model.run({ img: new Float32Array(108) })).message).toMatch(
      /feed "img" is not an input/,
    );
  });

  it('summarizes sizes: ternary kernels about 20x, binary about 32x smaller than float32', () => {
    const rand = rng(9);
    const big = encodeModel({
      ops: [
        { op: 'input', name: 'x', shape: [256] },
        {
          op: 'dense',
          name: 't',
          inputs: ['x'],
          kernel: quantKernel(rand, [256, 256]),
          quantizer: 'twn',
        },
        {
          op: 'dense',
          name: 'b',
          inputs: ['t'],
          kernel: quantKernel(rand, [256, 256], { bits: 1 }),
          quantizer: 'bwn',
        },
      ],
    });
    const s = decodeModel(big.manifest, big.binary).summary();
    // ternary: 256*256 = 65536 codes, 5 per byte: ceil(65536 / 5) = 13108 bytes, + 1 scale * 4 bytes
    // (symmetric, Wp = Wn: stored once, no `negative`)
    expect(s.layers[1]).toMatchObject({
      encoding: 'ternary',
      bits: 2,
      quantizer: 'twn',
      scales: 'per-layer',
      bytes: 13112,
    });
    // binary: 65536 / 8 = 8192 bytes + 4
    expect(s.layers[2]).toMatchObject({ encoding: 'binary', bits: 1, bytes: 8196 });
    expect(s.quantizedWeights).toBe(2 * 65536);
    expect(s.quantizedCompression).toBeCloseTo((4 * 2 * 65536) / (13112 + 8196), 6);
    expect(manifestTensors(big.manifest).map((x) => x.name)).toEqual([
      't/codes',
      't/positive',
      'b/codes',
      'b/positive',
    ]);
    // 262144 / 13112 = 19.99; 262144 / 8196 = 31.98
    expect((s.layers[1]!.parameters * 4) / s.layers[1]!.bytes).toBeGreaterThan(19.9);
    expect((s.layers[2]!.parameters * 4) / s.layers[2]!.bytes).toBeGreaterThan(31.9);
    // In memory the runtime holds the 2-bit / 1-bit bitplane8 layout: 16384 + 8192 bytes of codes.
    expect(decodeModel(big.manifest, big.binary).weightBytes()).toBe(16384 + 4 + 8192 + 4);
  });
});

describe('BatchNorm folding into quantized kernels (format version 2)', () => {
  type Dense = Extract<Manifest['ops'][number], { op: 'dense' }>;
  const floatsOf = (m: Manifest, bin: Uint8Array, name: string) =>
    Array.from(new Float32Array(bytesOf(bin, tensor(m, name)).slice().buffer));

  // A 2 -> 2 TTQ dense layer, codes [in, out] = [[+1, -1], [+1, +1]], Wp = 0.5, Wn = 0.25,
  // then a BatchNorm with a negative gamma on channel 0 (epsilon 0 to keep the numbers round).
  const graph = (): GraphSpec => ({
    ops: [
      { op: 'input', name: 'x', shape: [2] },
      {
        op: 'dense',
        name: 'fc',
        inputs: ['x'],
        quantizer: 'ttq',
        kernel: {
          bits: 2,
          shape: [2, 2],
          codes: Int8Array.from([1, -1, 1, 1]),
          positive: Float32Array.of(0.5),
          negative: Float32Array.of(0.25),
        },
      },
      {
        op: 'batchNorm',
        name: 'bn',
        inputs: ['fc'],
        mean: Float32Array.of(0.5, 0.25),
        variance: Float32Array.of(4, 0.25),
        gamma: Float32Array.of(-1, 2),
        beta: Float32Array.of(0.1, -0.2),
        epsilon: 0,
      },
    ],
  });

  it('TTQ: keeps Wp, Wn per layer and stores the BatchNorm factor once per channel; exact for a negative gamma', () => {
    const { manifest, binary } = encodeModel(graph());
    const fc = manifest.ops[1] as Dense;
    expect(fc.fused).toEqual(['bn']);
    expect(Object.keys(fc.tensors)).toEqual(['codes', 'positive', 'negative', 'scale', 'bias']);
    // s = gamma / sqrt(variance + 0) = [-1 / 2, 2 / 0.5] = [-0.5, 4]
    expect(floatsOf(manifest, binary, 'fc/positive')).toEqual([0.5]);
    expect(floatsOf(manifest, binary, 'fc/negative')).toEqual([0.25]);
    expect(floatsOf(manifest, binary, 'fc/scale')).toEqual([-0.5, 4]);
    // bias = s * (0 - mean) + beta = [-0.5 * -0.5 + 0.1, 4 * -0.25 - 0.2] = [0.35, -1.2]
    const bias = floatsOf(manifest, binary, 'fc/bias');
    expect(bias[0]).toBeCloseTo(0.35, 6);
    expect(bias[1]).toBeCloseTo(-1.2, 6);
    // x = [1, 2]: unfolded y = [0.5 * (1 + 2), -0.25 * 1 + 0.5 * 2] = [1.5, 0.75];
    // BatchNorm: [-0.5 * (1.5 - 0.5) + 0.1, 4 * (0.75 - 0.25) - 0.2] = [-0.4, 1.8].
    // Folded, at load: positive = 0.5 * s = [-0.25, 2], negative = 0.25 * s = [-0.125, 1]:
    // y0 = -0.25 * 3 - (-0.125) * 0 + 0.35 = -0.4;  y1 = 2 * 2 - 1 * 1 - 1.2 = 1.8.
    const model = decodeModel(manifest, binary);
    const y = model.predict(Float32Array.of(1, 2)).data;
    expect(y[0]).toBeCloseTo(-0.4, 6);
    expect(y[1]).toBeCloseTo(1.8, 6);
    // codes (4 weights fit 1 byte) + Wp + Wn + 2 scales + 2 biases = 1 + 4 + 4 + 8 + 8 bytes.
    expect(model.summary().layers[1]).toMatchObject({ scales: 'per-channel', bytes: 25 });
  });

  it('two BatchNorms in a row multiply into the one scale; same outputs as unfolded', () => {
    const base = graph();
    const rand = rng(8);
    const g: GraphSpec = { ops: [...base.ops] };
    (g.ops as OpSpec[]).push({
      op: 'batchNorm',
      name: 'bn2',
      inputs: ['bn'],
      mean: uniform(rand, 2),
      variance: uniform(rand, 2, 0.5, 2),
      gamma: Float32Array.of(0.7, -1.3),
      beta: uniform(rand, 2),
    });
    const folded = encodeModel(g);
    expect((folded.manifest.ops[1] as Dense).fused).toEqual(['bn', 'bn2']);
    expect(tensor(folded.manifest, 'fc/scale').shape).toEqual([2]);
    const plain = encodeModel(g, { foldBatchNorm: false });
    expect(plain.manifest.ops.map((o) => o.op)).toEqual(['input', 'dense', 'affine', 'affine']);
    const x = uniform(rand, 5 * 2, -2, 2);
    expect(
      maxAbsDiff(
        decodeModel(folded.manifest, folded.binary).predict(x).data,
        decodeModel(plain.manifest, plain.binary).predict(x).data,
      ),
    ).toBeLessThan(1e-6);
  });

  it('symmetric levels (TWN) take the factor into one per-channel tensor: no negative, no scale', () => {
    const g = graph();
    const fc = g.ops[1] as Json;
    fc.quantizer = 'twn';
    fc.kernel.negative = Float32Array.of(0.5);
    const { manifest, binary } = encodeModel(g);
    expect(Object.keys((manifest.ops[1] as Dense).tensors)).toEqual(['codes', 'positive', 'bias']);
    // positive = 0.5 * s = [-0.25, 2]; y = [-0.25 * 3 + 0.35, 2 * (2 - 1) - 1.2] = [-0.4, 0.8]
    expect(floatsOf(manifest, binary, 'fc/positive')).toEqual([-0.25, 2]);
    const y = decodeModel(manifest, binary).predict(Float32Array.of(1, 2)).data;
    expect(y[0]).toBeCloseTo(-0.4, 6);
    expect(y[1]).toBeCloseTo(0.8, 6);
  });
});

describe('fields at their default value', () => {
  it('are left out by the writer and read as the default when given explicitly', () => {
    const { manifest, binary } = encodeModel(smallGraph());
    const m = clone(manifest);
    // conv3: strides [1, 1] and activation 'linear' are the defaults, left out.
    expect(m.ops[3].strides).toBeUndefined();
    expect(m.ops[3].activation).toBeUndefined();
    expect(m.ops[1].fused).toBeUndefined();
    m.ops[3].strides = [1, 1];
    m.ops[3].activation = 'linear';
    m.ops[1].fused = [];
    const x = uniform(rng(3), 6 * 6 * 3);
    expect([...decodeModel(m, binary).predict(x).data]).toEqual([
      ...decodeModel(manifest, binary).predict(x).data,
    ]);
  });
});

describe('bad input is a clear error', () => {
  const { manifest, binary } = encodeModel(smallGraph());

  it('truncated binary', () => {
    const e = failure(() => decodeModel(manifest, binary.subarray(0, binary.length - 10)));
    expect(e.code).toBe('truncated');
    expect(e.message).toMatch(
      new RegExp(
        `binary is truncated: ${binary.length - 10} bytes, the manifest expects ${binary.length}`,
      ),
    );
    expect(failure(() => decodeModel(manifest, new Uint8Array(0))).code).toBe('truncated');
  });

  it('binary longer than the manifest says', () => {
    const longer = new Uint8Array(binary.length + 4);
    longer.set(binary);
    expect(failure(() => decodeModel(manifest, longer)).code).toBe('size-mismatch');
  });

  it('checksum mismatch names the corrupted tensor, for every tensor', () => {
    for (const t of manifestTensors(manifest)) {
      const bad = binary.slice();
      bad[t.byteOffset + (t.byteLength >> 1)]! ^= 0x10;
      const e = failure(() => decodeModel(manifest, bad));
      expect(e.code).toBe('checksum');
      expect(e.message).toContain(`checksum mismatch in tensor "${t.name}"`);
    }
  });

  it('checksum mismatch of the whole binary (bytes between tensors)', () => {
    // 12 ternary codes take 3 bytes; one zero byte aligns the scale that follows to 4.
    const small = encodeModel({
      ops: [
        { op: 'input', name: 'x', shape: [3] },
        { op: 'dense', name: 'd', inputs: ['x'], kernel: quantKernel(rng(6), [3, 4]) },
      ],
    });
    const codes = tensor(small.manifest, 'd/codes');
    expect([
      codes.byteOffset,
      codes.byteLength,
      tensor(small.manifest, 'd/positive').byteOffset,
    ]).toEqual([0, 3, 4]);
    const bad = small.binary.slice();
    bad[3] = 0xff;
    const e = failure(() => decodeModel(small.manifest, bad));
    expect(e.code).toBe('checksum');
    expect(e.message).toMatch(/whole binary/);
  });

  it('unknown format version, unknown format name, not JSON', () => {
    // Version 1 (2-bit codes, a tensor table) was never released: it is not read.
    for (const version of [1, 3, 0, '2', null]) {
      const e = failure(() => decodeModel({ ...clone(manifest), version }, binary));
      expect(e.code).toBe('unsupported-version');
      expect(e.message).toMatch(
        /unsupported trit-model format version .*this reader supports version 2/,
      );
    }
    expect(
      failure(() => decodeModel({ ...clone(manifest), format: 'tfjs-layers-model' }, binary)).code,
    ).toBe('unknown-format');
    expect(failure(() => decodeModel('{"format": "trit-model", ', binary)).message).toMatch(
      /not valid JSON/,
    );
  });

  it('unknown op, in a manifest and in a graph description', () => {
    const m = clone(manifest);
    m.ops[5].op = 'conv3d';
    const e = failure(() => decodeModel(m, binary));
    expect(e.code).toBe('unknown-op');
    expect(e.message).toMatch(/manifest.ops\[5\] \("gap"\): unknown op "conv3d"/);
    const g = smallGraph();
    const spec = failure(() =>
      encodeModel({ ops: [...g.ops, { op: 'lstm', name: 'rnn', inputs: ['probs'] } as Json] }),
    );
    expect(spec.code).toBe('unknown-op');
    expect(spec.message).toMatch(/op "rnn": unknown op "lstm"/);
  });

  it('a code byte that is not five base-3 digits (with valid checksums) names the tensor and weights', () => {
    const t = tensor(manifest, 'conv2/codes');
    const bad = binary.slice();
    // Byte 1 holds weights 5..9 of the [3, 3, 8, 8] kernel; 243 = 3^5 is one past the largest (22222 in base 3).
    bad[t.byteOffset + 1] = 243;
    const e = failure(() => decodeModel(resign(clone(manifest), bad), bad));
    expect(e.code).toBe('invalid-code');
    expect(e.message).toBe(
      'tensor "conv2/codes" (kernel of op "conv2"): invalid code byte 1 (weights [0, 0, 0, 5] to ' +
        '[0, 0, 1, 1]): it is 243, above 242 (3^5 - 1), not five base-3 digits',
    );
  });

  it('a set unused digit in the last code byte (with valid checksums)', () => {
    // 576 codes = 115 full bytes + 1 code in byte 115, whose digits 1..4 must be 0: byte < 3.
    const t = tensor(manifest, 'conv2/codes');
    const bad = binary.slice();
    bad[t.byteOffset + 115] = 3; // digit 1 = 1
    const e = failure(() => decodeModel(resign(clone(manifest), bad), bad));
    expect(e.code).toBe('invalid-code');
    expect(e.message).toMatch(
      /tensor "conv2\/codes" .*invalid code byte 115 \(weights \[2, 2, 7, 7\] to \[2, 2, 7, 7\]\): it is 3: it holds the last 1 weight\(s\), so it must be below 3/,
    );
  });

  it('a set unused bit in a binary kernel (with valid checksums)', () => {
    const rand = rng(4);
    const small = encodeModel({
      ops: [
        { op: 'input', name: 'x', shape: [3] },
        { op: 'dense', name: 'd', inputs: ['x'], kernel: quantKernel(rand, [3, 4], { bits: 1 }) },
      ],
    });
    // 12 codes: byte 0 holds 8, byte 1 holds 4 (bits 4..7 unused).
    const c = tensor(small.manifest, 'd/codes');
    expect(c.byteLength).toBe(2);
    const bad = small.binary.slice();
    bad[c.byteOffset + 1]! |= 0x80;
    const e = failure(() => decodeModel(resign(clone(small.manifest), bad), bad));
    expect(e.code).toBe('invalid-code');
    expect(e.message).toMatch(
      /tensor "d\/codes" .*invalid code byte 1: bits 4..7 are past the last weight/,
    );
  });

  it('manifest and binary sizes disagree per tensor', () => {
    const m = clone(manifest);
    m.ops[1].tensors.kernel[1] += 4;
    const e1 = failure(() => decodeModel(m, binary));
    expect(e1.code).toBe('size-mismatch');
    expect(e1.message).toBe(
      'tensor "conv1/kernel": byteLength 868 does not fit a float32 kernel of shape [3, 3, 3, 8] (expected 864)',
    );
    const mc = clone(manifest);
    mc.ops[2].tensors.codes[1] = 144; // 2 bits per weight: not this format's 5 codes per byte
    expect(failure(() => decodeModel(mc, binary)).message).toMatch(
      /tensor "conv2\/codes": byteLength 144 does not fit the ternary codes of shape \[3, 3, 8, 8\] \(5 per byte\) \(expected 116\)/,
    );
    const ms = clone(manifest);
    ms.ops[2].tensors.scale[1] = 12; // 3 values for 8 channels
    expect(failure(() => decodeModel(ms, binary)).message).toMatch(
      /tensor "conv2\/scale": byteLength 12 does not fit 1 or 8 float32 values/,
    );
    const m2 = clone(manifest);
    const fc = m2.ops[m2.ops.length - 1];
    fc.tensors.bias[0] = binary.length - 4;
    const e = failure(() => decodeModel(m2, binary));
    expect(e.code).toBe('size-mismatch');
    expect(e.message).toMatch(/tensor "fc\/bias" \(bytes \d+..\d+\) extends past the end/);
    const m3 = clone(manifest);
    m3.ops[1].tensors.bias[0] = m3.ops[1].tensors.kernel[0];
    expect(failure(() => decodeModel(m3, binary)).message).toMatch(
      /tensors "conv1\/kernel" and "conv1\/bias" overlap/,
    );
    const m4 = clone(manifest);
    m4.ops[1].tensors.bias[0] += 2;
    expect(failure(() => decodeModel(m4, binary)).message).toMatch(
      /tensor "conv1\/bias" starts at byte 866, not a multiple of 4/,
    );
  });

  it('malformed manifest fields name the path', () => {
    const m = clone(manifest);
    m.ops[1].strides = [1, 0];
    expect(failure(() => decodeModel(m, binary)).message).toBe(
      'manifest.ops[1] ("conv1").strides[1]: expected an integer >= 1, got 0',
    );
    const m2 = clone(manifest);
    m2.ops[2].tensors.codes.pop();
    expect(failure(() => decodeModel(m2, binary)).message).toMatch(
      /^manifest.ops\[2\] \("conv2"\).tensors.codes: expected \[byteOffset, byteLength, "crc32"\]/,
    );
    const m3 = clone(manifest);
    m3.ops[2].kernel.encoding = 'ternary2';
    expect(failure(() => decodeModel(m3, binary)).message).toMatch(
      /kernel.encoding: expected one of 'float32', 'ternary', 'binary', got "ternary2"/,
    );
    const m4 = clone(manifest);
    m4.ops[2].tensors.Wp = m4.ops[2].tensors.positive;
    expect(failure(() => decodeModel(m4, binary)).message).toMatch(
      /tensors.Wp: unknown tensor role for this op \(expected 'codes', 'positive', 'negative', 'scale', 'bias'\)/,
    );
    const m5 = clone(manifest);
    delete m5.ops[2].tensors.positive;
    expect(failure(() => decodeModel(m5, binary)).message).toMatch(
      /manifest.ops\[2\] \("conv2"\).tensors.positive: expected a tensor/,
    );
    const m6 = clone(manifest);
    m6.ops[1].tensors.kernel[2] = 'F24D3FFB';
    expect(failure(() => decodeModel(m6, binary)).message).toMatch(
      /tensors.kernel\[2\]: expected a CRC-32 as 8 lower-case hex digits/,
    );
    const m7 = clone(manifest);
    m7.ops[5].tensors = {};
    expect(failure(() => decodeModel(m7, binary)).message).toMatch(
      /\("gap"\).tensors: expected no tensors for an op of type globalAvgPool/,
    );
    const m9 = clone(manifest);
    m9.ops[2].strides = [1, 1, 1];
    expect(failure(() => decodeModel(m9, binary)).code).toBe('bad-manifest');
  });

  it('non-finite float values (with valid checksums), and at encode time', () => {
    const t = tensor(manifest, 'fc/bias');
    const bad = binary.slice();
    new DataView(bad.buffer).setFloat32(t.byteOffset + 4, Number.NaN, true);
    const e = failure(() => decodeModel(resign(clone(manifest), bad), bad));
    expect(e.code).toBe('non-finite');
    expect(e.message).toMatch(/tensor "fc\/bias" holds NaN at index 1/);
    const g = smallGraph() as Json;
    g.ops[9].bias[2] = Number.POSITIVE_INFINITY;
    expect(failure(() => encodeModel(g)).message).toMatch(
      /op "fc" \(dense\): bias holds Infinity at index 2/,
    );
  });

  it('graph errors: shapes, references, names', () => {
    const rand = rng(3);
    const input = { op: 'input', name: 'x', shape: [5, 5, 4] } as const;
    const conv = (cin: number) =>
      ({
        op: 'conv2d',
        name: 'c',
        inputs: ['x'],
        kernel: quantKernel(rand, [3, 3, cin, 2]),
      }) as const;
    expect(failure(() => encodeModel({ ops: [input, conv(3)] })).message).toMatch(
      /op "c": kernel \[3, 3, 3, 2\] expects 3 input channels, input has 4/,
    );
    expect(
      failure(() => encodeModel({ ops: [input, { ...conv(4), inputs: ['y'] }] })).message,
    ).toMatch(/input "y" is not the name of an earlier op/);
    expect(
      failure(() => encodeModel({ ops: [input, conv(4), { ...conv(4), inputs: ['c'] }] })).message,
    ).toMatch(/op name "c" is used twice/);
    expect(failure(() => encodeModel({ ops: [input, conv(4)], outputs: ['z'] })).message).toMatch(
      /output "z" is not/,
    );
    expect(
      failure(() =>
        encodeModel({ ops: [input, conv(4), { op: 'add', name: 'a', inputs: ['x', 'c'] }] }),
      ).message,
    ).toMatch(/op "a": input "c" has shape \[3, 3, 2\], but "x" has \[5, 5, 4\]/);
    expect(
      failure(() =>
        encodeModel({ ops: [input, { op: 'maxPool', name: 'p', inputs: ['x'], poolSize: 6 }] }),
      ).message,
    ).toMatch(/a 6x6 'valid' window does not fit the 5x5 input/);
    expect(
      failure(() =>
        encodeModel({
          ops: [
            input,
            {
              ...conv(4),
              kernel: { ...quantKernel(rand, [3, 3, 4, 2]), positive: new Float32Array(3) },
            },
          ],
        }),
      ).message,
    ).toMatch(/kernel.positive has 3 values, expected 1 or 2/);
    expect(
      failure(() =>
        encodeModel({
          ops: [
            { op: 'input', name: 'x', shape: [4] },
            { op: 'dense', name: 'd', inputs: ['x'], kernel: quantKernel(rand, [5, 2]) },
          ],
        }),
      ).message,
    ).toMatch(/expects 5 input features, input has shape \[4\]/);
  });

  it('nothing is half-loaded: a failed decode leaves its inputs untouched and returns nothing', () => {
    const before = binary.slice();
    const m = clone(manifest);
    const bad = binary.slice();
    bad[bad.length - 1]! ^= 1;
    let model: unknown;
    expect(() => {
      model = decodeModel(m, bad);
    }).toThrow(TritFormatError);
    expect(model).toBeUndefined();
    expect(binary).toEqual(before);
    expect(m).toEqual(clone(manifest));
    // The good pair still decodes.
    expect(decodeModel(manifest, binary).outputs).toEqual([{ name: 'probs', shape: [5] }]);
  });
});
