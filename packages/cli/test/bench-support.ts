// Shared helpers of the training, bench, report and CLI tests (not a test file).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs';
import { quantizeModel } from '@trit/quant-core';
import '@trit/twn';
import '@trit/ttq';
import '@trit/smart-quant';
import '@trit/hyperspherical';
import { getPreset } from '../src/bench/presets.js';
import type { Study } from '../src/bench/study.js';
import { applyOverrides, type StudyOverrides } from '../src/cli/bench-command.js';
import { resnetCifar } from '../src/models/resnet-cifar.js';
import { procStat } from '../src/process-info.js';
import { syntheticData } from '../src/training/synthetic-data.js';
import type { EpochRecord, TrainData } from '../src/training/train.js';

export const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(PACKAGE_DIR, 'dist', 'cli.js');

export function tempDir(prefix = 'trit-bench-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/**
 * The smoke preset with `trit bench`-style overrides, as the (unchecked) study
 * `runBench` takes: it checks the study itself, so bad methods reject there.
 */
export function smokeStudy(
  overrides: StudyOverrides = {},
  patch: Record<string, unknown> = {},
): Study {
  return { ...applyOverrides(getPreset('smoke'), overrides), ...patch } as unknown as Study;
}

/** 48 training and 24 test images of 8x8x3, 3 classes: 3 steps of 16 per epoch. */
export function tinyData(): TrainData {
  return syntheticData({ size: 8, numClasses: 3, numTrain: 48, numTest: 24, seed: 3 });
}

/** A ResNet-8 with 4/4/8 channels for 8x8 inputs, every conv/dense layer quantized by `method` (first/last kept FP32). */
export function tinyModel(method: string, seed = 1): tf.LayersModel {
  const base = resnetCifar({
    depth: 8,
    widths: [4, 4, 8],
    inputShape: [8, 8, 3],
    numClasses: 3,
    seed,
  });
  const { model } = quantizeModel(base, { default: method });
  base.dispose();
  return model;
}

/** An epoch record without its timing fields (which differ between identical runs). */
export function withoutTiming(history: readonly EpochRecord[]) {
  return history.map(({ imagesPerSecond: _i, seconds: _s, evalSeconds: _e, ...rest }) => rest);
}

/** Values of every model variable, in order. */
export function weightValues(model: tf.LayersModel): number[][] {
  return model.weights.map((w) => Array.from(w.read().dataSync()));
}

/**
 * The CLI tests run the built `dist/cli.js` (what users run). Fails with a clear
 * message when it is missing or older than the sources.
 */
export function assertCliBuilt(): void {
  let built: number;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    throw new Error(
      `${CLI} is missing: build the package first (npx tsc -p tsconfig.build.json in packages/cli)`,
    );
  }
  const newer: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && statSync(p).mtimeMs > built)
        newer.push(path.relative(PACKAGE_DIR, p));
    }
  };
  walk(path.join(PACKAGE_DIR, 'src'));
  if (newer.length) {
    throw new Error(
      `dist/cli.js is older than ${newer.slice(0, 3).join(', ')}${newer.length > 3 ? ', ...' : ''}: ` +
        'rebuild first (npx tsc -p tsconfig.build.json in packages/cli)',
    );
  }
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `trit <args>` in a child process. */
export function runCli(
  args: readonly string[],
  options: { cwd?: string; timeoutMs?: number; uid?: number; gid?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? PACKAGE_DIR,
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: options.uid,
      gid: options.gid,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * A process that sleeps until killed (add it to `children` to kill it after
 * the test), with its start time as /proc records it (Linux): a stand-in for
 * another trit bench holding a folder's lock.
 */
export async function sleeper(
  children: ChildProcess[],
): Promise<{ pid: number; startTicks?: string }> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(child);
  await new Promise((resolve) => child.once('spawn', resolve));
  const pid = child.pid!;
  const stat = procStat(pid);
  return { pid, ...(stat ? { startTicks: stat.startTicks } : {}) };
}

/** The pid of a process that has exited. */
export function deadPid(): number {
  return spawnSync('true').pid;
}

/** Waits (up to 2 s) until /proc shows the process stopped, or running again, after a signal. */
export async function untilStopped(pid: number, stopped: boolean): Promise<void> {
  for (let i = 0; i < 200 && procStat(pid)?.stopped !== stopped; i++)
    await new Promise((r) => setTimeout(r, 10));
}
