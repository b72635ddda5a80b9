/**
 * Parsing and serializing the tfjs-layers pieces a quantized layer's config
 * holds (initializers, regularizers, constraints, activations), with the same
 * identifiers and JSON forms as the stock `Conv2D`/`Dense` layers, so that a
 * stock layer's config can be handed to a quantized layer unchanged.
 *
 * tfjs-layers keeps its own `getInitializer`/`getActivation` private; this
 * module goes through the public `tf.serialization.SerializationMap`, where
 * tfjs-layers registers every built-in class under its class name.
 * @internal
 */
import * as tf from '@tensorflow/tfjs';
import type { QuantizerConfig, QuantizerState } from '../quantizer.js';

export type Initializer = ReturnType<typeof tf.initializers.ones>;
export type Regularizer = ReturnType<typeof tf.regularizers.l1l2>;
export type Constraint = ReturnType<typeof tf.constraints.nonNeg>;

/** An activation function object of tfjs-layers (`relu`, `softmax`, ...). */
export interface Activation {
  apply(x: tf.Tensor): tf.Tensor;
  getClassName(): string;
}

/** What a config may hold for an initializer, regularizer or constraint. */
export type SerializableIdentifier =
  | string
  | { className: string; config?: object }
  | { getClassName(): string };

/** Serialized (Keras JSON) form: `{ className, config }`. */
export interface SerializedObject {
  className: string;
  config: tf.serialization.ConfigDict;
}

function lookup(className: string, kind: string, owner: string): tf.serialization.Serializable {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) throw new Error(`${owner}: unknown ${kind} "${className}"`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, {});
}

function deserialize(
  identifier: SerializableIdentifier,
  kind: string,
  owner: string,
  stringToClass: (s: string) => string,
): tf.serialization.Serializable {
  if (typeof identifier === 'string') return lookup(stringToClass(identifier), kind, owner);
  if ('getClassName' in identifier && typeof identifier.getClassName === 'function') {
    return identifier as tf.serialization.Serializable;
  }
  const { className, config } = identifier as { className: string; config?: object };
  if (typeof className !== 'string') {
    throw new Error(
      `${owner}: ${kind} must be a name or { className, config }, got ${JSON.stringify(identifier)}`,
    );
  }
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) throw new Error(`${owner}: unknown ${kind} "${className}"`);
  const [cls, fromConfig] = entry;
  return fromConfig(cls, (config ?? {}) as tf.serialization.ConfigDict);
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** `'glorotUniform'`, `{ className: 'GlorotUniform', config }` or an instance. */
export function toInitializer(identifier: SerializableIdentifier, owner: string): Initializer {
  return deserialize(identifier, 'initializer', owner, capitalize) as Initializer;
}

/** `'l1l2'`, `{ className: 'L1L2', config }`, an instance, or null. */
export function toRegularizer(
  identifier: SerializableIdentifier | null | undefined,
  owner: string,
) {
  if (identifier == null) return null;
  return deserialize(identifier, 'regularizer', owner, (s) =>
    s === 'l1l2' ? 'L1L2' : capitalize(s),
  ) as Regularizer;
}

/** `'nonNeg'`, `{ className: 'NonNeg', config }`, an instance, or null. */
export function toConstraint(identifier: SerializableIdentifier | null | undefined, owner: string) {
  if (identifier == null) return null;
  return deserialize(identifier, 'constraint', owner, capitalize) as Constraint;
}

/** `'relu'`, `'softmax'`, ... (null or undefined: `'linear'`). */
export function toActivation(identifier: string | null | undefined, owner: string): Activation {
  const name = identifier ?? 'linear';
  if (typeof name !== 'string') {
    throw new Error(
      `${owner}: activation must be a name such as "relu", got ${JSON.stringify(identifier)}`,
    );
  }
  return lookup(name, 'activation', owner) as unknown as Activation;
}

/** The Keras JSON form of an initializer, regularizer or constraint (null stays null). */
export function serializeObject(
  obj: tf.serialization.Serializable | null,
): SerializedObject | null {
  if (obj == null) return null;
  return { className: obj.getClassName(), config: obj.getConfig() };
}

/** Activations the fused conv/matMul kernels apply themselves (as tfjs-layers does). */
export function fusedActivation(activation: Activation): 'linear' | 'relu' | 'elu' | null {
  const name = activation.getClassName();
  return name === 'linear' || name === 'relu' || name === 'elu' ? name : null;
}

/** `n` or `[a, b]` to a pair of positive integers, naming the field on error. */
export function toPair(
  value: number | readonly number[] | undefined,
  fallback: number,
  field: string,
  owner: string,
) {
  const v = value ?? fallback;
  const pair = typeof v === 'number' ? [v, v] : [...v];
  if (pair.length === 1) pair.push(pair[0]!);
  if (pair.length !== 2 || !pair.every((x) => Number.isInteger(x) && x > 0)) {
    throw new Error(
      `${owner}: ${field} must be a positive integer or a pair of them, got ${JSON.stringify(value)}`,
    );
  }
  return pair as [number, number];
}

// tfjs-layers saves a model's config with every key and every string value
// converted to snake_case and converts them back to camelCase on loading
// (utils/serialization_utils.ts). These are its two functions.
function toSnakeCase(name: string): string {
  const intermediate = name.replace(/(.)([A-Z][a-z0-9]+)/g, '$1_$2');
  const insecure = intermediate.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
  return insecure[0] !== '_' ? insecure : `private${insecure}`;
}
function toCamelCase(identifier: string): string {
  if (identifier.length <= 1 || !identifier.includes('_')) return identifier;
  return identifier.replace(/[_]+(\w|$)/g, (_m, p1: string) => p1.toUpperCase());
}

/**
 * Throws unless every key and string value of a quantizer's config and state
 * survives tfjs-layers' snake_case/camelCase conversion of saved models
 * (e.g. a key `useL2` or a value `'per_layer'` would come back changed), and
 * every number is finite (JSON cannot hold NaN or Infinity).
 */
export function assertSaveable(
  what: QuantizerConfig | QuantizerState,
  owner: string,
  label: string,
): void {
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      if (toCamelCase(toSnakeCase(value)) !== value) {
        throw new Error(
          `${owner}: ${label} value ${path} = ${JSON.stringify(value)} would not survive model.save(): ` +
            `tfjs-layers stores it as ${JSON.stringify(toSnakeCase(value))} and loads it back as ` +
            `${JSON.stringify(toCamelCase(toSnakeCase(value)))}; use a lowercase or camelCase value`,
        );
      }
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) {
        throw new Error(
          `${owner}: ${label} value ${path} = ${value} cannot be saved (JSON has no NaN/Infinity)`,
        );
      }
    } else if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) visit(v, `${path}[${i}]`);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k !== 'name' && toCamelCase(toSnakeCase(k)) !== k) {
          throw new Error(
            `${owner}: ${label} key "${k}" would not survive model.save() (tfjs-layers stores keys in ` +
              `snake_case and loads them back as "${toCamelCase(toSnakeCase(k))}"); use a camelCase key`,
          );
        }
        visit(v, path ? `${path}.${k}` : k);
      }
    } else if (value !== null && typeof value !== 'boolean' && value !== undefined) {
      throw new Error(
        `${owner}: ${label} value ${path} has type ${typeof value}, which JSON cannot hold`,
      );
    }
  };
  visit(what, '');
}
