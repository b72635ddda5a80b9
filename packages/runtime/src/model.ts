/**
 * A decoded, runnable model. Built by {@link decodeModel}; every tensor was
 * validated before construction, so a `TritModel` is always complete.
 */
import { TritFormatError } from './errors.js';
import { checkOutputNames, type Feed, type Feeds, firstNonFinite, resolveFeeds } from './feeds.js';
import type { GraphInfo } from './graph.js';
import {
  addN,
  affine,
  concatLast,
  globalAvgPool,
  globalMaxPool,
  pool2d,
  relu,
  relu6,
  sigmoid,
  softmax,
  subsample,
  tanh,
  zeroPad,
} from './kernels/elementwise.js';
import { type Backend, type Engine, jsEngine } from './kernels/engine.js';
import { floatDepthwiseConv2d } from './kernels/float.js';
import type { PackedKernel } from './kernels/quantized.js';
import { slidingWindow } from './kernels/window.js';
import { activationOf, type Manifest, type OpEntry } from './manifest.js';
import { shapeSize } from './pack.js';

/** A float32 tensor: shape (batch first) and row-major data. */
export interface TensorData {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A kernel as the runtime holds it: float values or packed codes. */
export type LoadedKernel =
  | { readonly kind: 'float32'; readonly shape: readonly number[]; readonly values: Float32Array }
  | ({ readonly kind: 'quantized'; readonly shape: readonly number[] } & PackedKernel);

/** Per-op line of {@link ModelSummary}. */
export interface LayerSummary {
  readonly name: string;
  readonly op: OpEntry['op'];
  /** Kernel storage, for conv2d/dense. */
  readonly encoding: 'float32' | 'ternary' | 'binary' | null;
  readonly quantizer: string | null;
  /**
   * Bits per kernel weight as quantized (32, 2, 1), for conv2d/dense; the
   * file stores ternary codes at 1.6 bits (5 per byte), see `bytes`.
   */
  readonly bits: number | null;
  /**
   * Scales of a quantized kernel: `per-layer` (one value per level) or
   * `per-channel` (per output channel, stored as such or as per-layer
   * levels times a per-channel `scale`).
   */
  readonly scales: 'per-layer' | 'per-channel' | null;
  /** Kernel weights, biases and affine parameters (scales of quantized kernels excluded). */
  readonly parameters: number;
  /** Bytes of the op's tensors in the binary (codes, scales, floats; no alignment padding). */
  readonly bytes: number;
  /** Output shape without the batch dimension. */
  readonly outputShape: readonly number[];
}

/** Sizes of a model, layer by layer and in total. */
export interface ModelSummary {
  readonly layers: readonly LayerSummary[];
  readonly parameters: number;
  /** Weights stored as ternary or binary codes. */
  readonly quantizedWeights: number;
  /** Bytes of all tensors (the binary without alignment padding). */
  readonly bytes: number;
  /** What the same parameters take as float32: `4 * parameters`. */
  readonly float32Bytes: number;
  /** `float32Bytes / bytes`. */
  readonly compression: number;
  /** Bytes of the quantized kernels (codes and their scales) ... */
  readonly quantizedBytes: number;
  /** ... against `4 *` their weights: about 20 for ternary (1.6 bits per weight), 32 for binary. */
  readonly quantizedCompression: number;
}

interface Step {
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outShape: readonly number[];
  /** Values per sample of the output. */
  readonly outSize: number;
  /** The output is the first input itself (input, flatten): nothing to compute or store. */
  readonly alias: boolean;
  /** Writes the output of `batch` samples into `y` (length `batch * outSize`). */
  readonly run: (xs: readonly Float32Array[], batch: number, y: Float32Array) => void;
}

/** Everything {@link TritModel} needs, handed over by the decoder. */
export interface ModelParts {
  readonly manifest: Manifest;
  readonly info: GraphInfo;
  readonly floats: ReadonlyMap<string, Float32Array>;
  readonly kernels: ReadonlyMap<string, LoadedKernel>;
}

function buildStep(op: OpEntry, parts: ModelParts, engine: Engine): Step {
  const { info, floats, kernels } = parts;
  const outShape = info.shapes.get(op.name)!;
  const inputs = op.op === 'input' ? [] : op.inputs.map((n) => info.aliases.get(n) ?? n);
  const inShape = inputs.length > 0 ? info.shapes.get(inputs[0]!)! : [];
  const outSize = shapeSize(outShape);
  const float = (role: string) => floats.get(`${op.name}/${role}`) ?? null;
  let run: Step['run'] = () => {};
  let alias = false;
  switch (op.op) {
    case 'input':
      alias = true;
      break;
    case 'conv2d':
    case 'dense': {
      const kernel = kernels.get(op.name)!;
      const cout = outShape[outShape.length - 1]!;
      const cin = inShape[inShape.length - 1]!;
      const layer = engine.layer({
        name: op.name,
        kernel,
        bias: float('bias'),
        relu: activationOf(op) === 'relu',
        cin,
        cout,
        rowsPer: op.op === 'dense' ? shapeSize(inShape) / cin : 1,
        win:
          op.op === 'dense'
            ? null
            : slidingWindow(
                inShape[0]!,
                inShape[1]!,
                kernel.shape[0]!,
                kernel.shape[1]!,
                (op.strides ?? [1, 1])[0],
                (op.strides ?? [1, 1])[1],
                op.padding,
                op.name,
              ),
      });
      const soft = activationOf(op) === 'softmax';
      run = (xs, batch, y) => {
        layer(xs[0]!, batch, y);
        if (soft) softmax(y, cout, y);
      };
      break;
    }
    case 'depthwiseConv2d': {
      const [kh, kw, cin, mult] = op.kernel.shape as [number, number, number, number];
      const w = float('kernel')!;
      const bias = float('bias');
      const [sh, sw] = op.strides ?? [1, 1];
      const win = slidingWindow(inShape[0]!, inShape[1]!, kh, kw, sh, sw, op.padding, op.name);
      const r = activationOf(op) === 'relu';
      const soft = activationOf(op) === 'softmax';
      run = (xs, batch, y) => {
        floatDepthwiseConv2d(xs[0]!, batch, win, cin, mult, w, bias, r, y);
        if (soft) softmax(y, cin * mult, y);
      };
      break;
    }
    case 'affine': {
      const scale = float('scale')!;
      const shift = float('shift')!;
      const r = activationOf(op) === 'relu';
      run = (xs, _batch, y) => {
        affine(xs[0]!, scale, shift, r, y);
      };
      break;
    }
    case 'add': {
      const r = activationOf(op) === 'relu';
      run = (xs, _batch, y) => {
        addN(xs, r, y);
      };
      break;
    }
    case 'concat': {
      const widths = inputs.map((n) => {
        const s = info.shapes.get(n)!;
        return s[s.length - 1]!;
      });
      const rowsPer = outSize / outShape[outShape.length - 1]!;
      run = (xs, batch, y) => {
        concatLast(xs, widths, batch * rowsPer, y);
      };
      break;
    }
    case 'relu':
    case 'relu6':
    case 'sigmoid':
    case 'tanh': {
      const f = { relu, relu6, sigmoid, tanh }[op.op];
      run = (xs, _batch, y) => {
        f(xs[0]!, y);
      };
      break;
    }
    case 'softmax': {
      const c = outShape[outShape.length - 1]!;
      run = (xs, _batch, y) => {
        softmax(xs[0]!, c, y);
      };
      break;
    }
    case 'flatten':
      alias = true;
      break;
    case 'globalAvgPool':
    case 'globalMaxPool': {
      const [h, w, c] = inShape as [number, number, number];
      const f = op.op === 'globalAvgPool' ? globalAvgPool : globalMaxPool;
      run = (xs, batch, y) => {
        f(xs[0]!, batch, h * w, c, y);
      };
      break;
    }
    case 'maxPool':
    case 'avgPool': {
      const [h, w, c] = inShape as [number, number, number];
      const win = slidingWindow(
        h,
        w,
        op.poolSize[0],
        op.poolSize[1],
        op.strides[0],
        op.strides[1],
        op.padding,
        op.name,
      );
      const kind = op.op === 'maxPool' ? 'max' : 'avg';
      run = (xs, batch, y) => {
        pool2d(kind, xs[0]!, batch, win, c, y);
      };
      break;
    }
    case 'zeroPad': {
      const [h, w, c] = inShape as [number, number, number];
      const [[t, b], [l, r]] = op.padding ?? [
        [0, 0],
        [0, 0],
      ];
      const [before, after] = op.channels ?? [0, 0];
      const pad = [t, b, l, r, before, after] as const;
      run = (xs, batch, y) => {
        zeroPad(xs[0]!, batch, h, w, c, pad, y);
      };
      break;
    }
    case 'subsample': {
      const [h, w, c] = inShape as [number, number, number];
      run = (xs, batch, y) => {
        subsample(xs[0]!, batch, h, w, c, op.strides[0], op.strides[1], y);
      };
      break;
    }
  }
  return { name: op.name, inputs, outShape, outSize, alias, run };
}

/**
 * A model ready to run. Inputs and outputs are float32, NHWC for images,
 * with the batch as the first dimension.
 */
export class TritModel {
  /** The validated manifest the model was decoded from. */
  readonly manifest: Manifest;
  /** Model inputs: op name and shape without the batch dimension. */
  readonly inputs: readonly { readonly name: string; readonly shape: readonly number[] }[];
  /** Model outputs: op name and shape without the batch dimension. */
  readonly outputs: readonly { readonly name: string; readonly shape: readonly number[] }[];
  /** Which kernels run the conv2d and dense layers (see `DecodeOptions.backend`). */
  readonly backend: Backend;
  private readonly steps: readonly Step[];
  private readonly engine: Engine;
  /** Activation layouts in the engine's arena, per batch size and requested outputs. */
  private readonly plans = new Map<string, Plan>();
  private readonly info: GraphInfo;
  /** The model's weights: float tensors and packed kernels, as decoded. */
  private readonly weights: Pick<ModelParts, 'floats' | 'kernels'>;

