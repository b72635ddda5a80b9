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
import {
  ARGS,
  COUNTER_AT,
  DONE,
  ERROR,
  JOB,
  READY,
  SLOTS,
  WORKER_SOURCE,
} from './worker-source.js';

/** Byte offset of the first control block; one block of {@link SLOTS} int32 per worker. */
const CONTROL_AT = 256;
/** How long a layer waits for a worker before giving up on the pool (a loaded machine can be slow). */
const WORKER_TIMEOUT_MS = 60_000;
/** Most workers a pool starts (the control blocks fit below byte 1024). */
export const MAX_WORKERS = 4;

/**
 * Job kinds: which exports a worker calls, on the chunks it claims (see
 * WORKER_SOURCE). `LutConv`: the 12 `convSetup` arguments, `lutConv`'s x,
 * codes, mode, pos, neg, bias, relu, out, scratch, o0, o1, then chunks,
 * bands per image, input and output bytes per image, output rows, and the
 * bytes of one thread's scratch (worker `i` uses area `i + 1`).
 * `FloatConv`: the 12, `floatConv`'s x, w, bias, relu, out, then the same 5.
 * `LutDense`: `lutDense`'s first 15 arguments, then chunks (of output
 * channels) and the scratch bytes per thread.
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
  private readonly seq: number[] = [];
  /** Jobs handed to workers so far. */
  jobs = 0;
  /** Whether this thread may block in `Atomics.wait` (not a browser's main thread). */
  private readonly canWait: boolean;

  constructor(
    module: WasmModule,
    private readonly memory: WasmMemory,
    count: number,
  ) {
    for (let i = 0; i < Math.min(count, MAX_WORKERS); i++) {
      const at = CONTROL_AT + i * SLOTS * 4;
      const block = new Int32Array(memory.buffer, at, SLOTS);
      block.fill(0);
      const w = spawn({ module, memory, at, index: i });
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
   * Runs `job` (a {@link JobKind} and its int32 arguments) on `workers`
   * while this thread runs `own(claim)`, where `claim()` returns the next
   * unclaimed chunk index (the workers claim from the same counter); returns
   * when all are done. Throws if a worker's kernel failed.
   */
  run(
    workers: readonly number[],
    job: readonly number[],
    own: (claim: () => number) => void,
  ): void {
    const counter = new Int32Array(this.memory.buffer, COUNTER_AT, 1);
    Atomics.store(counter, 0, 0);
    workers.forEach((w) => {
      const b = this.blocks[w]!;
      for (let j = 0; j < job.length; j++) b[ARGS + j] = job[j]!;
      this.seq[w] = this.seq[w]! + 1;
      Atomics.store(b, JOB, this.seq[w]!);
      Atomics.notify(b, JOB);
      this.jobs++;
    });
    let failed = false;
    try {
      own(() => Atomics.add(counter, 0, 1));
    } finally {
      const started = Date.now();
      for (const w of workers) {
        const b = this.blocks[w]!;
        const want = this.seq[w]!;
        for (;;) {
          const d = Atomics.load(b, DONE);
          if (d === want) break;
          if (this.canWait) Atomics.wait(b, DONE, d, 100);
          // A worker that never answers (killed, or its memory corrupted) must not hang the caller.
          if (Date.now() - started > WORKER_TIMEOUT_MS) {
            this.terminate();
            throw new Error(
              `internal: a worker thread did not finish its part of a layer in ${WORKER_TIMEOUT_MS / 1000} s; workers stopped`,
            );
          }
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
