/**
 * Mix and match: turn an existing tfjs model into a quantized one, choosing
 * a quantizer per layer with ordered rules.
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { QuantConv2D } from './layers/quant-conv2d.js';
import { QuantDense } from './layers/quant-dense.js';
import { checkFrozenParams, isQuantLayer, type QuantLayerType } from './layers/quant-layer.js';
import type { Quantizer, QuantizerConfig } from './quantizer.js';
import { getQuantizer } from './registry.js';
import { describeValue } from './validation.js';

/** Which layers a rule applies to; every given criterion must hold. */
export interface LayerMatch {
  /**
   * Layer name: a RegExp, a glob string (`*` any run, `?` one character,
   * matched against the whole name, e.g. `'conv*'`), or a regex written as a
   * string between slashes (`'/^block[0-9]+_conv$/i'`).
   */
  readonly name?: RegExp | string;
  /** `'conv'` (Conv2D) or `'dense'` (Dense). */
  readonly type?: QuantLayerType;
  /** The first or last layer (of `type`, when given, else of all Conv2D/Dense layers). */
  readonly position?: 'first' | 'last';
}

/** One rule: layers matching `match` get `quantizer` with `config`. */
export interface QuantRule {
  readonly match: LayerMatch;
  /** Registry name of the quantizer. */
  readonly quantizer: string;
  /** Its options (validated up front). */
  readonly config?: QuantizerConfig;
  /**
   * Its parameters to keep at their initial value in these layers, e.g.
   * `['alpha']` for SQ (the layer's `quantizer.frozenParams`: created
   * non-trainable).
   */
  readonly frozenParams?: readonly string[];
}

/** How to quantize a model's Conv2D and Dense layers. */
export interface QuantAssignment {
  /** Ordered rules; the first rule that matches a layer decides its quantizer. */
  readonly rules?: readonly QuantRule[];
  /** Quantizer of the layers no rule matches. Default `'fp32'`. */
  readonly default?: string;
  /** Options of the default quantizer. */
  readonly defaultConfig?: QuantizerConfig;
  /**
   * Keep the first and the last Conv2D/Dense layer (in a CNN: the first conv
   * and the last dense) at fp32, the usual convention (docs/algorithms.md#what-gets-quantized). Only a
   * rule with an explicit `position` can still quantize them. Default true;
   * set false to quantize them like any other layer (the official TTQ
   * CIFAR code quantizes the last dense layer).
   */
  readonly keepFirstLastFP32?: boolean;
  /**
   * Treat a rule that ends up applied to no layer (it matches none, or only
   * layers taken by earlier rules or kept at fp32) as an error. Default true.
   */
  readonly strict?: boolean;
}

/** What {@link quantizeModel} decided for one layer. */
export interface LayerAssignment {
  /** Layer name. */
  readonly layer: string;
  /** Names of the enclosing nested models and the layer, joined by `/`. */
  readonly path: string;
  readonly type: QuantLayerType;
  /** Registry name of the quantizer. */
  readonly quantizer: string;
  /** Its complete config (defaults filled in). */
  readonly config: QuantizerConfig;
  /** Why: a rule (with `rule`, its index), the default, or the first/last-layer convention. */
  readonly source: 'rule' | 'default' | 'keepFirstLastFP32';
  /** Index of the deciding rule in `rules`. */
  readonly rule?: number;
  /** The quantizer parameters kept at their initial value (the rule's `frozenParams`), when any. */
  readonly frozenParams?: readonly string[];
}

/** A quantized model and the per-layer assignment that produced it. */
export interface QuantizedModel {
  /** The rebuilt model (not compiled). */
  readonly model: tf.LayersModel;
  /** One entry per Conv2D/Dense layer, in model order. */
  readonly assignment: LayerAssignment[];
}

const CONV_CLASSES = new Set(['Conv2D', QuantConv2D.className]);
const DENSE_CLASSES = new Set(['Dense', QuantDense.className]);
const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

interface Candidate {
  readonly layer: tf.layers.Layer;
  readonly containers: readonly string[];
  readonly type: QuantLayerType;
}

