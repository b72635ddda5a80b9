/**
 * The `setup-native` command that the native-backend fallback message names
 * (`npx @trit/quant-core setup-native`): shipped as the package's only bin, so
 * `npx` runs it in any project that installed the package. scripts/check-consumer.mjs
 * runs it in a scratch project outside the repository, with a packed tarball.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
  files: string[];
};
const bin = path.join(pkgDir, Object.values(pkg.bin)[0]!);
// A folder outside the repository: the command must find tfjs-node through the package, not the cwd.
const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'trit-setup-native-'));

afterAll(() => rmSync(elsewhere, { recursive: true, force: true }));

function run(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: elsewhere, encoding: 'utf8' });
}

/** Whether the tfjs-node binding loads at all on this machine (checked in a child process). */
function nativeBindingLoads(): boolean {
  const dir = createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(dir)})`], {
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  return r.status === 0;
}

describe('npx @trit/quant-core setup-native', () => {
  it('is the one bin of the published package, so npx runs it', () => {
    expect(Object.keys(pkg.bin)).toHaveLength(1);
    expect(pkg.files).toContain('bin');
    accessSync(bin, constants.X_OK);
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('is the command the cpu fallback message tells the user to run', async () => {
    const info = await initBackend({
      quiet: true,
      loadNative: async () => {
        throw new Error("Cannot find package '@tensorflow/tfjs-node'");
      },
    });
    expect(info.fallbackReason).toContain(`npx ${pkg.name} setup-native`);
    expect(info.fallbackReason).not.toContain('trit checkout');
  });

  it('prints its usage with --help', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: npx @trit/quant-core <command> [options]');
    expect(r.stdout).toContain('--wheel-only');
  });

  it('rejects a missing or unknown command and unknown options, naming them', () => {
    expect(run().stderr).toContain('trit-quant-core: no command given');
    const unknown = run('setup-natvie');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command "setup-natvie"');
    const option = run('setup-native', '--chek');
    expect(option.status).toBe(2);
    expect(option.stderr).toContain("Unknown option '--chek'");
  });

  it('--check reports whether the tfjs-node that the package resolves loads, from any folder', () => {
    const r = run('setup-native', '--check');
    const manifest = createRequire(import.meta.url).resolve('@tensorflow/tfjs-node/package.json');
    const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
    expect(r.stdout).toContain(`@tensorflow/tfjs-node ${version} in ${path.dirname(manifest)}`);
    if (nativeBindingLoads()) {
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/OK: native backend loads \(TensorFlow 2\.\d+\.\d+\)/);
    } else {
      expect(r.status).toBe(1);
      expect(r.stdout).toContain('FAILED: native backend does not load');
    }
  });
});
