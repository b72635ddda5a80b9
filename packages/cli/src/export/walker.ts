/**
 * The walker from a trained tfjs `LayersModel` to the plain-data graph
 * description of `@trit/runtime` (one op per layer), and {@link exportModel},
 * which encodes it into the compact trit format.
 *
 * Quantized layers ({@link QuantLayer}: `TritQuantConv2D`, `TritQuantDense`)
 * are written from their quantizer's `exportTernary()`: the ternary (or
 * binary) codes and the scales, per layer or per output channel, symmetric (TWN, SQ,
 * HLA, BWN) or asymmetric (TTQ's `Wp`/`Wn`). A float kernel is never rebuilt
 * for them. Layers whose quantizer exports nothing (FP32: by default the
 * first conv and the last dense) keep the exact float32 kernel the forward
 * pass uses.
 *
 * BatchNormalization (tfjs's or quant-core's `TritBatchNormalization`,
 * same config and weights) becomes a `batchNorm` op with the moving statistics and
 * epsilon; the encoder folds it into the conv/dense just before it when that
 * layer has no activation and no other consumer (its per-channel factor
 * `s = gamma / sqrt(var + eps)` multiplies the kernel, or both scales of a
 * quantized kernel: for TTQ's per-layer `Wp`, `Wn` it is stored once per
 * channel beside them; the shift goes into the bias), and writes it as an
 * `affine` op otherwise. A negative `gamma` gives negative scales, which the
 * format stores as they are (signed float32): the kernel computes
 * `Wp_o * sum(x | +1) - Wn_o * sum(x | -1)`, which is linear in the scales,
 * so the folded layer is the conv followed by the BatchNorm for either sign.
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import {
  dequantizeExport,
  isQuantLayer,
  type QuantLayer,
  TritBatchNormalization,
} from '@trit/quant-core';
import {
  type Activation,
  type EncodedModel,
  type EncodeOptions,
  encodeModel,
  type FloatTensor,
  type GraphSpec,
  type OpSpec,
  type QuantizedKernel,
} from '@trit/runtime';
import { ChannelPadShortcut } from '../models/shortcut.js';

/** The tfjs layer classes the walker maps (by `getClassName()`). */
export const SUPPORTED_LAYER_CLASSES = [
  'InputLayer',
  'TritQuantConv2D',
  'TritQuantDense',
  'Conv2D',
  'Dense',
  'BatchNormalization',
  TritBatchNormalization.className,
  'Activation',
  'ReLU',
  'Softmax',
  'Add',
  'GlobalAveragePooling2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'ZeroPadding2D',
  'Flatten',
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  ChannelPadShortcut.className,
] as const;

/** Layers that compute the identity at inference: consumers read their input. */
const IDENTITY_CLASSES = new Set([
  'Dropout',
  'SpatialDropout1D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
]);

/** A problem the walker cannot map: the message names the layer and its class. */
export class ExportError extends Error {
  constructor(
    message: string,
    /** Name of the layer at fault, when there is one. */
    readonly layer?: string,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}

/** What the walker did with one layer of the model. */
export interface ExportedLayerInfo {
  readonly name: string;
  /** tfjs class name. */
  readonly className: string;
  /** Ops written for it (none for identity layers). */
  readonly ops: readonly string[];
  /** For conv/dense layers: the kernel as written. */
  readonly kernel?: {
    readonly encoding: 'float32' | 'ternary' | 'binary';
    readonly bits: 32 | 2 | 1;
    /** Registry name of the quantizer (quantized layers only; `fp32` for a QuantLayer kept at full precision). */
    readonly quantizer: string | null;
    readonly shape: readonly number[];
    /** `per-layer` or `per-channel` scales, for quantized kernels. */
    readonly scales: 'per-layer' | 'per-channel' | null;
    /** Largest |dequantized export - forward kernel| (quantized kernels, when checked). */
    readonly maxAbsDiffToForward?: number;
  };
}

/** Options of {@link modelToGraph} and {@link exportModel}. */
export interface WalkOptions {
  /**
   * For each quantized layer, compare the dequantized export with the
   * kernel its forward pass uses (`quantizedKernel()`); a difference becomes
   * a warning (e.g. HLA still in its full-precision phase 1). Default true.
   */
  readonly check?: boolean;
  /** Throw instead of warning when the check finds a difference. Default false. */
  readonly strict?: boolean;
  /** Free JSON information stored in the manifest's `metadata`. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** The graph description of a model and what the walker did. */
export interface WalkResult {
  readonly graph: GraphSpec;
  readonly layers: readonly ExportedLayerInfo[];
  /** Non-fatal findings (the forward check), one line each. */
  readonly warnings: readonly string[];
}

/** What {@link exportModel} returns: the encoded model plus the walk. */
export interface ExportResult extends EncodedModel, WalkResult {}

type Config = Record<string, unknown>;

const f32 = (t: tf.Tensor): Float32Array => Float32Array.from(t.dataSync() as Float32Array);

function readTensor(t: tf.Tensor): FloatTensor {
  return { shape: [...t.shape], values: f32(t) };
}

function pairOf(v: unknown, what: string, layer: string, cls: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n)))
    return [v[0] as number, v[1] as number];
  throw new ExportError(
    `export: layer "${layer}" (${cls}): ${what} ${JSON.stringify(v)} is not a number or [height, width]`,
    layer,
  );
}