  /** @internal Use {@link decodeModel} or a loader. */
  constructor(parts: ModelParts, engine: Engine = jsEngine) {
    this.manifest = parts.manifest;
    this.weights = { floats: parts.floats, kernels: parts.kernels };
    this.info = parts.info;
    this.engine = engine;
    this.backend = engine.backend;
    this.steps = parts.manifest.ops.map((op) => buildStep(op, parts, engine));
    this.inputs = parts.manifest.ops
      .filter((op) => op.op === 'input')
      .map((op) => ({ name: op.name, shape: this.info.shapes.get(op.name)! }));
    this.outputs = parts.manifest.outputs.map((name) => ({
      name,
      shape: this.info.shapes.get(this.info.aliases.get(name) ?? name)!,
    }));
  }

  private resolve(name: string): string {
    const target = this.info.aliases.get(name) ?? name;
    if (this.info.shapes.has(target)) return target;
    if (this.info.fusedAway.has(name)) {
      throw new TritFormatError(
        'bad-input',
        `"${name}" was fused into "${this.info.fusedAway.get(name)}" at export and has no output of its own`,
      );
    }
    throw new TritFormatError('bad-input', `"${name}" is not the name of an op of this model`);
  }

  /**
   * Runs the model. `feeds` maps input names to tensors `[batch, ...shape]`
   * (a bare array is read as a whole number of samples); a single tensor
   * feeds the only input. Data is a Float32Array, or a Float64Array
   * (converted to float32, the precision the model computes in); other
   * types, wrong shapes and NaN/±Infinity inputs are refused
   * (`bad-input`, `non-finite`) before any compute. Returns the `outputs`
   * asked for (default: the model's outputs), which may name any op, by op
   * name. A result holding NaN or ±Infinity (weights that overflow float32,
   * such as a scale of 3e38) is an error (`non-finite`) naming the first op
   * that produced one.
   */
  run(
    feeds: Feeds,
    outputs: readonly string[] = this.manifest.outputs,
  ): Record<string, TensorData> {
    const { values, batch } = resolveFeeds(this.inputs, feeds);
    const names = checkOutputNames(outputs);
    const result = this.execute(new Map(values), batch, names);
    for (const name of names) {
      const i = firstNonFinite(result[name]!.data);
      if (i >= 0) this.nonFiniteError(values, batch, name, result[name]!.data, i);
    }
    return result;
  }

