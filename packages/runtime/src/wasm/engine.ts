/**
 * The WebAssembly SIMD engine: one module instance and one memory per model.
 *
 * Memory layout: bytes 0..1023 hold no data (0 is the null pointer of an
 * absent bias; 256..1023 are the worker threads' control blocks), then each
 * layer's weights in the kernels' layouts (derived at load from the decoded
 * `bitplane8` words, see assembly/kernels.ts), then one scratch area per
 * thread shared by all layers (they run one after another), then the
 * activations of a run (the arena, laid out by the model).
 *
 * With `threads > 1` (and a platform that has shared memory and workers) the
 * memory is shared and a layer big enough to pay for the hand-off is split:
 * a batch by images, a single image by output rows, a dense layer by output
 * channels; smaller layers run on the calling thread alone, and the workers
 * are only started when the first big layer runs.
 */
import { TritFormatError } from '../errors.js';
import type { Arena, Engine, LayerFn, LayerSpec } from '../kernels/engine.js';
import type { PackedKernel } from '../kernels/quantized.js';
import {
  type KernelExports,
  SHARED_MAX_PAGES,
  type WasmMemory,
  wasmApi,
  wasmFailure,
  wasmModule,
} from './module.js';
import { JobKind, MAX_WORKERS, ThreadPool, threadsPossible } from './threads.js';

const PAGE = 65536;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/**
 * Multiply-accumulates below which a layer runs on one thread: waking a
 * worker and waiting for it costs tens of microseconds, what ~0.5 M
 * multiply-accumulates take.
 */
export const PARALLEL_MIN_MACS = 500_000;

const align16 = (n: number) => (n + 15) & ~15;

/** Kernel mode of assembly/kernels.ts: 0 ternary symmetric, 1 ternary asymmetric, 2 binary. */
function modeOf(k: PackedKernel): number {
  return k.bits === 1 ? 2 : k.symmetric ? 0 : 1;
}

/** Whether the WebAssembly SIMD engine can run here (compiling the module if need be). */
export function wasmAvailable(): boolean {
  return LITTLE_ENDIAN && wasmModule() !== null;
}

/** Threads of this machine (logical processors), 1 where unknown. */
export function hardwareThreads(): number {
  const g = globalThis as {
    navigator?: { hardwareConcurrency?: number };
    process?: { getBuiltinModule?: (id: string) => unknown };
  };
  const os = g.process?.getBuiltinModule?.('node:os') as
    | { availableParallelism?: () => number; cpus: () => unknown[] }
    | undefined;
  if (os) return os.availableParallelism?.() ?? os.cpus().length;
  return g.navigator?.hardwareConcurrency ?? 1;
}

const pools =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<ThreadPool>((pool) => pool.terminate())
    : null;

export class WasmEngine implements Engine {
  readonly backend = 'wasm' as const;
  /** Threads a layer may use (this one included). */
  readonly threads: number;
  private readonly memory: WasmMemory;
  private readonly shared: boolean;
  private readonly k: KernelExports;
  private pool: ThreadPool | null = null;
  private top = 1024;
  private scratchBytes = 0;

