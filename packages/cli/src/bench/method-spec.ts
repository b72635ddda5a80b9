import { getQuantizer, listQuantizers, type QuantizerConfig } from '@trit/quant-core';
import type { StudyFile } from './study.js';

/**
 * One benchmark method: a registered quantizer, optionally with options, so a
 * sweep can put variants of one algorithm side by side:
 * `ttq`, `ttq:init=mean`, `sq:lambda=0.001:gamma=2`. The whole string is the
 * method's label in tables, reports and run folders.
 */
export interface MethodSpec {
  /** The method as written, e.g. `ttq:init=mean`: its name in every output. */
  readonly label: string;
  /** The registered quantizer, e.g. `ttq`. */
  readonly quantizer: string;
  /** Options from the label; they override the preset's `quantizerConfigs` for this quantizer. */
  readonly options: QuantizerConfig;
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `true`/`false` as booleans, numbers as numbers, anything else as a string. */
function parseValue(raw: string): string | number | boolean {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  const n = Number(raw);
  return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
}

/** Parses `name[:key=value]...`; malformed labels are errors naming the label and the part. */
export function parseMethod(label: string): MethodSpec {
  const [quantizer = '', ...parts] = label.split(':');
  if (!quantizer) throw new Error(`method "${label}": no quantizer name before the options`);
  const options: Record<string, string | number | boolean> = {};
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || !KEY.test(key) || eq === part.length - 1) {
      throw new Error(
        `method "${label}": option "${part}" is not key=value (write e.g. ${quantizer}:threshold=0.1)`,
      );
    }
    if (key in options) throw new Error(`method "${label}": option "${key}" is given twice`);
    options[key] = parseValue(part.slice(eq + 1));
  }
  return { label, quantizer, options };
}

/**
 * The quantizer and the full config a method trains with: the preset's
 * `quantizerConfigs` for the quantizer, overridden by the label's options.
 * Unknown quantizers and bad options fail here, naming the method.
 */
export function resolveMethod(
  label: string,
  preset: Pick<StudyFile, 'quantizerConfigs'>,
): { spec: MethodSpec; config: QuantizerConfig } {
  const spec = parseMethod(label);
  const config = { ...(preset.quantizerConfigs?.[spec.quantizer] ?? {}), ...spec.options };
  if (!listQuantizers().includes(spec.quantizer)) {
    getQuantizer(spec.quantizer); // the registry's standard error, listing what is registered
  }
  try {
    getQuantizer(spec.quantizer, config);
  } catch (err) {
    if (label === spec.quantizer) throw err;
    throw new Error(`method "${label}": ${(err as Error).message}`);
  }
  return { spec, config };
}
