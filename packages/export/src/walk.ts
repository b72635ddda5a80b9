/**
 * The walk from a built tfjs `LayersModel` to the plain-data graph
 * description of `@trit/runtime`: the model's inputs become `input` ops,
 * then every layer, in the model's topological order, goes through the
 * converter registered for its class (registry.ts), which returns the ops
 * that compute it. The walker owns what is common to every layer: finding
 * the ops that feed it, refusing shared layers and nested models, keeping op
 * names unique, and the error for a class without a converter.
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import type { GraphSpec, OpSpec } from '@trit/runtime';
import type { ConverterContext, ConvertOptions, ExportedLayerInfo } from './converter.js';
import { ExportError } from './errors.js';
import { getLayerConverter, listLayerConverters } from './registry.js';

/** Options of {@link modelToGraph}. */
export interface WalkOptions extends ConvertOptions {
  /** Free JSON information stored in the manifest's `metadata`. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** The graph description of a model and what the walk did. */
export interface WalkResult {
  readonly graph: GraphSpec;
  readonly layers: readonly ExportedLayerInfo[];
  /** Non-fatal findings (the forward check), one line each. */
  readonly warnings: readonly string[];
}

type Config = Record<string, unknown>;

/** `why` about `layer`, as an {@link ExportError} naming the layer and its class. */
function layerError(layer: tf.layers.Layer, why: string): ExportError {
  return new ExportError(
    `export: layer "${layer.name}" (${layer.getClassName()}): ${why}`,
    layer.name,
  );
}

/**
 * A Sequential model keeps its graph (nodes, inputs, outputs) in an inner
 * functional model, which it creates when it is built (or first run).
 */
function functionalOf(outer: tf.LayersModel): tf.LayersModel {
  if (!(outer instanceof tf.Sequential)) return outer;
  const seq = outer as unknown as { model?: tf.LayersModel };
  if (!seq.model) outer.build();
  return seq.model ?? outer;
}

/**
 * Walks a built functional (or sequential) tfjs model into a runtime
 * {@link GraphSpec}, one converter call per layer, ops named after the
 * layers. Throws an {@link ExportError} naming the layer and its class for
 * anything it cannot map exactly: a class without a converter (the message
 * lists the supported ones), a shared layer, a nested model, or whatever a
 * converter refuses (channels-first data, dilation, an unsupported activation).
 */
export function modelToGraph(outer: tf.LayersModel, options: WalkOptions = {}): WalkResult {
  const model = functionalOf(outer);
  const ops: OpSpec[] = [];
  const infos: ExportedLayerInfo[] = [];
  const warnings: string[] = [];
  /** Layer name -> name of the op whose output it is (identity layers point past themselves). */
  const produced = new Map<string, string>();
  const used = new Set<string>();
  const containerNodes = (model as unknown as { containerNodes?: Set<string> }).containerNodes;
  const convertOptions: ConvertOptions = {
    ...(options.check !== undefined ? { check: options.check } : {}),
    ...(options.strict !== undefined ? { strict: options.strict } : {}),
  };

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

  /** The (single) node through which `layer` is part of this model. */
  const nodeOf = (layer: tf.layers.Layer) => {
    const nodes = layer.inboundNodes.filter(
      (_, i) => !containerNodes || containerNodes.has(`${layer.name}_ib-${i}`),
    );
    if (nodes.length === 0) throw layerError(layer, 'is not connected to the model inputs');
    if (nodes.length > 1) {
      throw layerError(
        layer,
        `is applied ${nodes.length} times in this model; shared layers are not supported (the runtime has one op per layer)`,
      );
    }
    return nodes[0]!;
  };

  const contextOf = (layer: tf.layers.Layer): ConverterContext => {
    const inputs = (): string[] => {
      const node = nodeOf(layer);
      return node.inboundLayers.map((src, j) => {
        if ((node.tensorIndices[j] ?? 0) !== 0) {
          throw layerError(
            layer,
            `reads output ${node.tensorIndices[j]} of "${src.name}"; only single-output layers are supported`,
          );
        }
        const op = produced.get(src.name);
        if (op === undefined)
          throw layerError(layer, `its input "${src.name}" was not exported before it`);
        return op;
      });
    };
    return {
      layer,
      className: layer.getClassName(),
      config: layer.getConfig() as Config,
      options: convertOptions,
      inputs,
      input: () => {
        const ins = inputs();
        if (ins.length !== 1) throw layerError(layer, `expects one input, has ${ins.length}`);
        return ins[0]!;
      },
      inputShapes: () =>
        nodeOf(layer).inputTensors.map((t) => t.shape as readonly (number | null)[]),
      fail: (why) => {
        throw layerError(layer, why);
      },
      warn: (message) => {
        warnings.push(message);
      },
    };
  };

  const emitted = new Set<tf.layers.Layer>();
  for (const input of model.inputLayers) {
    const cfg = input.getConfig() as Config;
    const shape = (cfg.batchInputShape as (number | null)[] | undefined)?.slice(1) ?? [];
    if (shape.some((d) => d == null)) {
      throw layerError(
        input,
        `input shape [${shape.join(', ')}] has an undefined dimension; the runtime needs a fixed shape`,
      );
    }
    ops.push({ op: 'input', name: claim(input.name, input.name), shape: shape as number[] });
    produced.set(input.name, input.name);
    infos.push({ name: input.name, className: input.getClassName(), ops: [input.name] });
    emitted.add(input);
  }

  for (const layer of model.layers) {
    if (emitted.has(layer)) continue;
    const cls = layer.getClassName();
    if (layer instanceof tf.LayersModel) {
      throw layerError(
        layer,
        'is a nested model; export the flattened model (one level of layers)',
      );
    }
    const convert = getLayerConverter(cls);
    if (!convert) {
      throw layerError(
        layer,
        `layer class ${cls} is not supported by the export; supported: ${listLayerConverters().join(', ')} ` +
          '(register a converter for it with registerLayerConverter)',
      );
    }
    const result = convert(contextOf(layer));
    for (const op of result.ops) ops.push({ ...op, name: claim(op.name, layer.name) } as OpSpec);
    const output = result.output ?? result.ops[result.ops.length - 1]?.name;
    if (output === undefined) {
      throw layerError(layer, 'its converter returned no ops and no output to read instead');
    }
    produced.set(layer.name, output);
    infos.push({
      name: layer.name,
      className: cls,
      ops: result.ops.map((o) => o.name),
      ...(result.kernel ? { kernel: result.kernel } : {}),
    });
  }

  const outputs = model.outputLayers.map((layer, i) => {
    const op = produced.get(layer.name);
    if (op === undefined) throw layerError(layer, `model output ${i} was not exported`);
    return op;
  });
  const graph: GraphSpec = {
    ops,
    outputs,
    ...(options.metadata ? { metadata: options.metadata } : {}),
  };
  return { graph, layers: infos, warnings };
}
