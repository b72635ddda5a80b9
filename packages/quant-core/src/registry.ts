import type { Quantizer, QuantizerConfig } from './quantizer.js';

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
  if (!NAME.test(info.name)) {
    throw new Error(
      `registerQuantizer: invalid name "${info.name}" (use lowercase letters, digits and '-')`,
    );
  }
  const existing = registry.get(info.name);
  if (existing && existing.factory !== factory) {
    throw new Error(
      `registerQuantizer: a different quantizer is already registered as "${info.name}"`,
    );
  }
  registry.set(info.name, { ...info, factory });
}

/** Makes a new quantizer instance by name. Unknown names and invalid configs throw. */
export function getQuantizer(name: string, config?: QuantizerConfig): Quantizer {
  const entry = registry.get(name);
  if (!entry) {
    const known = listQuantizers();
    throw new Error(
      `unknown quantizer "${name}"; registered: ${known.length ? known.join(', ') : '(none)'}. ` +
        'Algorithm packages register on import, e.g. `import "@trit/ttq"`.',
    );
  }
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
