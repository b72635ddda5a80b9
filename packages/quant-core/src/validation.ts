import * as tf from '@tensorflow/tfjs';
import type { QuantizerConfig } from './quantizer.js';

/** Range rule for one numeric option. Bounds are inclusive unless `exclusive*` is set. */
export interface NumberRule {
  readonly min?: number;
  readonly max?: number;
  readonly exclusiveMin?: boolean;
  readonly exclusiveMax?: boolean;
  readonly integer?: boolean;
}

/**
 * Fills defaults into a quantizer config and checks every field: unknown keys,
 * wrong types and out-of-range numbers are errors naming the quantizer, the
 * field and the value.
 */
export function resolveConfig<C extends QuantizerConfig>(
  quantizer: string,
  defaults: C,
  given: QuantizerConfig | undefined,
  rules: { readonly [K in keyof C]?: NumberRule | readonly unknown[] },
): C {
  checkConfigObject(quantizer, given);
  const out: QuantizerConfig = { ...defaults };
  for (const [key, value] of Object.entries(given ?? {})) {
    if (!(key in defaults)) {
      throw new Error(
        `${quantizer}: unknown option "${key}"; valid options: ${Object.keys(defaults).join(', ') || '(none)'}`,
      );
    }
    if (value === undefined) continue;
    const expected = typeof defaults[key];
    if (typeof value !== expected) {
      throw new Error(
        `${quantizer}: option "${key}" must be a ${expected}, got ${JSON.stringify(value)}`,
      );
    }
    const rule = rules[key as keyof C];
    if (Array.isArray(rule)) {
      if (!rule.includes(value)) {
        throw new Error(
          `${quantizer}: option "${key}" must be one of ${rule.map((r) => JSON.stringify(r)).join(', ')}, got ${JSON.stringify(value)}`,
        );
      }
    } else if (rule && typeof value === 'number') {
      checkNumber(quantizer, key, value, rule as NumberRule);
    }
    out[key] = value;
  }
  return out as C;
}

/**
 * Throws unless `config` is `undefined` or a plain object of options: a
 * number, string, array, `null` or class instance would otherwise be read as
 * "no options" (`Object.entries(5)` is empty) or as options named "0", "1", ...
 */
export function checkConfigObject(owner: string, config: unknown): void {
  if (config === undefined) return;
  const proto = typeof config === 'object' && config !== null && Object.getPrototypeOf(config);
  if (proto !== Object.prototype && proto !== null) {
    throw new Error(
      `${owner}: the config must be an object of options such as { threshold: 0.05 } (or undefined), got ${describeValue(config)}`,
    );
  }
}

/** A short description of a value for error messages (`null`, `5`, `"x"`, `an array`, `a Map`). */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `an array (${JSON.stringify(value).slice(0, 40)})`;
  if (typeof value === 'function') return `a function`;
  if (typeof value === 'object' && value !== null) {
    const name = Object.getPrototypeOf(value)?.constructor?.name;
    if (name && name !== 'Object') return `a ${name}`;
  }
  if (typeof value === 'bigint') return `${value}n`;
  const json = typeof value === 'symbol' ? undefined : JSON.stringify(value);
  return json === undefined ? String(value) : json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** Throws if `value` breaks `rule`, naming the option. */
export function checkNumber(owner: string, field: string, value: number, rule: NumberRule): void {
  const bad = (why: string) => new Error(`${owner}: option "${field}" ${why}, got ${value}`);
  if (!Number.isFinite(value)) throw bad('must be a finite number');
  if (rule.integer && !Number.isInteger(value)) throw bad('must be an integer');
  if (rule.min !== undefined && (rule.exclusiveMin ? value <= rule.min : value < rule.min)) {
    throw bad(`must be ${rule.exclusiveMin ? '>' : '>='} ${rule.min}`);
  }
  if (rule.max !== undefined && (rule.exclusiveMax ? value >= rule.max : value > rule.max)) {
    throw bad(`must be ${rule.exclusiveMax ? '<' : '<='} ${rule.max}`);
  }
}

/**
 * Throws a clear error unless `w` is a float32 tensor: quantizers compute in
 * float32, and an int32 kernel would otherwise fail deep inside a backend
 * (`IsFinite` of int32 on the native backend) or be quantized differently on
 * each backend. A host-side check, no device op.
 */
export function assertKernelTensor(w: unknown, owner: string): asserts w is tf.Tensor {
  const t = w as tf.Tensor | null | undefined;
  if (
    typeof t !== 'object' ||
    t === null ||
    typeof t.dtype !== 'string' ||
    !Array.isArray(t.shape)
  ) {
    throw new Error(`${owner}: the kernel must be a float32 tf.Tensor, got ${describeValue(w)}`);
  }
  if (t.isDisposed) throw new Error(`${owner}: the kernel tensor is disposed`);
  if (t.dtype !== 'float32') {
    throw new Error(
      `${owner}: the kernel must be a float32 tensor, got ${t.dtype} (shape [${t.shape.join(', ')}]); ` +
        "cast it first: tf.cast(kernel, 'float32')",
    );
  }
}

/**
 * Throws a clear error if the kernel is not a float32 tensor
 * ({@link assertKernelTensor}) or holds NaN or ±Infinity. Costs one
 * reduction and a one-element read, so quantizers call it every forward pass.
 */
export function assertFiniteKernel(w: tf.Tensor, owner: string): void {
  assertKernelTensor(w, owner);
  const bad = tf.tidy(() => tf.logicalNot(tf.all(tf.isFinite(w))).dataSync()[0]);
  if (bad) {
    const values = w.dataSync();
    const index = values.findIndex((v) => !Number.isFinite(v));
    throw new Error(
      `${owner}: the kernel (shape [${w.shape.join(', ')}]) contains ${values[index]} at flat index ${index}; ` +
        'training has diverged or the weights are corrupt',
    );
  }
}
