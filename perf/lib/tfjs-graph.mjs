/**
 * The network of an exported runtime model as tfjs float32 ops, for the
 * speed benchmarks (Node: perf/runtime-speed.mjs; the browser page of
 * perf/runtime-browser.mjs). Plain ES module with `tf` and the
 * runtime (`rt`: manifestTensors, unpackTrits, unpackBits) passed in, so it
 * runs in both places.
 */

/** @typedef {typeof import('@tensorflow/tfjs')} Tf */
/** @typedef {import('@tensorflow/tfjs').Tensor} Tensor */
/** The parts of `@trit/runtime` used here (the page passes its own import). */
/** @typedef {Pick<typeof import('@trit/runtime'), 'manifestTensors' | 'unpackTrits' | 'unpackBits'>} Runtime */

/**
 * The float kernel a quantized kernel stands for (the tfjs side only).
 * @param {Omit<import('@trit/runtime').QuantizedKernel, 'bits'>} k
 */
export function dequantize(k) {
  const cout = /** @type {number} */ (k.shape[k.shape.length - 1]);
  const out = new Float32Array(k.codes.length);
  for (let i = 0; i < out.length; i++) {
    const c = i % cout;
    const p = Number(k.positive.length === 1 ? k.positive[0] : k.positive[c]);
    const n = Number(k.negative.length === 1 ? k.negative[0] : k.negative[c]);
    const code = /** @type {number} */ (k.codes[i]);
    out[i] = code > 0 ? p : code < 0 ? -n : 0;
  }
  return out;
}

/**
 * Float32 values of the float tensor `<op>/<role>` of a manifest (format version 2), or null.
 * @param {Runtime} rt
 * @param {import('@trit/runtime').Manifest} manifest
 * @param {Uint8Array} binary
 * @param {string} name
 */
function floatTensor(rt, manifest, binary, name) {
  const t = rt.manifestTensors(manifest).find((e) => e.name === name);
  return t
    ? new Float32Array(binary.slice(t.byteOffset, t.byteOffset + t.byteLength).buffer)
    : null;
}

/**
 * The network of an encoded model as tfjs ops (the folded graph, with every
 * quantized kernel dequantized from its packed codes and stored scales).
 * Returns `{ run(x) -> Float32Array, dispose() }` for the active backend.
 * @param {Tf} tf
 * @param {Runtime} rt
 * @param {import('@trit/runtime').Manifest} manifest
 * @param {Uint8Array} binary
 * @returns {{ run: (x: Float32Array) => Float32Array, dispose: () => void }}
 */
