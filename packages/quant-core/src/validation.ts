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
 * Throws a clear error if the kernel holds NaN or ±Infinity. Costs one
 * reduction and a one-element read, so quantizers call it every forward pass.
 */
export function assertFiniteKernel(w: tf.Tensor, owner: string): void {
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
