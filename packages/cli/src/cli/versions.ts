import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Versions of the packages a result depends on, for results.json. */
export function packageVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = { node: process.version };
  for (const name of [
    '@trit/cli',
    '@trit/quant-core',
    '@trit/twn',
    '@trit/ttq',
    '@trit/smart-quant',
    '@trit/hyperspherical',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-layers',
    '@tensorflow/tfjs-node',
  ]) {
    try {
      out[name] = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;
    } catch {
      // not installed
    }
  }
  return out;
}