function layerType(layer: tf.layers.Layer): QuantLayerType | null {
  const cls = layer.getClassName();
  if (CONV_CLASSES.has(cls)) return 'conv';
  if (DENSE_CLASSES.has(cls)) return 'dense';
  return null;
}

function candidates(model: tf.LayersModel): Candidate[] {
  const out: Candidate[] = [];
  const visit = (m: tf.LayersModel, containers: string[]) => {
    for (const layer of m.layers) {
      if (layer instanceof tf.LayersModel) visit(layer, [...containers, layer.name]);
      else {
        const type = layerType(layer);
        if (type) out.push({ layer, containers, type });
      }
    }
  };
  visit(model, []);
  return out;
}

function describeRule(rule: QuantRule, index: number): string {
  const m = rule.match ?? {};
  const parts = Object.entries(m).map(
    ([k, v]) => `${k}: ${v instanceof RegExp ? String(v) : JSON.stringify(v)}`,
  );
  return `rule ${index} ({ match: { ${parts.join(', ')} }, quantizer: ${JSON.stringify(rule.quantizer)} })`;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

function nameMatcher(pattern: RegExp | string, what: string): (name: string) => boolean {
  let re: RegExp;
  if (pattern instanceof RegExp)
    re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  else if (typeof pattern === 'string') {
    const slashed = /^\/(.*)\/([a-z]*)$/.exec(pattern);
    try {
      re = slashed
        ? new RegExp(slashed[1]!, slashed[2]!.replace(/[gy]/g, ''))
        : globToRegExp(pattern);
    } catch (err) {
      throw new Error(
        `quantizeModel: ${what}: invalid name pattern ${JSON.stringify(pattern)} (${(err as Error).message})`,
      );
    }
  } else {
    throw new Error(
      `quantizeModel: ${what}: match.name must be a RegExp or a string, got ${JSON.stringify(pattern)}`,
    );
  }
  return (name) => re.test(name);
}

function checkKeys(obj: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new Error(
        `quantizeModel: ${what}: unknown key "${key}"; valid keys: ${allowed.join(', ')}`,
      );
    }
  }
}

/** A rule's `frozenParams` (undefined when it has none), or an error naming the rule and the value. */
function ruleFrozenParams(
  rule: QuantRule,
  quantizer: Quantizer,
  what: string,
): readonly string[] | undefined {
  if (rule.frozenParams === undefined) return undefined;
  try {
    const names = checkFrozenParams(rule.frozenParams, quantizer);
    return names.length ? names : undefined;
  } catch (err) {
    throw new Error(`quantizeModel: ${what}: ${(err as Error).message}`);
  }
}

/** A quantizer built from the registry, or an error naming where it came from. */
function resolveQuantizer(
  name: unknown,
  config: QuantizerConfig | undefined,
  what: string,
): Quantizer {
  if (typeof name !== 'string') {
    throw new Error(
      `quantizeModel: ${what}: quantizer must be a registry name, got ${JSON.stringify(name)}`,
    );
  }
  try {
    return getQuantizer(name, config);
  } catch (err) {
    throw new Error(`quantizeModel: ${what}: ${(err as Error).message}`);
  }
}

type ConfigEntry = { className: string; name?: string; config: Record<string, unknown> };

/** Rewrites the layer entries of a (nested) model config in place. */
function rewriteConfig(
  modelConfig: Record<string, unknown>,
  containers: readonly string[],
  decide: (containers: readonly string[], name: string) => LayerAssignment | undefined,
): void {
  const layers = modelConfig.layers as ConfigEntry[] | undefined;
  if (!Array.isArray(layers)) return;
  for (const entry of layers) {
    const name = (entry.config?.name as string | undefined) ?? entry.name;
    if (MODEL_CLASSES.has(entry.className)) {
      rewriteConfig(entry.config, [...containers, name ?? ''], decide);
      continue;
    }
    if (name === undefined) continue;
    const a = decide(containers, name);
    if (!a) continue;
    entry.className = a.type === 'conv' ? QuantConv2D.className : QuantDense.className;
    delete entry.config.rank;
    entry.config.quantizer = {
      name: a.quantizer,
      config: a.config,
      ...(a.frozenParams ? { frozenParams: [...a.frozenParams] } : {}),
    };
  }
}