export function tfjsFromManifest(tf, rt, manifest, binary) {
  /**
   * A float tensor the network needs, or an error naming it (a manifest without it is malformed).
   * @param {string} name
   */
  const required = (name) => {
    const t = floatTensor(rt, manifest, binary, name);
    if (!t) throw new Error(`the manifest has no tensor ${name}`);
    return t;
  };
  /** @type {Map<string, { w: Tensor, b: Tensor | null }>} */
  const weights = new Map();
  for (const op of manifest.ops) {
    if (op.op !== 'conv2d' && op.op !== 'dense') continue;
    const k = op.kernel;
    /** @param {string} role */
    const float = (role) => floatTensor(rt, manifest, binary, `${op.name}/${role}`);
    let w;
    if (k.encoding === 'float32') w = required(`${op.name}/kernel`);
    else {
      const t = rt.manifestTensors(manifest).find((e) => e.name === `${op.name}/codes`);
      if (!t) throw new Error(`the manifest has no tensor ${op.name}/codes`);
      const packed = binary.subarray(t.byteOffset, t.byteOffset + t.byteLength);
      const codes =
        k.encoding === 'ternary' ? rt.unpackTrits(packed, k.shape) : rt.unpackBits(packed, k.shape);
      // Levels: `negative` absent = `positive`; an optional per-channel `scale` multiplies both.
      const cout = /** @type {number} */ (k.shape[k.shape.length - 1]);
      const scale = float('scale');
      /** @param {Float32Array} v */
      const level = (v) =>
        Float32Array.from({ length: cout }, (_, c) => {
          const x = Number(v.length === 1 ? v[0] : v[c]);
          return scale ? Math.fround(x * Number(scale.length === 1 ? scale[0] : scale[c])) : x;
        });
      const positive = required(`${op.name}/positive`);
      w = dequantize({
        shape: k.shape,
        codes,
        positive: level(positive),
        negative: level(float('negative') ?? positive),
      });
    }
    const bias = float('bias');
    weights.set(op.name, { w: tf.tensor(w, [...k.shape]), b: bias ? tf.tensor1d(bias) : null });
  }
  /** @type {Map<string, { scale: Tensor, shift: Tensor }>} */
  const affines = new Map();
  for (const op of manifest.ops) {
    if (op.op === 'affine')
      affines.set(op.name, {
        scale: tf.tensor1d(required(`${op.name}/scale`)),
        shift: tf.tensor1d(required(`${op.name}/shift`)),
      });
  }
  const input = manifest.ops.find((o) => o.op === 'input');
  if (input?.op !== 'input') throw new Error('the manifest has no input op');
  const inputSize = input.shape.reduce((a, b) => a * b, 1);
  /**
   * @param {Tensor} y
   * @param {string | undefined} a
   */
  const act = (y, a) => (a === 'relu' ? tf.relu(y) : a === 'softmax' ? tf.softmax(y) : y);
  /** @param {Float32Array} x */
  const run = (x) => {
    const out = tf.tidy(() => {
      /** @type {Map<string, Tensor>} */
      const vals = new Map();
      /** @param {string} n */
      const get = (n) => {
        const t = vals.get(n);
        if (!t) throw new Error(`no value for ${n} yet (ops out of order?)`);
        return t;
      };
      /** An NHWC feature map (the convolutions and pools take only those). @param {string} n */
      const get4d = (n) => {
        const t = get(n);
        if (t.rank !== 4) throw new Error(`${n} has rank ${t.rank}, expected 4 (NHWC)`);
        return /** @type {import('@tensorflow/tfjs').Tensor4D} */ (t);
      };
      /** @param {string} name */
      const weightsOf = (name) => {
        const e = weights.get(name);
        if (!e) throw new Error(`no weights for ${name}`);
        return e;
      };
      for (const op of manifest.ops) {
        /** @type {Tensor} */
        let y;
        switch (op.op) {
          case 'input':
            y = tf.tensor(x, [x.length / inputSize, ...input.shape]);
            break;
          case 'conv2d': {
            const { w, b } = weightsOf(op.name);
            y = tf.fused.conv2d({
              x: get4d(op.inputs[0]),
              filter: /** @type {import('@tensorflow/tfjs').Tensor4D} */ (w),
              strides: op.strides ? [op.strides[0], op.strides[1]] : [1, 1],
              pad: op.padding,
              bias: b ?? undefined,
              activation: op.activation === 'relu' ? 'relu' : 'linear',
            });
            if (op.activation === 'softmax') y = tf.softmax(y);
            break;
          }
          case 'dense': {
            const { w, b } = weightsOf(op.name);
            const t = get(op.inputs[0]);
            y = tf.fused.matMul({
              a:
                t.rank === 2 ? t : tf.reshape(t, [-1, /** @type {number} */ (t.shape[t.rank - 1])]),
              b: w,
              bias: b ?? undefined,
              activation: op.activation === 'relu' ? 'relu' : 'linear',
            });
            if (op.activation === 'softmax') y = tf.softmax(y);
            break;
          }
          case 'affine': {
            const affine = affines.get(op.name);
            if (!affine) throw new Error(`no scale and shift for ${op.name}`);
            const { scale, shift } = affine;
            y = act(tf.add(tf.mul(get(op.inputs[0]), scale), shift), op.activation);
            break;
          }
          case 'subsample': {
            const t = get4d(op.inputs[0]);
            y = tf.stridedSlice(t, [0, 0, 0, 0], t.shape, [1, ...op.strides, 1]);
            break;
          }
          case 'zeroPad':
            y = tf.pad(get(op.inputs[0]), [
              [0, 0],
              op.padding ? [...op.padding[0]] : [0, 0],
              op.padding ? [...op.padding[1]] : [0, 0],
              op.channels ? [...op.channels] : [0, 0],
            ]);
            break;
          case 'add':
            y = act(tf.addN(op.inputs.map(get)), op.activation);
            break;
          case 'relu':
            y = tf.relu(get(op.inputs[0]));
            break;
          case 'softmax':
            y = tf.softmax(get(op.inputs[0]));
            break;
          case 'globalAvgPool':
            y = tf.mean(get(op.inputs[0]), [1, 2]);
            break;
          case 'maxPool':
          case 'avgPool':
            y = (op.op === 'maxPool' ? tf.maxPool : tf.avgPool)(
              get4d(op.inputs[0]),
              [...op.poolSize],
              [...op.strides],
              op.padding,
            );
            break;
          case 'flatten': {
            const t = get(op.inputs[0]);
            y = tf.reshape(t, [/** @type {number} */ (t.shape[0]), -1]);
            break;
          }
          default:
            // Unreachable for a valid manifest (every op type is mapped above).
            throw new Error(`no tfjs mapping for ${/** @type {{ op: string }} */ (op).op}`);
        }
        vals.set(op.name, y);
        // The last name of a fused chain (a folded BN's ReLU) refers to the same output.
        const last = op.fused?.at(-1);
        if (last !== undefined) vals.set(last, y);
      }
      const output = manifest.outputs[0];
      if (output === undefined) throw new Error('the manifest names no output');
      return get(output);
    });
    const d = out.dataSync();
    out.dispose();
    if (!(d instanceof Float32Array)) throw new Error(`the output is ${out.dtype}, not float32`);
    return d;
  };
  const dispose = () => {
    for (const { w, b } of weights.values()) tf.dispose([w, ...(b ? [b] : [])]);
    for (const { scale, shift } of affines.values()) tf.dispose([scale, shift]);
  };
  return { run, dispose };
}