  /**
   * Throws the `non-finite` error for output `output`, whose value `index` is
   * not finite: re-runs the sample it belongs to (alone, so the memory stays
   * that of one sample), keeping every op's result, to name the first op
   * whose output is not finite (its inputs were).
   */
  private nonFiniteError(
    values: ReadonlyMap<string, Float32Array>,
    batch: number,
    output: string,
    data: Float32Array,
    index: number,
  ): never {
    const sample = Math.floor(index / (data.length / batch));
    // Before the re-run below, which may reuse the memory \`data\` lives in.
    const what = `output "${output}" holds ${data[index]} at index ${index} (sample ${sample})`;
    const one = new Map<string, Float32Array>();
    for (const input of this.inputs) {
      const size = shapeSize(input.shape);
      one.set(input.name, values.get(input.name)!.slice(sample * size, (sample + 1) * size));
    }
    const ops = this.steps.filter((s) => s.inputs.length > 0).map((s) => s.name);
    const all = this.execute(one, 1, ops);
    const first = this.manifest.ops.find((op) => {
      const r = all[op.name];
      return r !== undefined && firstNonFinite(r.data) >= 0;
    });
    if (!first) throw new TritFormatError('non-finite', what);
    const r = all[first.name]!.data;
    const at = firstNonFinite(r);
    const fused = first.fused?.length ? `, with ${first.fused.join(', ')} fused in` : '';
    throw new TritFormatError(
      'non-finite',
      `${what}: op "${first.name}" (${first.op}${fused}) produced ${r[at]} at index ${at} of its ` +
        'output from finite inputs; its weights overflow float32 (a scale or weight too large?)',
    );
  }