/** Calls `fn(old, new)` for every pair of same-named leaf layers of two models of the same structure. */
function pairLayers(
  oldModel: tf.LayersModel,
  newModel: tf.LayersModel,
  fn: (oldLayer: tf.layers.Layer, newLayer: tf.layers.Layer) => void,
): void {
  const byName = new Map(newModel.layers.map((l) => [l.name, l]));
  for (const o of oldModel.layers) {
    const n = byName.get(o.name);
    if (!n) throw new Error(`quantizeModel: layer "${o.name}" is missing from the rebuilt model`);
    if (o instanceof tf.LayersModel && n instanceof tf.LayersModel) pairLayers(o, n, fn);
    else fn(o, n);
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Rebuilds a model with every `Conv2D`/`Dense` layer replaced by a
 * {@link QuantConv2D}/{@link QuantDense} with the quantizer the assignment
 * gives it, and copies the weights over: kernels and biases as they are (so a
 * trained full-precision model can be fine-tuned), then each quantizer's
 * parameters re-initialised from the copied kernel (`reinitQuantizerParams`).
 * Layers that already are quantized keep their trained parameters and state
 * when their quantizer and config stay the same.
 *
 * Works on Sequential and functional models (nested models included) through
 * their JSON config. Other layers (BatchNorm, pooling, ...) are copied
 * unchanged. The result is not compiled.
 *
 * @param modelOrBuilder A model (left untouched) or a function building one
 *   (that model is disposed afterwards).
 * @throws on an assignment that is not an object, an unknown quantizer, an invalid config, an invalid rule, or
 *   (with `strict`) a rule applied to no layer, naming the rule.
 *
 * @example
 * const { model, assignment } = quantizeModel(fp32Model, {
 *   rules: [
 *     { match: { type: 'conv' }, quantizer: 'ttq' },
 *     { match: { name: 'fc*' }, quantizer: 'twn', config: { perChannel: true } },
 *   ],
 * });
 */
export function quantizeModel(
  modelOrBuilder: tf.LayersModel | (() => tf.LayersModel),
  assignment: QuantAssignment,
): QuantizedModel {
  const plan = parseAssignment(assignment); // every rule validated before the model is touched
  const model = typeof modelOrBuilder === 'function' ? modelOrBuilder() : modelOrBuilder;
  if (!(model instanceof tf.LayersModel)) {
    throw new Error(
      'quantizeModel: expected a tf.LayersModel (Sequential or functional) or a function returning one',
    );
  }
  try {
    const cands = candidates(model);
    if (cands.length === 0)
      throw new Error('quantizeModel: the model has no Conv2D or Dense layer');
    const decision = assignLayers(cands, plan);
    if (plan.strict) checkEveryRuleApplied(cands, plan, decision);
    const rebuilt = rebuildQuantized(model, decision.assignment);
    try {
      copyWeights(model, rebuilt);
    } catch (err) {
      rebuilt.dispose();
      throw err;
    }
    return { model: rebuilt, assignment: decision.assignment };
  } finally {
    if (typeof modelOrBuilder === 'function') model.dispose();
  }
}

/** A rule checked and resolved: its description for errors, its full config, its name test. */
interface CompiledRule {
  readonly rule: QuantRule;
  readonly what: string;
  readonly config: QuantizerConfig;
  /** `frozenParams`, checked; undefined when the rule has none (or an empty list). */
  readonly frozenParams: readonly string[] | undefined;
  readonly name: ((name: string) => boolean) | null;
}

/** An assignment checked and resolved, before any model is looked at. */
interface AssignmentPlan {
  readonly rules: readonly CompiledRule[];
  readonly keepFirstLastFP32: boolean;
  readonly strict: boolean;
  readonly defaultName: string;
  readonly defaultConfig: QuantizerConfig;
  readonly fp32Config: QuantizerConfig;
}

/** Validates an assignment (its keys, every rule, every quantizer and config), or throws naming the part. */
function parseAssignment(assignment: QuantAssignment): AssignmentPlan {
  if (typeof assignment !== 'object' || assignment === null || Array.isArray(assignment)) {
    throw new Error(
      "quantizeModel: the assignment must be an object such as { default: 'twn' } or " +
        `{ rules: [{ match: { type: 'conv' }, quantizer: 'ttq' }] }, got ${describeValue(assignment)}`,
    );
  }
  checkKeys(
    assignment,
    ['rules', 'default', 'defaultConfig', 'keepFirstLastFP32', 'strict'],
    'assignment',
  );
  const rules = assignment.rules ?? [];
  if (!Array.isArray(rules)) throw new Error('quantizeModel: assignment.rules must be an array');
  const keepFirstLastFP32 = assignment.keepFirstLastFP32 ?? true;
  const strict = assignment.strict ?? true;
  const defaultName = assignment.default ?? 'fp32';
  const defaultConfig = resolveQuantizer(
    defaultName,
    assignment.defaultConfig,
    'default quantizer',
  ).getConfig();
  const fp32Config = resolveQuantizer('fp32', undefined, 'fp32').getConfig();
  return {
    rules: rules.map(compileRule),
    keepFirstLastFP32,
    strict,
    defaultName,
    defaultConfig,
    fp32Config,
  };
}

function compileRule(rule: QuantRule, i: number): CompiledRule {
  if (
    typeof rule !== 'object' ||
    rule === null ||
    typeof rule.match !== 'object' ||
    rule.match === null
  ) {
    throw new Error(
      `quantizeModel: rule ${i} must be { match: {...}, quantizer, config?, frozenParams? }, got ${describeValue(rule)}`,
    );
  }
  const what = describeRule(rule, i);
  checkKeys(rule, ['match', 'quantizer', 'config', 'frozenParams'], what);
  checkKeys(rule.match, ['name', 'type', 'position'], what);
  const { name, type, position } = rule.match;
  if (type !== undefined && type !== 'conv' && type !== 'dense') {
    throw new Error(
      `quantizeModel: ${what}: match.type must be "conv" or "dense", got ${JSON.stringify(type)}`,
    );
  }
  if (position !== undefined && position !== 'first' && position !== 'last') {
    throw new Error(
      `quantizeModel: ${what}: match.position must be "first" or "last", got ${JSON.stringify(position)}`,
    );
  }
  const quantizer = resolveQuantizer(rule.quantizer, rule.config, what);
  const config = quantizer.getConfig();
  const frozenParams = ruleFrozenParams(rule, quantizer, what);
  return {
    rule,
    what,
    config,
    frozenParams,
    name: name === undefined ? null : nameMatcher(name, what),
  };
}

/** What {@link assignLayers} decided, and what {@link checkEveryRuleApplied} needs to explain it. */
interface LayerDecision {
  /** One entry per candidate, in model order. */
  readonly assignment: LayerAssignment[];
  /** Per rule: the candidates it matches. */
  readonly matches: readonly Candidate[][];
  /** Per rule: whether it decided at least one layer. */
  readonly applied: readonly boolean[];
  /** The first and last candidates when `keepFirstLastFP32`. */
  readonly kept: ReadonlySet<Candidate>;
}

/**
 * The quantizer of every candidate: the first matching rule's (a kept
 * first/last layer only by a rule with a `position`), else fp32 for a kept
 * layer, else the default.
 */
function assignLayers(cands: readonly Candidate[], plan: AssignmentPlan): LayerDecision {
  const isEnd = (c: Candidate, position: 'first' | 'last', type?: QuantLayerType) => {
    const pool = type ? cands.filter((x) => x.type === type) : cands;
    return (position === 'first' ? pool[0] : pool[pool.length - 1]) === c;
  };
  const kept = new Set<Candidate>(
    plan.keepFirstLastFP32 ? [cands[0]!, cands[cands.length - 1]!] : [],
  );
  const matches = plan.rules.map((r) =>
    cands.filter(
      (c) =>
        (!r.name || r.name(c.layer.name)) &&
        (!r.rule.match.type || r.rule.match.type === c.type) &&
        (!r.rule.match.position || isEnd(c, r.rule.match.position, r.rule.match.type)),
    ),
  );
  const applied = plan.rules.map(() => false);
  const assignment = cands.map((c): LayerAssignment => {
    const isKept = kept.has(c);
    const ruleIndex = plan.rules.findIndex(
      (r, i) => matches[i]!.includes(c) && (!isKept || r.rule.match.position !== undefined),
    );
    const base = {
      layer: c.layer.name,
      path: [...c.containers, c.layer.name].join('/'),
      type: c.type,
    };
    if (ruleIndex >= 0) {
      const r = plan.rules[ruleIndex]!;
      applied[ruleIndex] = true;
      return {
        ...base,
        quantizer: r.rule.quantizer,
        config: r.config,
        source: 'rule',
        rule: ruleIndex,
        ...(r.frozenParams ? { frozenParams: r.frozenParams } : {}),
      };
    }
    if (isKept)
      return { ...base, quantizer: 'fp32', config: plan.fp32Config, source: 'keepFirstLastFP32' };
    return { ...base, quantizer: plan.defaultName, config: plan.defaultConfig, source: 'default' };
  });
  return { assignment, matches, applied, kept };
}

/** `strict`: a rule that decided no layer is an error saying why (no match, kept layers, shadowed). */
function checkEveryRuleApplied(
  cands: readonly Candidate[],
  plan: AssignmentPlan,
  { matches, applied, kept }: LayerDecision,
): void {
  plan.rules.forEach((r, i) => {
    if (applied[i]) return;
    const layerList = cands.map((c) => `${c.layer.name} (${c.type})`).join(', ');
    const m = matches[i]!;
    if (m.length === 0) {
      throw new Error(
        `quantizeModel: ${r.what} matches no Conv2D/Dense layer; the layers are: ${layerList}`,
      );
    }
    const names = m.map((c) => c.layer.name).join(', ');
    if (m.every((c) => kept.has(c))) {
      throw new Error(
        `quantizeModel: ${r.what} matches only ${names}, which keepFirstLastFP32 keeps at fp32; ` +
          'target it with match.position, or set keepFirstLastFP32: false',
      );
    }
    throw new Error(
      `quantizeModel: ${r.what} is shadowed: the layers it matches (${names}) are taken by earlier rules`,
    );
  });
}

/** A new model from `model`'s config with every assigned layer swapped for its quantized class. */
function rebuildQuantized(
  model: tf.LayersModel,
  assignment: readonly LayerAssignment[],
): tf.LayersModel {
  const byPath = new Map(assignment.map((a) => [a.path, a]));
  const config = JSON.parse(JSON.stringify(model.getConfig())) as Record<string, unknown>;
  rewriteConfig(config, [], (containers, name) => byPath.get([...containers, name].join('/')));
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[model.getClassName()];
  if (!entry)
    throw new Error(`quantizeModel: cannot rebuild a model of class ${model.getClassName()}`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, config as tf.serialization.ConfigDict) as unknown as tf.LayersModel;
}

/**
 * Copies the weights of `model` into its quantized rebuild: other layers'
 * as they are; a quantized layer's kernel and bias, then its quantizer's
 * parameters and state when the quantizer and config are unchanged, else
 * re-initialised from the copied kernel.
 */
function copyWeights(model: tf.LayersModel, rebuilt: tf.LayersModel): void {
  pairLayers(model, rebuilt, (oldLayer, newLayer) => {
    if (!oldLayer.built || oldLayer.weights.length === 0) return;
    if (!isQuantLayer(newLayer)) {
      newLayer.setWeights(oldLayer.getWeights());
      return;
    }
    if (!newLayer.built) return;
    const kernel = isQuantLayer(oldLayer) ? oldLayer.kernel!.read() : oldLayer.getWeights()[0]!;
    newLayer.kernel!.write(kernel);
    if (newLayer.bias) {
      const bias = isQuantLayer(oldLayer) ? oldLayer.bias?.read() : oldLayer.getWeights()[1];
      if (bias) newLayer.bias.write(bias);
    }
    const sameQuantizer =
      isQuantLayer(oldLayer) &&
      oldLayer.quantizer.name === newLayer.quantizer.name &&
      sameJson(oldLayer.quantizer.getConfig(), newLayer.quantizer.getConfig());
    if (sameQuantizer) {
      for (const [name, v] of Object.entries(oldLayer.paramVariables))
        newLayer.paramVariables[name]!.write(v.read());
      newLayer.quantizer.setState(oldLayer.quantizer.getState());
    } else {
      newLayer.reinitQuantizerParams();
    }
  });
}
