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
  type Manifest,
  RUNTIME_VERSION,
  type TensorEntry,
  TritFormatError,
  unpackBinary,
  unpackTernary,
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
  return m.tensors.find((t) => t.name === name)!;
}

/** Re-signs a modified binary: per-tensor and whole-binary CRCs. */
function resign(m: Json, bin: Uint8Array): Json {
  for (const t of m.tensors)
    t.crc32 = hex(crc32(bin.subarray(t.byteOffset, t.byteOffset + t.byteLength)));
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
    expect(conv2.kernel).toEqual({
      encoding: 'ternary',
      bits: 2,
      quantizer: 'ttq',
      shape: [3, 3, 8, 8],
      codes: 'conv2/codes',
      positive: 'conv2/positive',
      negative: 'conv2/negative',
    });
    expect(conv2.activation).toBe('relu');
    // Folding the BatchNorm made the TTQ scales per channel.
    expect(tensor(manifest, 'conv2/positive').shape).toEqual([8]);
    expect(tensor(manifest, 'conv3/codes')).toMatchObject({
      dtype: 'binary1',
      shape: [1, 1, 8, 8],
      byteLength: 8,
    });
    expect(tensor(manifest, 'conv2/codes')).toMatchObject({
      dtype: 'ternary2',
      byteLength: 9 * 8 * 2,
    });
    for (const t of manifest.tensors) {
      expect(t.byteOffset % 8).toBe(0);
      expect(t.crc32).toBe(hex(crc32(binary.subarray(t.byteOffset, t.byteOffset + t.byteLength))));
    }
  });

  it('stores codes exactly and scales as float32', () => {
    const fc = graph.ops.find((o) => o.name === 'fc') as Json;
    const codes = tensor(manifest, 'fc/codes');
    expect([
      ...unpackTernary(
        binary.subarray(codes.byteOffset, codes.byteOffset + codes.byteLength),
        codes.shape,
      ),
    ]).toEqual([...fc.kernel.codes]);
    const pos = tensor(manifest, 'fc/positive');
    expect(
      new Float32Array(binary.slice(pos.byteOffset, pos.byteOffset + pos.byteLength).buffer),
    ).toEqual(fc.kernel.positive);
    const conv3 = graph.ops.find((o) => o.name === 'conv3') as Json;
    const b = tensor(manifest, 'conv3/codes');
    expect([
      ...unpackBinary(binary.subarray(b.byteOffset, b.byteOffset + b.byteLength), b.shape),
    ]).toEqual([...conv3.kernel.codes]);
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

  it('summarizes sizes: ternary kernels about 16x, binary about 32x smaller than float32', () => {
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
    // ternary: 256*256 weights * 2 bits = 16384 bytes + 2 scales * 4 bytes
    expect(s.layers[1]).toMatchObject({
      encoding: 'ternary',
      bits: 2,
      quantizer: 'twn',
      scales: 'per-layer',
      bytes: 16392,
    });
    // binary: 256*256 / 8 = 8192 bytes + 8
    expect(s.layers[2]).toMatchObject({ encoding: 'binary', bits: 1, bytes: 8200 });
    expect(s.quantizedWeights).toBe(2 * 65536);
    expect(s.quantizedCompression).toBeCloseTo((4 * 2 * 65536) / (16392 + 8200), 6);
    expect((s.layers[1]!.parameters * 4) / s.layers[1]!.bytes).toBeGreaterThan(15.9);
    expect((s.layers[2]!.parameters * 4) / s.layers[2]!.bytes).toBeGreaterThan(31.9);
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
    for (const t of manifest.tensors) {
      const bad = binary.slice();
      bad[t.byteOffset + (t.byteLength >> 1)]! ^= 0x10;
      const e = failure(() => decodeModel(manifest, bad));
      expect(e.code).toBe('checksum');
      expect(e.message).toContain(`checksum mismatch in tensor "${t.name}"`);
    }
  });

  it('checksum mismatch of the whole binary (bytes between tensors)', () => {
    const gap = manifest.tensors.find((t) => (t.byteOffset + t.byteLength) % 8 !== 0)!;
    const bad = binary.slice();
    bad[gap.byteOffset + gap.byteLength] = 0xff;
    const e = failure(() => decodeModel(manifest, bad));
    expect(e.code).toBe('checksum');
    expect(e.message).toMatch(/whole binary/);
  });

  it('unknown format version, unknown format name, not JSON', () => {
    for (const version of [2, 0, '1', null]) {
      const e = failure(() => decodeModel({ ...clone(manifest), version }, binary));
      expect(e.code).toBe('unsupported-version');
      expect(e.message).toMatch(
        /unsupported trit-model format version .*this reader supports version 1/,
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

  it('invalid 2-bit code 11 (with valid checksums) names the tensor and weight', () => {
    const t = tensor(manifest, 'conv2/codes');
    const bad = binary.slice();
    // Weight (row 0, input channel 0, output channel 3): set both its P and N bits.
    bad[t.byteOffset + 2 * 3]! |= 1;
    bad[t.byteOffset + 2 * 3 + 1]! |= 1;
    const e = failure(() => decodeModel(resign(clone(manifest), bad), bad));
    expect(e.code).toBe('invalid-code');
    expect(e.message).toMatch(
      /tensor "conv2\/codes" \(kernel of op "conv2"\): invalid 2-bit code 11 at weight \[0, 0, 0, 3\]/,
    );
  });

  it('set padding bit in a binary kernel (with valid checksums)', () => {
    const t = tensor(manifest, 'fc/codes'); // cin 8: no padding; use a kernel with cin 3 instead
    expect(t).toBeDefined();
    const rand = rng(4);
    const small = encodeModel({
      ops: [
        { op: 'input', name: 'x', shape: [3] },
        { op: 'dense', name: 'd', inputs: ['x'], kernel: quantKernel(rand, [3, 4], { bits: 1 }) },
      ],
    });
    const c = tensor(small.manifest, 'd/codes');
    const bad = small.binary.slice();
    bad[c.byteOffset]! |= 0x80;
    const e = failure(() => decodeModel(resign(clone(small.manifest), bad), bad));
    expect(e.code).toBe('invalid-code');
    expect(e.message).toMatch(/padding bit set for input channel 7 >= 3/);
  });

  it('manifest and binary sizes disagree per tensor', () => {
    const m = clone(manifest);
    m.tensors[0].byteLength += 4;
    expect(failure(() => decodeModel(m, binary)).code).toBe('size-mismatch');
    const m2 = clone(manifest);
    m2.tensors[m2.tensors.length - 1].byteOffset = binary.length - 2;
    const e = failure(() => decodeModel(m2, binary));
    expect(e.code).toBe('size-mismatch');
    expect(e.message).toMatch(/extends past the end/);
    const m3 = clone(manifest);
    m3.tensors[1].byteOffset = m3.tensors[0].byteOffset;
    expect(failure(() => decodeModel(m3, binary)).message).toMatch(/overlap/);
  });

  it('malformed manifest fields name the path', () => {
    const m = clone(manifest);
    m.ops[1].strides = [1, 0];
    expect(failure(() => decodeModel(m, binary)).message).toBe(
      'manifest.ops[1] ("conv1").strides[1]: expected an integer >= 1, got 0',
    );
    const m2 = clone(manifest);
    delete m2.tensors[2].crc32;
    expect(failure(() => decodeModel(m2, binary)).code).toBe('bad-manifest');
    const m3 = clone(manifest);
    m3.ops[2].kernel.bits = 1;
    expect(failure(() => decodeModel(m3, binary)).message).toMatch(
      /kernel.bits: expected 2 for a ternary kernel/,
    );
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
