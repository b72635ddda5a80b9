import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStudyFile } from './study.js';

/**
 * The built-in studies ("presets"): the study files shipped in the package's
 * `studies/` folder, by name. `trit bench --preset NAME` runs
 * `studies/NAME.json`; `--study FILE` runs any other.
 */
export const STUDIES_DIR = fileURLToPath(new URL('../../studies/', import.meta.url));

/** The names of the built-in studies, in a fixed order (the cheapest first). */
export function presetNames(): string[] {
  const order = ['smoke', 'quick'];
  const names = readdirSync(STUDIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length));
  return [
    ...order.filter((n) => names.includes(n)),
    ...names.filter((n) => !order.includes(n)).sort(),
  ];
}

/** The raw study file of a built-in preset; unknown names are an error listing the presets. */
export function presetFile(name: string): string {
  if (!presetNames().includes(name))
    throw new Error(`unknown preset "${name}"; presets: ${presetNames().join(', ')}`);
  return path.join(STUDIES_DIR, `${name}.json`);
}

/** A built-in preset as a raw study (validate with `resolveStudy`). */
export function getPreset(name: string): Record<string, unknown> {
  return readStudyFile(presetFile(name));
}
