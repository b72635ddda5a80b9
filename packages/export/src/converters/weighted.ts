/**
 * Conv2D and Dense, float (tfjs's) or quantized (quant-core's
 * `TritQuantConv2D`, `TritQuantDense`).
 *
 * A quantized layer is written from its quantizer's `exportTernary()`: the
 * ternary (or binary) codes and the scales, per layer or per output channel,
 * symmetric (TWN, SQ, HLA, BWN) or asymmetric (TTQ's `Wp`/`Wn`). A float
 * kernel is never rebuilt for it. A layer whose quantizer exports nothing
 * (FP32: by default the first conv and the last dense) keeps the exact
 * float32 kernel its forward pass uses.
 */
import {
  dequantizeExport,
  isQuantLayer,
  type QuantLayer,
  type TernaryExport,
} from '@trit/quant-core';
import type { Activation, FloatTensor, OpSpec, QuantizedKernel } from '@trit/runtime';
import type { Conversion, ConverterContext, KernelInfo, LayerConverter } from '../converter.js';
import { ExportError } from '../errors.js';
import { type ActivationOp, isActivationOp, SUPPORTED_ACTIVATIONS } from './activations.js';
import { f32, paddingOf, pairOf, readTensor, requireChannelsLast } from './shared.js';

/** The tolerance of the forward check: float32 rounding of one product, relative to the largest weight. */
const CHECK_RTOL = 1e-6;

/** The activations conv2d/dense ops fuse. */
const FUSED_ACTIVATIONS: readonly string[] = ['linear', 'relu', 'softmax'];

/**
 * The layer's activation: fused into the conv2d/dense op (`linear`, `relu`,
 * `softmax`), or an op of its own after it (`relu6`, `sigmoid`, `tanh`).
 */
function activationOf(ctx: ConverterContext): { fused: Activation; after?: ActivationOp } {
  const a = ctx.config.activation ?? 'linear';
  if (typeof a === 'string' && FUSED_ACTIVATIONS.includes(a)) return { fused: a as Activation };
  if (isActivationOp(a)) return { fused: 'linear', after: a };
  return ctx.fail(
    `activation ${JSON.stringify(a)} is not supported (${SUPPORTED_ACTIVATIONS} are)`,
  );
}

/**
 * Compares the dequantized export of `q` with the kernel its forward pass
 * uses; returns the largest difference and warns (or, strict, throws) when
 * it exceeds float32 rounding.
 */
function checkForward(ctx: ConverterContext, q: QuantLayer, exported: TernaryExport): number {
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
  if (diff > CHECK_RTOL * Math.max(scale, 1e-30)) {
    const msg =
      `layer "${q.name}" (${q.quantizer.name}): the exported codes and scales differ from the ` +
      `kernel its forward pass uses by up to ${diff.toExponential(3)} (largest weight ${scale.toExponential(3)}); ` +
      `the exported model will not reproduce the trained tfjs model` +
      (q.quantizer.name === 'hla'
        ? ` (HLA still in phase 1, its full-precision phase: state ${JSON.stringify(q.quantizer.getState())})`
        : '');
    if (ctx.options.strict) throw new ExportError(`export: ${msg}`, q.name);
    ctx.warn(msg);
  }
  return diff;
}

/** The kernel and bias of a quantized layer, as the runtime takes them. */
function quantizedWeights(ctx: ConverterContext, q: QuantLayer) {
  if (!q.kernel) ctx.fail('is not built');
  const exported = q.exportTernary();
  const bias = q.bias ? f32(q.bias.read()) : null;
  if (exported === null) {
    // Full precision (FP32 quantizer): the kernel the forward pass uses, exactly.
    const forward = q.quantizedKernel();
    const kernel = readTensor(forward);
    forward.dispose();
    const info: KernelInfo = {
      encoding: 'float32',
      bits: 32,
      quantizer: q.quantizer.name,
      shape: kernel.shape,
      scales: null,
    };
    return { kernel, bias, info };
  }
  const kernel: QuantizedKernel = {
    bits: exported.bits,
    shape: [...exported.shape],
    codes: exported.codes,
    positive: exported.positive,
    negative: exported.negative,
  };
  const perChannel = exported.positive.length > 1 || exported.negative.length > 1;
  const diff = (ctx.options.check ?? true) ? checkForward(ctx, q, exported) : undefined;
  const info: KernelInfo = {
    encoding: exported.bits === 2 ? 'ternary' : 'binary',
    bits: exported.bits,
    quantizer: q.quantizer.name,
    shape: [...exported.shape],
    scales: perChannel ? 'per-channel' : 'per-layer',
    ...(diff !== undefined ? { maxAbsDiffToForward: diff } : {}),
  };
  return { kernel, bias, info };
}

