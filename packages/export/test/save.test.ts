/**
 * saveExport: a folder or a `.json` path, round trip through
 * `loadModelFromDir`, and nothing half-written when the model is bad.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import '@trit/twn';
import * as tf from '@tensorflow/tfjs';
import { quantizeModel } from '@trit/quant-core';
import { loadModelFromDir } from '@trit/runtime/node';
import { afterAll, describe, expect, it } from 'vitest';
import { exportModel } from '../src/index.js';
import { saveExport } from '../src/node.js';
import { uniform } from './helpers.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'trit-export-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function exported() {
  const base = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [6],
        units: 8,
        activation: 'relu',
        name: 'h',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.dense({
        units: 8,
        name: 'q',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
      tf.layers.dense({
        units: 3,
        name: 'out',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
      }),
    ],
  });
  return exportModel(quantizeModel(base, { default: 'twn' }).model);
}

describe('saveExport', () => {
  const result = exported();
  const x = uniform(5, 4 * 6);

  it('into a folder: model.json + model.bin that load back to the same outputs', async () => {
    const dir = path.join(tempDir(), 'out');
    const saved = await saveExport(dir, result);
    expect(saved).toEqual({
      manifestPath: path.join(dir, 'model.json'),
      binaryPath: path.join(dir, 'model.bin'),
      bytes: result.binary.length,
    });
    expect(readdirSync(dir).sort()).toEqual(['model.bin', 'model.json']);
    expect(JSON.parse(readFileSync(saved.manifestPath, 'utf8'))).toEqual(result.manifest);
    expect(new Uint8Array(readFileSync(saved.binaryPath))).toEqual(result.binary);
    const loaded = await loadModelFromDir(dir);
    expect(loaded.manifest.ops.find((o) => o.name === 'q')).toMatchObject({
      kernel: { encoding: 'ternary', quantizer: 'twn' },
    });
    const { decodeModel } = await import('@trit/runtime');
    const direct = decodeModel(result.manifest, result.binary).predict({ shape: [4, 6], data: x });
    expect(loaded.predict({ shape: [4, 6], data: x }).data).toEqual(direct.data);
  });

  it('to a .json path: <name>.json + <name>.bin, the manifest naming its binary', async () => {
    const dir = tempDir();
    const saved = await saveExport(path.join(dir, 'net.json'), result, { pretty: true });
    expect(readdirSync(dir).sort()).toEqual(['net.bin', 'net.json']);
    const text = readFileSync(saved.manifestPath, 'utf8');
    expect(text).toContain('\n  "format": "trit-model"');
    expect(JSON.parse(text).binary.file).toBe('net.bin');
    const loaded = await loadModelFromDir(dir, { name: 'net' });
    expect(loaded.outputs).toEqual([{ name: 'out', shape: [3] }]);
  });

  it('writes nothing when the model would not load: previous files stay, no temporary files', async () => {
    const dir = tempDir();
    await saveExport(dir, result);
    const before = [
      readFileSync(path.join(dir, 'model.json')),
      readFileSync(path.join(dir, 'model.bin')),
    ];
    const corrupt = new Uint8Array(result.binary);
    corrupt[0] = corrupt[0]! ^ 0xff;
    await expect(saveExport(dir, { manifest: result.manifest, binary: corrupt })).rejects.toThrow(
      /saveModel: not writing .*model\.json: the model would not load: .*crc/i,
    );
    expect(readdirSync(dir).sort()).toEqual(['model.bin', 'model.json']);
    expect(readFileSync(path.join(dir, 'model.json'))).toEqual(before[0]);
    expect(readFileSync(path.join(dir, 'model.bin'))).toEqual(before[1]);
    // A folder that does not exist yet is not even created.
    const fresh = path.join(dir, 'never');
    await expect(
      saveExport(fresh, { manifest: result.manifest, binary: corrupt }),
    ).rejects.toThrow();
    expect(readdirSync(dir)).not.toContain('never');
  });

  it("lives in @trit/export/node: no module of the main entry imports Node.js or the runtime's node helpers", () => {
    const src = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'src');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && f !== 'node.ts',
    );
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(path.join(src, f), 'utf8');
      expect(text, f).not.toMatch(/from 'node:|@trit\/runtime\/node|from '\.\/node\.js'/);
    }
  });

  it('refuses an empty target', async () => {
    await expect(saveExport('', result)).rejects.toThrow(
      /target must be a folder or a \.json path/,
    );
  });
});
