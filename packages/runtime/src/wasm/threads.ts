/**
 * Worker threads for the WebAssembly kernels (Node `worker_threads`, or web
 * workers in a cross-origin-isolated page), sharing the model's memory.
 *
 * `predict()` is synchronous, so there is no message passing per layer: each
 * worker owns a control block in the shared memory (bytes 256..1023, below
 * the weights), the calling thread writes a job (a kernel and its
 * arguments) there, bumps the job counter and wakes the worker with
 * `Atomics.notify`, does its own share of the layer, then waits for the
 * worker's done counter (`Atomics.wait` where the thread may block, a spin
 * on a browser's main thread). A worker that has not finished booting is
 * simply not given work, so the first runs after a load do not wait for it.
 */
import type { WasmMemory, WasmModule } from './module.js';
import { ARGS, DONE, ERROR, JOB, READY, SLOTS, WORKER_SOURCE } from './worker-source.js';

/** Byte offset of the first control block; one block of {@link SLOTS} int32 per worker. */
const CONTROL_AT = 256;
/** Most workers a pool starts (the control blocks fit below byte 1024). */
export const MAX_WORKERS = 4;

/**
 * Job kinds: which exports a worker calls (see WORKER_SOURCE).
 * `LutConv`: `convSetup` (12 arguments), then `lutConv` (13) for images
 * `[n0, n1)` (4 more: n0, n1, input and output bytes per image);
 * `FloatConv`: `convSetup` (12), then `floatConv` (7) likewise (4 more);
 * `LutDense`: `lutDense` (17).
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
function spawn(data: { module: WasmModule; memory: WasmMemory; at: number }): WorkerHandle | null {
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
  private readonly seq: number[] = [];
  /** Jobs handed to workers so far. */
  jobs = 0;
  /** Whether this thread may block in `Atomics.wait` (not a browser's main thread). */
  private readonly canWait: boolean;

  constructor(module: WasmModule, memory: WasmMemory, count: number) {
    for (let i = 0; i < Math.min(count, MAX_WORKERS); i++) {
      const at = CONTROL_AT + i * SLOTS * 4;
      const block = new Int32Array(memory.buffer, at, SLOTS);
      block.fill(0);
      const w = spawn({ module, memory, at });
      if (w === null) break;
      this.workers.push(w);
      this.blocks.push(block);
      this.seq.push(0);
    }
    let canWait = true;
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    } catch {
      canWait = false;
    }
    this.canWait = canWait;
  }

  /** Workers started (some may still be booting). */
  get size(): number {
    return this.workers.length;
  }

  /** Indices of the workers that have booted and can take a job now. */
  ready(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.blocks.length; i++)
      if (Atomics.load(this.blocks[i]!, READY) === 1) out.push(i);
    return out;
  }

  /**
   * Runs `jobs[i]` (a {@link JobKind} and its int32 arguments) on worker
   * `workers[i]` while `own()` runs on this thread, and returns when all are
   * done. Throws if a worker's kernel failed.
   */
  run(workers: readonly number[], jobs: readonly (readonly number[])[], own: () => void): void {
    workers.forEach((w, i) => {
      const b = this.blocks[w]!;
      const job = jobs[i]!;
      for (let j = 0; j < job.length; j++) b[ARGS + j] = job[j]!;
      this.seq[w] = this.seq[w]! + 1;
      Atomics.store(b, JOB, this.seq[w]!);
      Atomics.notify(b, JOB);
      this.jobs++;
    });
    let failed = false;
    try {
      own();
    } finally {
      for (const w of workers) {
        const b = this.blocks[w]!;
        const want = this.seq[w]!;
        for (;;) {
          const d = Atomics.load(b, DONE);
          if (d === want) break;
          if (this.canWait) Atomics.wait(b, DONE, d, 100);
        }
        if (Atomics.exchange(b, ERROR, 0) !== 0) failed = true;
      }
    }
    if (failed) throw new Error('internal: a WebAssembly kernel failed in a worker thread');
  }

  /** Stops the workers. */
  terminate(): void {
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
    this.blocks.length = 0;
  }
}
