/**
 * Worker threads for the WebAssembly kernels (Node `worker_threads`, or web
 * workers in a cross-origin-isolated page), sharing the model's memory.
 *
 * `predict()` is synchronous, so there is no message passing per layer: each
 * worker owns a control block in the shared memory (bytes 256..1023, below
 * the weights); the calling thread writes a job (a kernel and its
 * arguments) there and wakes the worker with `Atomics.notify`. The layer is
 * cut into chunks that all threads claim from a shared counter (see
 * worker-source.ts), and the caller waits for the chunks to be done
 * (`Atomics.wait` where the thread may block, a spin on a browser's main
 * thread), never for a worker that has claimed nothing: a worker still
 * booting, or not scheduled by a busy OS, costs nothing.
 */
import type { WasmMemory, WasmModule } from './module.js';
import { ARGS, JOB, SHARED_AT, SLOTS, SPIN_MS, WORKER_SOURCE } from './worker-source.js';

/** Byte offset of the first control block; one block of {@link SLOTS} int32 per worker. */
const CONTROL_AT = 256;
/** How long a layer waits for a worker before giving up on the pool (a loaded machine can be slow). */
const WORKER_TIMEOUT_MS = 60_000;
/** Most workers a pool starts (the control blocks fit below byte 1024). */
export const MAX_WORKERS = 4;

/**
 * Job kinds: which exports a worker calls on the chunks it claims (see
 * WORKER_SOURCE; `run` adds the epoch and the chunk count). `LutConv`: the
 * 12 `convSetup` arguments, `lutConv`'s x, codes, mode, pos, neg, bias,
 * relu, out, scratch, o0, o1, then bands per image, input and output bytes
 * per image, output rows, and the bytes of one thread's scratch (worker `i`
 * uses area `i + 1`). `FloatConv`: the 12, `floatConv`'s x, w, bias, relu,
 * out, then bands, bytes in and out, output rows. `LutDense`: `lutDense`'s
 * first 15 arguments, then the scratch bytes per thread (chunks are ranges
 * of output channels).
 */
export const JobKind = { LutConv: 1, FloatConv: 2, LutDense: 3 } as const;

interface WorkerHandle {
  terminate(): unknown;
}

interface NodeWorkerThreads {
  Worker: new (
    src: string,
    o: { eval: true; workerData: unknown },
  ) => WorkerHandle & { unref(): void };
}

/** Starts one worker thread running {@link WORKER_SOURCE}, or returns null where there are none. */
function spawn(data: {
  module: WasmModule;
  memory: WasmMemory;
  at: number;
  index: number;
}): WorkerHandle | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const wt = proc?.getBuiltinModule?.('node:worker_threads') as NodeWorkerThreads | undefined;
  if (wt) {
    const w = new wt.Worker(WORKER_SOURCE, { eval: true, workerData: data });
    // A model's workers must not keep a Node process alive.
    w.unref();
    return w;
  }
  const g = globalThis as {
    Worker?: new (url: string) => WorkerHandle & { postMessage(m: unknown): void };
    Blob?: new (parts: string[], o: { type: string }) => unknown;
    URL?: { createObjectURL(b: unknown): string };
  };
  if (g.Worker && g.Blob && g.URL) {
    const url = g.URL.createObjectURL(new g.Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new g.Worker(url);
    w.postMessage(data);
    return w;
  }
  return null;
}