  /** `threads`: most threads per layer (1: no workers). */
  constructor(threads = 1) {
    const api = wasmApi();
    const plain = wasmModule('plain');
    if (api === null || plain === null || !LITTLE_ENDIAN) {
      throw new TritFormatError(
        'bad-input',
        `backend 'wasm' is not available: ${LITTLE_ENDIAN ? wasmFailure() : 'big-endian host'}`,
      );
    }
    const want = Math.max(1, Math.min(Math.floor(threads), MAX_WORKERS + 1));
    const sharedModule = want > 1 && threadsPossible() ? wasmModule('shared') : null;
    this.shared = sharedModule !== null;
    this.threads = this.shared ? want : 1;
    this.memory = this.shared
      ? new api.Memory({ initial: 1, maximum: SHARED_MAX_PAGES, shared: true })
      : new api.Memory({ initial: 1 });
    const instance = new api.Instance(sharedModule ?? plain, { env: { memory: this.memory } });
    this.k = instance.exports as unknown as KernelExports;
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      const pages = Math.ceil((bytes - have) / PAGE);
      if (this.shared && have / PAGE + pages > SHARED_MAX_PAGES) {
        throw new TritFormatError(
          'bad-input',
          `the run needs ${bytes} bytes of WebAssembly memory, more than the ${SHARED_MAX_PAGES * PAGE} a shared ` +
            'memory may have: use a smaller batch, or threads: 1',
        );
      }
      this.memory.grow(pages);
    }
  }

  /** Copies `data` into the weight area; returns its byte offset. */
  private put(data: ArrayBufferView): number {
    const at = this.top;
    this.top = align16(at + data.byteLength);
    this.ensure(this.top);
    new Uint8Array(this.memory.buffer, at, data.byteLength).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    return at;
  }

  private scratch(bytes: number): void {
    this.scratchBytes = Math.max(this.scratchBytes, align16(bytes));
  }

  /** Byte offset of thread `t`'s scratch area (after the weights). */
  private scratchAt(t: number): number {
    return this.top + t * this.scratchBytes;
  }

  arena(bytes: number): Arena {
    const base = align16(this.top + this.scratchBytes * this.threads);
    this.ensure(base + bytes);
    return { buffer: this.memory.buffer, base };
  }

  /** Stops the worker threads (a disposed model can still run, on one thread). */
  dispose(): void {
    if (this.pool) {
      pools?.unregister(this);
      this.pool.terminate();
    }
  }

  /** The byte offset of `a`, which must live in this engine's memory. */
  private ptr(a: Float32Array): number {
    if (a.buffer !== this.memory.buffer)
      throw new Error('internal: activation outside the WebAssembly memory');
    return a.byteOffset;
  }

  /**
   * The worker pool for a layer of `macs` multiply-accumulates, or null (one
   * thread, or a layer under {@link PARALLEL_MIN_MACS}); starts the pool on
   * first need.
   */
  private helpers(macs: number): ThreadPool | null {
    if (this.threads < 2 || macs < PARALLEL_MIN_MACS) return null;
    if (this.pool === null) {
      this.pool = new ThreadPool(wasmModule('shared')!, this.memory, this.threads - 1);
      pools?.register(this, this.pool, this);
    }
    return this.pool.size > 0 ? this.pool : null;
  }

  /**
   * Runs a layer cut into chunks: `chunks(threads)` says how many for the
   * threads at hand (1 on one thread: no cut at all), `run(i)` computes chunk
   * `i` here, `job` is the same work for the workers (see threads.ts).
   */
  private parallel(
    macs: number,
    chunks: (threads: number) => number,
    job: () => number[],
    run: (i: number, chunks: number) => void,
  ): void {
    const pool = this.helpers(macs);
    if (pool === null) {
      run(0, 1);
      return;
    }
    const n = chunks(pool.size + 1);
    pool.run(job(), n, (i) => run(i, n));
  }

  layer(spec: LayerSpec): LayerFn {
    const { kernel, relu, cin, cout, win } = spec;
    const bias = spec.bias ? this.put(spec.bias) : 0;
    const r = relu ? 1 : 0;
    const k = this.k;
    if (win === null) return this.denseLayer(spec, bias, r);
    const geometry = [
      win.inH,
      win.inW,
      cin,
      win.kh,
      win.kw,
      win.sh,
      win.sw,
      win.padTop,
      win.padLeft,
      win.outH,
      win.outW,
      cout,
    ] as const;
    const setup = () => k.convSetup(...geometry);
    const inBytes = win.inH * win.inW * cin * 4;
    const outBytes = win.outH * win.outW * cout * 4;
    const macs = win.outH * win.outW * cout * win.kh * win.kw * cin;
    // Chunks for T threads: single images when the batch is large, else
    // bands of output rows (each re-reads kh - 1 halo rows), about 2 per thread.
    const bandsFor = (batch: number, threads: number) =>
      Math.max(1, Math.min(win.outH, Math.ceil((2 * threads) / batch)));
    const chunk = (i: number, bands: number) => {
      const b = i % bands;
      return {
        n: Math.floor(i / bands),
        oy0: Math.floor((b * win.outH) / bands),
        oy1: Math.floor(((b + 1) * win.outH) / bands),
      };
    };
    if (kernel.kind === 'float32') {
      const w = this.put(kernel.values);
      return (x, batch, y) => {
        const xp = this.ptr(x);
        const yp = this.ptr(y);
        let bands = 1;
        this.parallel(
          batch * macs,
          (t) => {
            bands = bandsFor(batch, t);
            return batch * bands;
          },
          () => [
            JobKind.FloatConv,
            ...geometry,
            xp,
            w,
            bias,
            r,
            yp,
            bands,
            inBytes,
            outBytes,
            win.outH,
          ],
          (i, chunks) => {
            setup();
            if (chunks === 1) {
              for (let n = 0; n < batch; n++)
                k.floatConv(xp + n * inBytes, w, bias, r, yp + n * outBytes, 0, win.outH);
              return;
            }
            const c = chunk(i, bands);
            k.floatConv(xp + c.n * inBytes, w, bias, r, yp + c.n * outBytes, c.oy0, c.oy1);
          },
        );
      };
    }
    const mode = modeOf(kernel);
    const pos = this.put(kernel.positive);
    const neg = this.put(kernel.negative);
    const { groups, rows: taps, words } = kernel;
    // [cout][kh * kw][groups].
    const layout = kernel.bits === 2 ? new Uint16Array(words.length) : new Uint8Array(words.length);
    for (let t = 0; t < taps; t++)
      for (let g = 0; g < groups; g++)
        for (let o = 0; o < cout; o++)
          layout[(o * taps + t) * groups + g] = words[(t * groups + g) * cout + o]!;
    const codes = this.put(layout);
    this.scratch(setup());
    return (x, batch, y) => {
      const xp = this.ptr(x);
      const yp = this.ptr(y);
      let bands = 1;
      // Each worker has its own scratch (its tables): worker w uses area w + 1.
      this.parallel(
        batch * macs,
        (t) => {
          bands = bandsFor(batch, t);
          return batch * bands;
        },
        () => [
          JobKind.LutConv,
          ...geometry,
          xp,
          codes,
          mode,
          pos,
          neg,
          bias,
          r,
          yp,
          this.scratchAt(0),
          0,
          cout,
          bands,
          inBytes,
          outBytes,
          win.outH,
          this.scratchBytes,
        ],
        (i, chunks) => {
          setup();
          const s = this.scratchAt(0);
          if (chunks === 1) {
            for (let n = 0; n < batch; n++)
              k.lutConv(
                xp + n * inBytes,
                codes,
                mode,
                pos,
                neg,
                bias,
                r,
                yp + n * outBytes,
                s,
                0,
                win.outH,
                0,
                cout,
              );
            return;
          }
          const c = chunk(i, bands);
          k.lutConv(
            xp + c.n * inBytes,
            codes,
            mode,
            pos,
            neg,
            bias,
            r,
            yp + c.n * outBytes,
            s,
            c.oy0,
            c.oy1,
            0,
            cout,
          );
        },
      );
    };
  }

  private denseLayer(spec: LayerSpec, bias: number, r: number): LayerFn {
    const { kernel, cin, cout, rowsPer } = spec;
    const k = this.k;
    if (kernel.kind === 'float32') {
      const w = this.put(kernel.values);
      // A 1x1 conv over a 1 x rows image, split by output rows never: by images = rows.
      return (x, batch, y) => {
        const rows = batch * rowsPer;
        k.convSetup(1, rows, cin, 1, 1, 1, 1, 0, 0, 1, rows, cout);
        k.floatConv(this.ptr(x), w, bias, r, this.ptr(y), 0, 1);
      };
    }
    const mode = modeOf(kernel);
    const pos = this.put(kernel.positive);
    const neg = this.put(kernel.negative);
    const { groups, words } = kernel;
    // [block of 8 groups][cout][8], zero codes past the last group.
    const blocks = Math.ceil(groups / 8);
    const layout =
      kernel.bits === 2 ? new Uint16Array(blocks * cout * 8) : new Uint8Array(blocks * cout * 8);
    for (let g = 0; g < groups; g++) {
      const b = g >> 3;
      const gi = g & 7;
      for (let o = 0; o < cout; o++) layout[(b * cout + o) * 8 + gi] = words[g * cout + o]!;
    }
    const codes = this.put(layout);
    this.scratch(8192 + cout * 8);
    const args = (x: number, rows: number, y: number, t: number, o0: number, o1: number) =>
      [
        x,
        rows,
        cin,
        cout,
        blocks,
        codes,
        mode,
        pos,
        neg,
        bias,
        r,
        y,
        this.scratchAt(t),
        this.scratchAt(t) + 8192,
        this.scratchAt(t) + 8192 + cout * 4,
        o0,
        o1,
      ] as const;
    return (x, batch, y) => {
      const rows = batch * rowsPer;
      const xp = this.ptr(x);
      const yp = this.ptr(y);
      this.parallel(
        rows * cin * cout,
        (t) => Math.min(cout, 2 * t),
        () => [JobKind.LutDense, ...args(xp, rows, yp, 0, 0, 0).slice(0, 15), this.scratchBytes],
        (i, chunks) =>
          k.lutDense(
            ...args(
              xp,
              rows,
              yp,
              0,
              Math.floor((i * cout) / chunks),
              Math.floor(((i + 1) * cout) / chunks),
            ),
          ),
      );
    };
  }
}