  /** The graph computation on checked feeds; `values` holds the inputs and is consumed. */
  private execute(
    values: Map<string, Float32Array>,
    batch: number,
    outputs: readonly string[],
  ): Record<string, TensorData> {
    const wanted = outputs.map((o) => this.resolve(o));
    const lastNeeded = Math.max(...wanted.map((w) => this.steps.findIndex((s) => s.name === w)));
    const plan = this.plan(batch, wanted, lastNeeded);
    const arena = this.engine.arena(plan.bytes);
    // With an arena, every activation is a view into it (inputs are copied in);
    // without, fresh arrays, and intermediate results are dropped after their last use.
    const view = (i: number) =>
      arena
        ? new Float32Array(
            arena.buffer,
            arena.base + plan.offsets[i]!,
            batch * this.steps[i]!.outSize,
          )
        : new Float32Array(batch * this.steps[i]!.outSize);
    for (let i = 0; i <= lastNeeded; i++) {
      const step = this.steps[i]!;
      if (step.inputs.length === 0) {
        if (arena) {
          const y = view(i);
          y.set(values.get(step.name)!);
          values.set(step.name, y);
        }
        continue;
      }
      const xs = step.inputs.map((n) => values.get(n)!);
      if (step.alias) values.set(step.name, xs[0]!);
      else {
        const y = view(i);
        step.run(xs, batch, y);
        values.set(step.name, y);
      }
      for (const n of step.inputs) if (plan.lastUse.get(n) === i) values.delete(n);
    }
    const result: Record<string, TensorData> = {};
    outputs.forEach((o, i) => {
      const name = wanted[i]!;
      const data = values.get(name)!;
      // Arena views are overwritten by the next run: hand out copies.
      result[o] = {
        shape: [batch, ...this.info.shapes.get(name)!],
        data: arena ? data.slice() : data,
      };
    });
    return result;
  }

  /**
   * Where each step's output lives in the arena for `batch` samples: an
   * output takes the first free block that fits and frees it after its last
   * use (an alias shares its input's block), so memory is bounded by the
   * largest set of simultaneously live activations, not the whole graph.
   */
  private plan(batch: number, wanted: readonly string[], lastNeeded: number): Plan {
    const key = `${batch}|${wanted.join('|')}`;
    const cached = this.plans.get(key);
    if (cached) return cached;
    const lastUse = new Map<string, number>();
    this.steps.forEach((s, i) => {
      for (const n of s.inputs) lastUse.set(n, i);
    });
    for (const w of wanted) lastUse.set(w, Number.POSITIVE_INFINITY);
    const index = new Map(this.steps.map((s, i) => [s.name, i]));
    // The step that owns the memory a step's output is in, and when that memory dies.
    const owner: number[] = [];
    const dies = new Map<number, number>();
    const offsets: number[] = [];
    const free: { at: number; size: number }[] = [];
    let bytes = 0;
    for (let i = 0; i <= lastNeeded; i++) {
      const s = this.steps[i]!;
      const o = s.alias && s.inputs.length > 0 ? owner[index.get(s.inputs[0]!)!]! : i;
      owner.push(o);
      dies.set(o, Math.max(dies.get(o) ?? -1, lastUse.get(s.name) ?? i));
    }
    const live: number[] = [];
    for (let i = 0; i <= lastNeeded; i++) {
      if (owner[i] === i) {
        const size = (batch * this.steps[i]!.outSize * 4 + 15) & ~15;
        const slot = free.findIndex((f) => f.size >= size);
        if (slot >= 0) {
          const f = free[slot]!;
          offsets[i] = f.at;
          if (f.size === size) free.splice(slot, 1);
          else free[slot] = { at: f.at + size, size: f.size - size };
        } else {
          offsets[i] = bytes;
          bytes += size;
        }
        live.push(i);
      } else offsets[i] = offsets[owner[i]!]!;
      // Release what died at this step (after it ran: its inputs stay valid while it runs).
      for (let j = live.length - 1; j >= 0; j--) {
        const b = live[j]!;
        if (dies.get(b)! <= i) {
          free.push({ at: offsets[b]!, size: (batch * this.steps[b]!.outSize * 4 + 15) & ~15 });
          live.splice(j, 1);
        }
      }
    }
    const plan: Plan = { bytes, offsets, lastUse };
    this.plans.set(key, plan);
    return plan;
  }

