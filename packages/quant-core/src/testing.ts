/**
 * Helpers for testing quantizers on every backend (`@trit/quant-core/testing`).
 * Framework-agnostic: they return values and throw, they do not assert.
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.js';

let nativeLoaded: boolean | undefined;

/** Backends to run backend-parity tests on: `cpu`, plus `tensorflow` when its binding loads. */
export async function testBackends(): Promise<string[]> {
  if (nativeLoaded === undefined) {
    const info = await initBackend({ quiet: true });
    nativeLoaded = info.name === 'tensorflow';
  }
  return nativeLoaded ? ['tensorflow', 'cpu'] : ['cpu'];
}

/** Runs `fn` with `backend` active, then restores the previous backend. */
export async function withBackend<T>(backend: string, fn: () => T | Promise<T>): Promise<T> {
  const previous = tf.getBackend();
  if (!(await tf.setBackend(backend))) throw new Error(`backend "${backend}" is not available`);
  try {
    return await fn();
  } finally {
    if (previous && previous !== backend) await tf.setBackend(previous);
  }
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Counts live tensors around `steps` calls of `step`, after one warm-up call
 * (which may create lazily-built variables). Returns the growth per step.
 */
export function tensorGrowth(step: () => void, steps = 5): number {
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < steps; i++) step();
  return (tf.memory().numTensors - before) / steps;
}

/**
 * Deterministic uniform numbers in [0, 1) from a 32-bit seed (mulberry32):
 * the same stream on every platform and backend, so failures reproduce.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
