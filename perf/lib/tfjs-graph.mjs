/**
 * The network of an exported runtime model as tfjs float32 ops, for the
 * speed benchmarks (Node: perf/runtime-speed.mjs; the browser page of
 * perf/runtime-browser.mjs). Plain ES module with `tf` and the
 * runtime (`rt`: manifestTensors, unpackTrits, unpackBits) passed in, so it
 * runs in both places.
 */

/** The float kernel a quantized kernel stands for (the tfjs side only). */
export function dequantize(k) {
  const cout = k.shape[k.shape.length - 1];
  const out = new Float32Array(k.codes.length);
  for (let i = 0; i < out.length; i++) {
    const c = i % cout;
    const p = k.positive.length === 1 ? k.positive[0] : k.positive[c];
    const n = k.negative.length === 1 ? k.negative[0] : k.negative[c];
    out[i] = k.codes[i] > 0 ? p : k.codes[i] < 0 ? -n : 0;
  }
  return out;
}

/** Float32 values of the float tensor `<op>/<role>` of a manifest (format version 2), or null. */
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
 */
export function tfjsFromManifest(tf, rt, manifest, binary) {
  const weights = new Map();
  for (const op of manifest.ops) {
    if (op.op !== 'conv2d' && op.op !== 'dense') continue;
    const k = op.kernel;
    const float = (role) => floatTensor(rt, manifest, binary, `${op.name}/${role}`);
    let w;
    if (k.encoding === 'float32') w = float('kernel');
    else {
      const t = rt.manifestTensors(manifest).find((e) => e.name === `${op.name}/codes`);
      const packed = binary.subarray(t.byteOffset, t.byteOffset + t.byteLength);
      const codes =
        k.encoding === 'ternary' ? rt.unpackTrits(packed, k.shape) : rt.unpackBits(packed, k.shape);
      // Levels: `negative` absent = `positive`; an optional per-channel `scale` multiplies both.
      const cout = k.shape[k.shape.length - 1];
      const scale = float('scale');
      const level = (v) =>
        Float32Array.from({ length: cout }, (_, c) => {
          const x = v.length === 1 ? v[0] : v[c];
          return scale ? Math.fround(x * (scale.length === 1 ? scale[0] : scale[c])) : x;
        });
      const positive = float('positive');
      w = dequantize({
        shape: k.shape,
        codes,
        positive: level(positive),
        negative: level(float('negative') ?? positive),
      });
    }
    const bias = float('bias');
    weights.set(op.name, { w: tf.tensor(w, k.shape), b: bias ? tf.tensor1d(bias) : null });
  }
  const affines = new Map();
  for (const op of manifest.ops) {
    if (op.op === 'affine')
      affines.set(op.name, {
        scale: tf.tensor1d(floatTensor(rt, manifest, binary, `${op.name}/scale`)),
        shift: tf.tensor1d(floatTensor(rt, manifest, binary, `${op.name}/shift`)),
      });
  }
  const input = manifest.ops.find((o) => o.op === 'input');
  const act = (y, a) => (a === 'relu' ? tf.relu(y) : a === 'softmax' ? tf.softmax(y) : y);
  const run = (x) => {
    const out = tf.tidy(() => {
      const vals = new Map();
      const get = (n) => vals.get(n);
      for (const op of manifest.ops) {
        let y;
        switch (op.op) {
          case 'input':
            y = tf.tensor(x, [x.length / input.shape.reduce((a, b) => a * b, 1), ...input.shape]);
            break;
          case 'conv2d': {
            const { w, b } = weights.get(op.name);
            y = tf.fused.conv2d({
              x: get(op.inputs[0]),
              filter: w,
              strides: op.strides ?? [1, 1],
              pad: op.padding,
              bias: b ?? undefined,
              activation: op.activation === 'relu' ? 'relu' : 'linear',
            });
            if (op.activation === 'softmax') y = tf.softmax(y);
            break;
          }
          case 'dense': {
            const { w, b } = weights.get(op.name);
            const t = get(op.inputs[0]);
            y = tf.fused.matMul({
              a: t.rank === 2 ? t : tf.reshape(t, [-1, t.shape[t.rank - 1]]),
              b: w,
              bias: b ?? undefined,
              activation: op.activation === 'relu' ? 'relu' : 'linear',
            });
            if (op.activation === 'softmax') y = tf.softmax(y);
            break;
          }
          case 'affine': {
            const { scale, shift } = affines.get(op.name);
            y = act(tf.add(tf.mul(get(op.inputs[0]), scale), shift), op.activation);
            break;
          }
          case 'subsample': {
            const t = get(op.inputs[0]);
            y = tf.stridedSlice(t, [0, 0, 0, 0], t.shape, [1, ...op.strides, 1]);
            break;
          }
          case 'zeroPad':
            y = tf.pad(get(op.inputs[0]), [
              [0, 0],
              ...(op.padding ?? [
                [0, 0],
                [0, 0],
              ]),
              op.channels ?? [0, 0],
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
              get(op.inputs[0]),
              op.poolSize,
              op.strides,
              op.padding,
            );
            break;
          case 'flatten': {
            const t = get(op.inputs[0]);
            y = tf.reshape(t, [t.shape[0], -1]);
            break;
          }
          default:
            throw new Error(`no tfjs mapping for ${op.op}`);
        }
        vals.set(op.name, y);
        // The last name of a fused chain (a folded BN's ReLU) refers to the same output.
        if (op.fused?.length) vals.set(op.fused[op.fused.length - 1], y);
      }
      return vals.get(manifest.outputs[0]);
    });
    const d = out.dataSync();
    out.dispose();
    return d;
  };
  const dispose = () => {
    for (const { w, b } of weights.values()) tf.dispose([w, ...(b ? [b] : [])]);
    for (const { scale, shift } of affines.values()) tf.dispose([scale, shift]);
  };
  return { run, dispose };
}
