import * as tf from '@tensorflow/tfjs';
import { registerNativeGradients, setNativeKernels } from './native-gradients.js';

/** Backends trit can select. `tensorflow` is the native one from `@tensorflow/tfjs-node`. */
export const BACKENDS = ['tensorflow', 'cpu', 'wasm'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** What {@link initBackend} selected. */
export interface BackendInfo {
  /** The active tfjs backend. */
  readonly name: BackendName;
  /** Version of the tfjs packages. */
  readonly tfjsVersion: string;
  /** Version of the TensorFlow C library, on the native backend. */
  readonly tensorflowVersion?: string;
  /** Threads the backend computes with, where known. */
  readonly threads?: number;
  /**
   * On the native backend: whether TensorFlow runs its oneDNN kernels
   * (`TF_ENABLE_ONEDNN_OPTS`, which trit sets to 1 unless the environment
   * says otherwise); absent when the variable is unset (TensorFlow then
   * decides by the CPU).
   */
  readonly oneDNN?: boolean;
  /** Why the preferred backend was not used; absent when it was. */
  readonly fallbackReason?: string;
}

export interface InitBackendOptions {
  /** Backend to try first; default `TRIT_BACKEND` or `'tensorflow'`. Falls back to `cpu`. */
  readonly prefer?: BackendName;
  /** Skip the one-line warning printed on fallback. */
  readonly quiet?: boolean;
  /**
   * On the native backend, use TensorFlow's fused ops where tfjs runs many
   * small ones: ReLU's gradient (`ReluGrad`, see {@link registerNativeGradients})
   * and BatchNorm training in {@link TritBatchNormalization}. Same values;
   * a ResNet-20 training step is about 2x faster. Default true, unless the
   * environment sets `TRIT_NATIVE_GRADIENTS=0` (for A/B measurements).
   */
  readonly nativeGradients?: boolean;
  /**
   * Loads `@tensorflow/tfjs-node`; replaceable for tests that simulate a
   * missing or broken native library.
   * @internal
   */
  readonly loadNative?: () => Promise<unknown>;
}

// Read the environment without assuming Node (the library also runs in browsers).
const env: Record<string, string | undefined> =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

// The command ships with this package (bin/trit-quant-core.mjs), so it works in any
// project that installed it, the trit repository included.
const FIX_HINT =
  'run `npx @trit/quant-core setup-native` in your project ' +
  '(after `npm install @tensorflow/tfjs-node --ignore-scripts` if it is not installed)';

async function defaultLoadNative(): Promise<unknown> {
  if (env.TRIT_NO_NATIVE === '1') {
    throw new Error('disabled by TRIT_NO_NATIVE=1');
  }
  // TensorFlow logs its CPU feature banner at load time unless told not to.
  env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  // TensorFlow turns its oneDNN kernels on by itself only on CPUs with
  // AVX512-VNNI/BF16 or AMX; elsewhere (an AVX2 AMD EPYC, say) it trains
  // ResNet-20 with Eigen's about 1.7x slower. Read once, when the library loads.
  env.TF_ENABLE_ONEDNN_OPTS ??= '1';
  return import('@tensorflow/tfjs-node');
}

function nativeVersion(): string | undefined {
  const backend = tf.backend() as unknown as { binding?: { TF_Version?: string } };
  return backend.binding?.TF_Version;
}

function availableThreads(): number | undefined {
  const os = (
    globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }
  ).process?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  return os?.availableParallelism?.();
}

async function useCpu(): Promise<BackendInfo> {
  if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend failed to initialize');
  await tf.ready();
  return { name: 'cpu', tfjsVersion: tf.version_core, threads: 1 };
}

async function useWasm(): Promise<BackendInfo> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const threads = availableThreads();
  if (threads) wasm.setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to initialize');
  await tf.ready();
  return { name: 'wasm', tfjsVersion: tf.version_core, threads: wasm.getThreadsCount() };
}

async function useNative(
  load: () => Promise<unknown>,
  nativeGradients: boolean,
): Promise<BackendInfo> {
  await load();
  if (!(await tf.setBackend('tensorflow')))
    throw new Error('the tensorflow backend failed to initialize');
  await tf.ready();
  setNativeKernels(nativeGradients);
  if (nativeGradients) registerNativeGradients();
  const threads = Number(env.TF_NUM_INTRAOP_THREADS) || availableThreads();
  return {
    name: 'tensorflow',
    tfjsVersion: tf.version_core,
    tensorflowVersion: nativeVersion(),
    threads,
    // Unset (a custom loader): TensorFlow decides by the CPU, so it is not known here.
    ...(env.TF_ENABLE_ONEDNN_OPTS === undefined
      ? {}
      : { oneDNN: ['1', 'true'].includes(env.TF_ENABLE_ONEDNN_OPTS.toLowerCase()) }),
  };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
}

/**
 * Selects and readies a tfjs backend: the native TensorFlow one by default,
 * else the one asked for. When the preferred backend cannot start, falls back
 * to the pure-JS `cpu` backend, prints one warning saying why and how to fix
 * it, and reports the reason in `fallbackReason`.
 *
 * @throws if `prefer` is not one of {@link BACKENDS}.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const fromEnv = !options.prefer && Boolean(env.TRIT_BACKEND);
  const prefer = (options.prefer ?? (env.TRIT_BACKEND || 'tensorflow')) as BackendName;
  if (!BACKENDS.includes(prefer)) {
    const source = fromEnv ? ' (from the TRIT_BACKEND environment variable)' : '';
    throw new Error(`unknown backend "${prefer}"${source}; valid backends: ${BACKENDS.join(', ')}`);
  }
  if (prefer === 'cpu') return useCpu();
  let fallbackReason: string;
  try {
    return prefer === 'wasm'
      ? await useWasm()
      : await useNative(
          options.loadNative ?? defaultLoadNative,
          options.nativeGradients ?? env.TRIT_NATIVE_GRADIENTS !== '0',
        );
  } catch (err) {
    fallbackReason =
      prefer === 'tensorflow'
        ? `native TensorFlow backend unavailable (${firstLine(err)}); to fix it, ${FIX_HINT}`
        : `wasm backend unavailable (${firstLine(err)})`;
  }
  if (!options.quiet) {
    console.warn(`trit: ${fallbackReason}. Using the pure-JS cpu backend, which is far slower.`);
  }
  return { ...(await useCpu()), fallbackReason };
}