/** Whether this platform can run worker threads on a shared WebAssembly memory. */
export function threadsPossible(): boolean {
  const g = globalThis as { SharedArrayBuffer?: unknown; crossOriginIsolated?: boolean };
  if (typeof g.SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') return false;
  const proc = (globalThis as { process?: { getBuiltinModule?: unknown } }).process;
  if (typeof proc?.getBuiltinModule === 'function') return true;
  // Browsers: shared memory needs a cross-origin-isolated page, and workers.
  return (
    g.crossOriginIsolated === true &&
    typeof (globalThis as { Worker?: unknown }).Worker === 'function'
  );
}

/** Workers sharing one WebAssembly memory; see the module comment. */
export class ThreadPool {
  private readonly workers: WorkerHandle[] = [];
  private readonly blocks: Int32Array[] = [];
  private epoch = 0;
  /** Whether this thread may block in `Atomics.wait` (not a browser's main thread). */
  private readonly canWait: boolean;

  constructor(
    module: WasmModule,
    private readonly memory: WasmMemory,
    count: number,
  ) {
    new Int32Array(memory.buffer, SHARED_AT, 4).fill(0);
    for (let i = 0; i < Math.min(count, MAX_WORKERS); i++) {
      const at = CONTROL_AT + i * SLOTS * 4;
      const block = new Int32Array(memory.buffer, at, SLOTS);
      block.fill(0);
      const w = spawn({ module, memory, at, index: i });
      if (w === null) break;
      this.workers.push(w);
      this.blocks.push(block);
    }
    let canWait = true;
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    } catch {
      canWait = false;
    }
    this.canWait = canWait;
  }

  /** Workers started (some may still be booting: they join the first job they see). */
  get size(): number {
    return this.workers.length;
  }

  /** Chunks the workers have computed, ever (for tests and benchmarks). */
  get workerChunks(): number {
    return Atomics.load(new Int32Array(this.memory.buffer, SHARED_AT, 4), 3);
  }

  /**
   * Runs chunks `0 .. chunks - 1` of a layer: this thread calls `own(i)` on
   * the chunks it claims, the workers run `job` (a {@link JobKind} and its
   * int32 arguments) on theirs; returns when every chunk is done. Throws if
   * a kernel failed in a worker.
   */
  run(job: readonly number[], chunks: number, own: (i: number) => void): void {
    const sh = new Int32Array(this.memory.buffer, SHARED_AT, 4);
    this.epoch = (this.epoch + 1) & 0xfff;
    const epoch = this.epoch;
    Atomics.store(sh, 1, 0);
    Atomics.store(sh, 2, 0);
    Atomics.store(sh, 0, epoch << 20);
    const args = [job[0]!, epoch, chunks, ...job.slice(1)];
    for (const b of this.blocks) {
      // Seqlock: odd while the arguments are written, so no worker reads half a job.
      const s = Atomics.load(b, JOB);
      Atomics.store(b, JOB, s + 1);
      for (let j = 0; j < args.length; j++) b[ARGS + j] = args[j]!;
      Atomics.store(b, JOB, s + 2);
      Atomics.notify(b, JOB);
    }
    for (;;) {
      const v = Atomics.load(sh, 0);
      if (v >>> 20 !== epoch || (v & 0xfffff) >= chunks) break;
      if (Atomics.compareExchange(sh, 0, v, v + 1) !== v) continue;
      try {
        own(v & 0xfffff);
      } catch (e) {
        // Let no worker start another chunk; the caller reports the error.
        Atomics.store(sh, 0, ((epoch + 1) & 0xfff) << 20);
        throw e;
      }
      Atomics.add(sh, 1, 1);
    }
    const started = Date.now();
    const spinUntil = performance.now() + SPIN_MS;
    for (;;) {
      const done = Atomics.load(sh, 1);
      if (done >= chunks) break;
      if (performance.now() < spinUntil) continue; // see SPIN_MS
      if (this.canWait) Atomics.wait(sh, 1, done, 100);
      // A worker that never finishes its chunk (killed, or its memory corrupted) must not hang the caller.
      if (Date.now() - started > WORKER_TIMEOUT_MS) {
        this.terminate();
        throw new Error(
          `internal: a worker thread did not finish its chunk of a layer in ${WORKER_TIMEOUT_MS / 1000} s; workers stopped`,
        );
      }
    }
    if (Atomics.load(sh, 2) !== 0)
      throw new Error('internal: a WebAssembly kernel failed in a worker thread');
  }

  /** Stops the workers. */
  terminate(): void {
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
    this.blocks.length = 0;
  }
}
