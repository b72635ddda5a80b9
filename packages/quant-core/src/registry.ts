import type { Quantizer, QuantizerConfig } from './quantizer.js';
import { checkConfigObject, describeValue } from './validation.js';

/** Builds a quantizer from a (partial) configuration, filling defaults and validating. */
export type QuantizerFactory = (config?: QuantizerConfig) => Quantizer;

/** What the registry knows of a quantizer besides its factory. */
export interface QuantizerInfo {
  /** Registry name. */
  readonly name: string;
  /** One line for tables and `--help`. */
  readonly description: string;
  /** Paper reference, e.g. `Zhu et al., ICLR 2017, arXiv:1612.01064`. */
  readonly paper?: string;
}

interface Entry extends QuantizerInfo {
  readonly factory: QuantizerFactory;
}

// One registry per process; algorithm packages peer-depend on quant-core so
// they all register here.
const registry = new Map<string, Entry>();

const NAME = /^[a-z][a-z0-9-]*$/;

/**
 * Adds a quantizer to the registry. Algorithm packages call this on import.
 * Registering the same name twice with a different factory is an error;
 * re-registering the same factory (a module evaluated twice) is a no-op.
 */
export function registerQuantizer(info: QuantizerInfo, factory: QuantizerFactory): void {
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw new Error(
      `registerQuantizer: info must be { name, description, paper? }, got ${describeValue(info)}`,
    );
  }
  if (typeof info.name !== 'string' || !NAME.test(info.name)) {
    throw new Error(
      `registerQuantizer: invalid name ${describeValue(info.name)} (use lowercase letters, digits and '-')`,
    );
  }
  if (typeof info.description !== 'string') {
    throw new Error(
      `registerQuantizer: "${info.name}": description must be a string, got ${describeValue(info.description)}`,
    );
  }
  if (info.paper !== undefined && typeof info.paper !== 'string') {
    throw new Error(
      `registerQuantizer: "${info.name}": paper must be a string when given, got ${describeValue(info.paper)}`,
    );
  }
  if (typeof factory !== 'function') {
    throw new Error(
      `registerQuantizer: "${info.name}": the factory must be a function (config) => Quantizer, got ${describeValue(factory)}`,
    );
  }
  const existing = registry.get(info.name);
  if (existing && existing.factory !== factory) {
    throw new Error(
      `registerQuantizer: a different quantizer is already registered as "${info.name}"`,
    );
  }
  const { name, description, paper } = info;
  registry.set(name, { name, description, ...(paper === undefined ? {} : { paper }), factory });
}

/**
 * Makes a new quantizer instance by name. A name that is not a registered
 * one, a config that is not a plain object of options (a number, an array, a
 * string), and invalid options throw, naming the quantizer and the value.
 */
export function getQuantizer(name: string, config?: QuantizerConfig): Quantizer {
  if (typeof name !== 'string') {
    throw new Error(
      `getQuantizer: the name must be a registry name such as "ttq", got ${describeValue(name)}; ` +
        `registered: ${listQuantizers().join(', ') || '(none)'}`,
    );
  }
  const entry = registry.get(name);
  if (!entry) {
    const known = listQuantizers();
    throw new Error(
      `unknown quantizer "${name}"; registered: ${known.length ? known.join(', ') : '(none)'}. ` +
        'Algorithm packages register on import, e.g. `import "@trit/ttq"`.',
    );
  }
  checkConfigObject(name, config);
  return entry.factory(config);
}

/** Names of all registered quantizers, in registration order. */
export function listQuantizers(): string[] {
  return [...registry.keys()];
}

/** Description and paper of a registered quantizer. */
export function quantizerInfo(name: string): QuantizerInfo {
  const entry = registry.get(name);
  if (!entry) getQuantizer(name); // throws the standard error
  const { factory: _factory, ...info } = entry!;
  return info;
}