  /**
   * Stops the model's worker threads, if it started any (the `'wasm'`
   * backend with `threads > 1`); the model still runs afterwards, on the
   * calling thread. Workers never keep a Node process alive, and are also
   * stopped when the model is garbage-collected.
   */
  dispose(): void {
    this.engine.dispose?.();
  }

  /** Runs a single-input, single-output model on `x` and returns its output. */
  predict(x: Feed): TensorData {
    if (this.outputs.length !== 1)
      bad(`predict needs a single-output model; this one has ${this.outputs.length}`);
    const name = this.outputs[0]!.name;
    return this.run(x, [name])[name]!;
  }

  /**
   * Bytes of the weights the model holds in memory: packed codes, scales
   * and float tensors (a quantized kernel is never expanded to float32).
   */
  weightBytes(): number {
    let n = 0;
    for (const f of this.weights.floats.values()) n += f.byteLength;
    for (const k of this.weights.kernels.values())
      n += k.kind === 'quantized' ? k.words.byteLength : 0;
    return n;
  }

  /** Parameter counts and storage, layer by layer. */
  summary(): ModelSummary {
    const tensorsOf = (op: string) => [...this.info.tensors.values()].filter((t) => t.op === op);
    const get = (op: string, role: string) => this.info.tensors.get(`${op}/${role}`);
    const sizeOf = (op: string, role: string) => {
      const t = get(op, role);
      return t ? shapeSize(t.shape) : 0;
    };
    let quantizedWeights = 0;
    let quantizedBytes = 0;
    const layers = this.manifest.ops.map((op): LayerSummary => {
      const bytes = tensorsOf(op.name).reduce((n, t) => n + t.byteLength, 0);
      const base = {
        name: op.name,
        op: op.op,
        encoding: null,
        quantizer: null,
        bits: null,
        scales: null,
        parameters: 0,
        bytes,
        outputShape: this.info.shapes.get(op.name)!,
      };
      if (op.op === 'affine') return { ...base, parameters: 2 * sizeOf(op.name, 'scale') };
      if (op.op !== 'conv2d' && op.op !== 'dense' && op.op !== 'depthwiseConv2d') return base;
      const k = op.kernel;
      const weights = shapeSize(k.shape);
      const parameters = weights + sizeOf(op.name, 'bias');
      if (k.encoding === 'float32')
        return {
          ...base,
          encoding: 'float32',
          bits: 32,
          quantizer: k.quantizer ?? null,
          parameters,
        };
      quantizedWeights += weights;
      quantizedBytes += bytes - (get(op.name, 'bias')?.byteLength ?? 0);
      const perLayer = ['positive', 'negative', 'scale'].every((r) => sizeOf(op.name, r) <= 1);
      return {
        ...base,
        encoding: k.encoding,
        quantizer: k.quantizer ?? null,
        bits: k.encoding === 'ternary' ? 2 : 1,
        scales: perLayer ? 'per-layer' : 'per-channel',
        parameters,
      };
    });
    const parameters = layers.reduce((s, l) => s + l.parameters, 0);
    const bytes = layers.reduce((s, l) => s + l.bytes, 0);
    return {
      layers,
      parameters,
      quantizedWeights,
      bytes,
      float32Bytes: 4 * parameters,
      compression: bytes > 0 ? (4 * parameters) / bytes : 1,
      quantizedBytes,
      quantizedCompression: quantizedBytes > 0 ? (4 * quantizedWeights) / quantizedBytes : 1,
    };
  }
}

/** A run's activation layout (see `TritModel.plan`). */
interface Plan {
  readonly bytes: number;
  readonly offsets: readonly number[];
  readonly lastUse: ReadonlyMap<string, number>;
}

function bad(message: string): never {
  throw new TritFormatError('bad-input', message);
}