/** The kernel and bias of a float layer. */
function floatWeights(ctx: ConverterContext) {
  const w = ctx.layer.getWeights();
  const kernel: FloatTensor = readTensor(w[0]!);
  const bias = ctx.config.useBias === false ? null : w[1] ? f32(w[1]) : null;
  const info: KernelInfo = {
    encoding: 'float32',
    bits: 32,
    quantizer: null,
    shape: kernel.shape,
    scales: null,
  };
  return { kernel, bias, info };
}

function weighted(ctx: ConverterContext, kind: 'conv2d' | 'dense'): Conversion {
  const inputs: [string] = [ctx.input()];
  const { kernel, bias, info } = isQuantLayer(ctx.layer)
    ? quantizedWeights(ctx, ctx.layer)
    : floatWeights(ctx);
  const { fused: activation, after } = activationOf(ctx);
  const quantizer = info.encoding === 'float32' ? {} : { quantizer: info.quantizer! };
  // With an activation of its own, that op carries the layer's name (its output is the layer's).
  const name = after ? `${ctx.layer.name}/linear` : ctx.layer.name;
  let op: OpSpec;
  if (kind === 'dense') {
    op = { op: 'dense', name, inputs, kernel, bias, activation, ...quantizer };
  } else {
    requireChannelsLast(ctx);
    const cfg = ctx.config;
    const dilation = pairOf(ctx, cfg.dilationRate ?? 1, 'dilationRate');
    if (dilation[0] !== 1 || dilation[1] !== 1)
      ctx.fail(`dilationRate ${JSON.stringify(cfg.dilationRate)} is not supported`);
    const padding = paddingOf(ctx);
    op = {
      op: 'conv2d',
      name,
      inputs,
      kernel,
      bias,
      strides: pairOf(ctx, cfg.strides ?? 1, 'strides'),
      padding,
      activation,
      ...quantizer,
    };
  }
  const ops: OpSpec[] = [op];
  if (after) ops.push({ op: after, name: ctx.layer.name, inputs: [name] });
  return { ops, kernel: info };
}

/**
 * `DepthwiseConv2D`: a float `depthwiseConv2d` op (kernel
 * `[kh, kw, cin, depthMultiplier]`); a BatchNorm after it folds in as for a conv.
 */
export const convertDepthwiseConv2D: LayerConverter = (ctx) => {
  const inputs: [string] = [ctx.input()];
  requireChannelsLast(ctx);
  const cfg = ctx.config;
  const dilation = pairOf(ctx, cfg.dilationRate ?? 1, 'dilationRate');
  if (dilation[0] !== 1 || dilation[1] !== 1)
    ctx.fail(`dilationRate ${JSON.stringify(cfg.dilationRate)} is not supported`);
  const { kernel, bias, info } = floatWeights(ctx);
  const { fused: activation, after } = activationOf(ctx);
  const name = after ? `${ctx.layer.name}/linear` : ctx.layer.name;
  const ops: OpSpec[] = [
    {
      op: 'depthwiseConv2d',
      name,
      inputs,
      kernel,
      bias,
      strides: pairOf(ctx, cfg.strides ?? 1, 'strides'),
      padding: paddingOf(ctx),
      activation,
    },
  ];
  if (after) ops.push({ op: after, name: ctx.layer.name, inputs: [name] });
  return { ops, kernel: info };
};

/** `Conv2D` and `TritQuantConv2D`: a `conv2d` op. */
export const convertConv2D: LayerConverter = (ctx) => weighted(ctx, 'conv2d');

/** `Dense` and `TritQuantDense`: a `dense` op. */
export const convertDense: LayerConverter = (ctx) => weighted(ctx, 'dense');