/** The tolerance of the forward check: float32 rounding of one product, relative to the largest weight. */
const CHECK_RTOL = 1e-6;

/**
 * Walks a built functional (or sequential) tfjs model into a runtime
 * {@link GraphSpec}: one op per layer, in the model's topological order,
 * named after the layer. Throws an {@link ExportError} naming the layer and
 * its class for anything it cannot map exactly (an unsupported class, a
 * shared layer, channels-first data, dilation, an activation other than
 * linear/relu/softmax, a BatchNorm over another axis).
 */
export function modelToGraph(outer: tf.LayersModel, options: WalkOptions = {}): WalkResult {
  // A Sequential model keeps its graph (nodes, inputs, outputs) in an inner
  // functional model, which it creates when it is built (or first run).
  let model = outer;
  if (outer instanceof tf.Sequential) {
    const seq = outer as unknown as { model?: tf.LayersModel };
    if (!seq.model) outer.build();
    model = seq.model ?? outer;
  }
  const check = options.check ?? true;
  const ops: OpSpec[] = [];
  const infos: ExportedLayerInfo[] = [];
  const warnings: string[] = [];
  /** Layer name -> name of the op whose output it is (identity layers point past themselves). */
  const produced = new Map<string, string>();
  const used = new Set<string>();
  const containerNodes = (model as unknown as { containerNodes?: Set<string> }).containerNodes;

  const claim = (name: string, layer: string) => {
    if (used.has(name)) {
      throw new ExportError(
        `export: op name "${name}" (for layer "${layer}") collides with another layer's op; rename the layer`,
        layer,
      );
    }
    used.add(name);
    return name;
  };

  const fail = (layer: tf.layers.Layer, why: string): never => {
    throw new ExportError(
      `export: layer "${layer.name}" (${layer.getClassName()}): ${why}`,
      layer.name,
    );
  };

  /** The (single) node through which `layer` is part of this model. */
  const nodeOf = (layer: tf.layers.Layer) => {
    const nodes = layer.inboundNodes.filter(
      (_, i) => !containerNodes || containerNodes.has(`${layer.name}_ib-${i}`),
    );
    if (nodes.length === 0) fail(layer, 'is not connected to the model inputs');
    if (nodes.length > 1) {
      fail(
        layer,
        `is applied ${nodes.length} times in this model; shared layers are not supported (the runtime has one op per layer)`,
      );
    }
    return nodes[0]!;
  };

  /** Shape (with the batch) of the first input of `layer`. */
  const inputShapeOf = (layer: tf.layers.Layer) =>
    nodeOf(layer).inputTensors[0]!.shape as readonly (number | null)[];

  /** The op names feeding `layer` inside this model. */
  const inputsOf = (layer: tf.layers.Layer): string[] => {
    const node = nodeOf(layer);
    return node.inboundLayers.map((src, j) => {
      if ((node.tensorIndices[j] ?? 0) !== 0) {
        fail(
          layer,
          `reads output ${node.tensorIndices[j]} of "${src.name}"; only single-output layers are supported`,
        );
      }
      const op = produced.get(src.name);
      if (op === undefined) fail(layer, `its input "${src.name}" was not exported before it`);
      return op!;
    });
  };

  const single = (layer: tf.layers.Layer): [string] => {
    const ins = inputsOf(layer);
    if (ins.length !== 1) fail(layer, `expects one input, has ${ins.length}`);
    return [ins[0]!];
  };

  const activationOf = (layer: tf.layers.Layer, cfg: Config): Activation => {
    const a = cfg.activation ?? 'linear';
    if (a === 'linear' || a === 'relu' || a === 'softmax') return a;
    return fail(
      layer,
      `activation ${JSON.stringify(a)} is not supported (the runtime fuses linear, relu and softmax)`,
    );
  };

  const weighted = (layer: tf.layers.Layer, cfg: Config, kind: 'conv2d' | 'dense') => {
    const inputs = single(layer);
    let kernel: QuantizedKernel | FloatTensor;
    let bias: Float32Array | null;
    let info: ExportedLayerInfo['kernel'];
    if (isQuantLayer(layer)) {
      const q = layer as QuantLayer;
      if (!q.kernel) fail(layer, 'is not built');
      const exported = q.exportTernary();
      if (exported === null) {
        // Full precision (FP32 quantizer): the kernel the forward pass uses, exactly.
        const forward = q.quantizedKernel();
        kernel = readTensor(forward);
        forward.dispose();
        info = {
          encoding: 'float32',
          bits: 32,
          quantizer: q.quantizer.name,
          shape: kernel.shape,
          scales: null,
        };
      } else {
        kernel = {
          bits: exported.bits,
          shape: [...exported.shape],
          codes: exported.codes,
          positive: exported.positive,
          negative: exported.negative,
        };
        const perChannel = exported.positive.length > 1 || exported.negative.length > 1;
        let maxAbsDiffToForward: number | undefined;
        if (check) {
          const forward = q.quantizedKernel();
          const fwd = forward.dataSync() as Float32Array;
          forward.dispose();
          const deq = dequantizeExport(exported);
          let diff = 0;
          let scale = 0;
          for (let i = 0; i < fwd.length; i++) {
            diff = Math.max(diff, Math.abs(fwd[i]! - deq[i]!));
            scale = Math.max(scale, Math.abs(fwd[i]!));
          }
          maxAbsDiffToForward = diff;
          if (diff > CHECK_RTOL * Math.max(scale, 1e-30)) {
            const msg =
              `layer "${layer.name}" (${q.quantizer.name}): the exported codes and scales differ from the ` +
              `kernel its forward pass uses by up to ${diff.toExponential(3)} (largest weight ${scale.toExponential(3)}); ` +
              `the exported model will not reproduce the trained tfjs model` +
              (q.quantizer.name === 'hla'
                ? ` (HLA still in phase 1, its full-precision phase: state ${JSON.stringify(q.quantizer.getState())})`
                : '');
            if (options.strict) throw new ExportError(`export: ${msg}`, layer.name);
            warnings.push(msg);
          }
        }
        info = {
          encoding: exported.bits === 2 ? 'ternary' : 'binary',
          bits: exported.bits,
          quantizer: q.quantizer.name,
          shape: [...exported.shape],
          scales: perChannel ? 'per-channel' : 'per-layer',
          ...(maxAbsDiffToForward !== undefined ? { maxAbsDiffToForward } : {}),
        };
      }
      bias = q.bias ? f32(q.bias.read()) : null;
    } else {
      const w = layer.getWeights();
      kernel = readTensor(w[0]!);
      bias = cfg.useBias === false ? null : w[1] ? f32(w[1]) : null;
      info = { encoding: 'float32', bits: 32, quantizer: null, shape: kernel.shape, scales: null };
    }
    const activation = activationOf(layer, cfg);
    const quantizer = info.encoding === 'float32' ? {} : { quantizer: info.quantizer! };
    if (kind === 'dense') {
      ops.push({
        op: 'dense',
        name: claim(layer.name, layer.name),
        inputs,
        kernel,
        bias,
        activation,
        ...quantizer,
      });
    } else {
      if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast')
        fail(
          layer,
          `dataFormat ${JSON.stringify(cfg.dataFormat)} is not supported (the runtime is NHWC)`,
        );
      const dilation = pairOf(
        cfg.dilationRate ?? 1,
        'dilationRate',
        layer.name,
        layer.getClassName(),
      );
      if (dilation[0] !== 1 || dilation[1] !== 1)
        fail(layer, `dilationRate ${JSON.stringify(cfg.dilationRate)} is not supported`);
      const padding = cfg.padding ?? 'valid';
      if (padding !== 'same' && padding !== 'valid')
        fail(layer, `padding ${JSON.stringify(padding)} is not supported`);
      ops.push({
        op: 'conv2d',
        name: claim(layer.name, layer.name),
        inputs,
        kernel,
        bias,
        strides: pairOf(cfg.strides ?? 1, 'strides', layer.name, layer.getClassName()),
        padding: padding as 'same' | 'valid',
        activation,
        ...quantizer,
      });
    }
    produced.set(layer.name, layer.name);
    infos.push({
      name: layer.name,
      className: layer.getClassName(),
      ops: [layer.name],
      kernel: info,
    });
  };

  const emit = (layer: tf.layers.Layer, op: OpSpec) => {
    ops.push({ ...op, name: claim(op.name, layer.name) } as OpSpec);
    produced.set(layer.name, op.name);
    infos.push({ name: layer.name, className: layer.getClassName(), ops: [op.name] });
  };

  const emitted = new Set<tf.layers.Layer>();
  for (const input of model.inputLayers) {
    const cfg = input.getConfig() as Config;
    const shape = (cfg.batchInputShape as (number | null)[] | undefined)?.slice(1) ?? [];
    if (shape.some((d) => d == null)) {
      fail(
        input,
        `input shape [${shape.join(', ')}] has an undefined dimension; the runtime needs a fixed shape`,
      );
    }
    emit(input, { op: 'input', name: input.name, shape: shape as number[] });
    emitted.add(input);
  }

  for (const layer of model.layers) {
    if (emitted.has(layer)) continue;
    const cls = layer.getClassName();
    const cfg = layer.getConfig() as Config;
    if (layer instanceof tf.LayersModel) {
      fail(layer, 'is a nested model; export the flattened model (one level of layers)');
    }
    if (IDENTITY_CLASSES.has(cls)) {
      produced.set(layer.name, single(layer)[0]);
      infos.push({ name: layer.name, className: cls, ops: [] });
      continue;
    }
    switch (cls) {
      case 'InputLayer':
        fail(layer, 'is an input layer that is not one of the model inputs');
        break;
      case 'TritQuantConv2D':
      case 'Conv2D':
        weighted(layer, cfg, 'conv2d');
        break;
      case 'TritQuantDense':
      case 'Dense':
        weighted(layer, cfg, 'dense');
        break;
      case 'BatchNormalization':
      case TritBatchNormalization.className: {
        const inputs = single(layer);
        const rank = inputShapeOf(layer).length;
        const axis = cfg.axis as number;
        if (!(axis === -1 || axis === rank - 1)) {
          fail(layer, `normalizes axis ${axis}; only the last (channel) axis is supported`);
        }
        const w = layer.getWeights();
        let k = 0;
        const gamma = cfg.scale === false ? null : f32(w[k++]!);
        const beta = cfg.center === false ? null : f32(w[k++]!);
        const mean = f32(w[k++]!);
        const variance = f32(w[k++]!);
        emit(layer, {
          op: 'batchNorm',
          name: layer.name,
          inputs,
          gamma,
          beta,
          mean,
          variance,
          epsilon: cfg.epsilon as number,
        });
        break;
      }
      case 'Activation': {
        const a = cfg.activation;
        const inputs = single(layer);
        if (a === 'linear') {
          produced.set(layer.name, inputs[0]);
          infos.push({ name: layer.name, className: cls, ops: [] });
        } else if (a === 'relu' || a === 'softmax') {
          emit(layer, { op: a, name: layer.name, inputs });
        } else {
          fail(
            layer,
            `activation ${JSON.stringify(a)} is not supported (relu, softmax, linear are)`,
          );
        }
        break;
      }
      case 'ReLU': {
        if (cfg.maxValue != null)
          fail(layer, `maxValue ${cfg.maxValue} (a clipped ReLU) is not supported`);
        emit(layer, { op: 'relu', name: layer.name, inputs: single(layer) });
        break;
      }
      case 'Softmax': {
        if (!(cfg.axis === -1 || cfg.axis === undefined))
          fail(layer, `axis ${cfg.axis} is not supported (only -1)`);
        emit(layer, { op: 'softmax', name: layer.name, inputs: single(layer) });
        break;
      }
      case 'Add': {
        const inputs = inputsOf(layer);
        if (inputs.length < 2) fail(layer, `has ${inputs.length} input(s), expected 2 or more`);
        emit(layer, { op: 'add', name: layer.name, inputs });
        break;
      }
      case 'GlobalAveragePooling2D': {
        if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast')
          fail(layer, `dataFormat ${JSON.stringify(cfg.dataFormat)} is not supported`);
        emit(layer, { op: 'globalAvgPool', name: layer.name, inputs: single(layer) });
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast')
          fail(layer, `dataFormat ${JSON.stringify(cfg.dataFormat)} is not supported`);
        const poolSize = pairOf(cfg.poolSize, 'poolSize', layer.name, cls);
        emit(layer, {
          op: cls === 'MaxPooling2D' ? 'maxPool' : 'avgPool',
          name: layer.name,
          inputs: single(layer),
          poolSize,
          strides: pairOf(cfg.strides ?? poolSize, 'strides', layer.name, cls),
          padding: (cfg.padding as 'same' | 'valid' | undefined) ?? 'valid',
        });
        break;
      }
      case 'ZeroPadding2D': {
        if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast')
          fail(layer, `dataFormat ${JSON.stringify(cfg.dataFormat)} is not supported`);
        const p = cfg.padding as [[number, number], [number, number]];
        emit(layer, { op: 'zeroPad', name: layer.name, inputs: single(layer), padding: p });
        break;
      }
      case 'Flatten':
        emit(layer, { op: 'flatten', name: layer.name, inputs: single(layer) });
        break;
      case ChannelPadShortcut.className: {
        // Option A: x[:, ::s, ::s, :] then symmetric zero channels (floor(extra / 2) before).
        const inputs = single(layer);
        const sc = layer as unknown as ChannelPadShortcut;
        const stride = sc.stride;
        const cin = inputShapeOf(layer)[3] as number;
        const extra = sc.outChannels - cin;
        if (!Number.isInteger(stride) || stride < 1)
          fail(layer, `stride ${stride} is not a positive integer`);
        if (extra < 0)
          fail(layer, `outChannels ${sc.outChannels} is less than the ${cin} input channels`);
        const before = Math.floor(extra / 2);
        const opNames: string[] = [];
        let src = inputs[0];
        if (stride !== 1) {
          const sub = claim(`${layer.name}/subsample`, layer.name);
          ops.push({ op: 'subsample', name: sub, inputs: [src], strides: stride });
          opNames.push(sub);
          src = sub;
        }
        if (extra > 0) {
          ops.push({
            op: 'zeroPad',
            name: claim(layer.name, layer.name),
            inputs: [src],
            channels: [before, extra - before],
          });
          opNames.push(layer.name);
          src = layer.name;
        }
        produced.set(layer.name, src);
        infos.push({ name: layer.name, className: cls, ops: opNames });
        break;
      }
      default:
        fail(
          layer,
          `layer class ${cls} is not supported by the export; supported: ${SUPPORTED_LAYER_CLASSES.join(', ')}`,
        );
    }
  }

  const outputs = model.outputLayers.map((layer, i) => {
    const op = produced.get(layer.name);
    if (op === undefined) fail(layer, `model output ${i} was not exported`);
    return op!;
  });
  const graph: GraphSpec = {
    ops,
    outputs,
    ...(options.metadata ? { metadata: options.metadata } : {}),
  };
  return { graph, layers: infos, warnings };
}

/**
 * Walks `model` ({@link modelToGraph}) and encodes it in the trit format
 * (`encodeModel`: BatchNorm folding, ReLU/softmax fusion, packing at 2 or 1
 * bits per quantized weight, checksums). Returns the manifest and binary, to
 * save with `saveModel` from `@trit/runtime/node`, plus what the walk did.
 */
export function exportModel(
  model: tf.LayersModel,
  options: WalkOptions & Pick<EncodeOptions, 'foldBatchNorm' | 'fuseActivations'> = {},
): ExportResult {
  const walk = modelToGraph(model, options);
  const encoded = encodeModel(walk.graph, {
    ...(options.foldBatchNorm !== undefined ? { foldBatchNorm: options.foldBatchNorm } : {}),
    ...(options.fuseActivations !== undefined ? { fuseActivations: options.fuseActivations } : {}),
  });
  return { ...walk, ...encoded };
}
