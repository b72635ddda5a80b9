/**
 * The layer-converter registry, keyed by tfjs class name (`getClassName()`),
 * as quant-core's quantizer registry is keyed by quantizer name. The built-in
 * converters register when the package is imported; an app registers its own
 * layer classes (e.g. a custom shortcut layer) the same way.
 * @packageDocumentation
 */
import type { LayerConverter } from './converter.js';

// One registry per process.
const registry = new Map<string, LayerConverter>();

function describe(v: unknown): string {
  const s = typeof v === 'function' ? 'a function' : JSON.stringify(v);
  return s === undefined ? String(v) : s;
}

/**
 * Registers the converter of layers whose `getClassName()` is `className`.
 * Registering a different converter under a name already taken is an error
 * (pass `{ replace: true }` to override a built-in on purpose); registering
 * the same converter again (a module evaluated twice) is a no-op.
 */
export function registerLayerConverter(
  className: string,
  converter: LayerConverter,
  options: { readonly replace?: boolean } = {},
): void {
  if (typeof className !== 'string' || className.length === 0) {
    throw new Error(
      `registerLayerConverter: className must be a tfjs layer class name, got ${describe(className)}`,
    );
  }
  if (typeof converter !== 'function') {
    throw new Error(
      `registerLayerConverter: "${className}": the converter must be a function (ctx) => { ops }, got ${describe(converter)}`,
    );
  }
  const existing = registry.get(className);
  if (existing && existing !== converter && !options.replace) {
    throw new Error(
      `registerLayerConverter: a different converter is already registered for "${className}" ` +
        '(pass { replace: true } to override it)',
    );
  }
  registry.set(className, converter);
}

/** The converter registered for `className`, or undefined. */
export function getLayerConverter(className: string): LayerConverter | undefined {
  return registry.get(className);
}

/** Layer class names with a converter, in registration order. */
export function listLayerConverters(): string[] {
  return [...registry.keys()];
}
