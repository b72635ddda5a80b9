/**
 * Compiling the kernels' WebAssembly module (SIMD), once per process or page.
 *
 * The bytes are embedded (src/wasm/bytes.generated.ts, built from
 * assembly/kernels.ts), so no path or fetch is involved. Compilation is
 * synchronous where the platform allows it (Node, workers) and otherwise
 * asynchronous through {@link initWasm}: browsers refuse to compile a module
 * of more than 4 KB synchronously on the main thread. A platform without
 * WebAssembly SIMD fails to compile the module, and the runtime uses its
 * TypeScript kernels instead.
 */
import { KERNELS_WASM_BASE64 } from './bytes.generated.js';

/** The functions the module exports (pointers are byte offsets into its memory). */
export interface KernelExports {
  lutDense(
    x: number,
    rows: number,
    cin: number,
    cout: number,
    blocks: number,
    codes: number,
    mode: number,
    pos: number,
    neg: number,
    bias: number,
    relu: number,
    out: number,
    t: number,
    accP: number,
    accN: number,
    o0: number,
    o1: number,
  ): void;
  convSetup(
    inH: number,
    inW: number,
    cin: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
    outH: number,
    outW: number,
    cout: number,
  ): number;
  lutConv(
    x: number,
    codes: number,
    mode: number,
    pos: number,
    neg: number,
    bias: number,
    relu: number,
    out: number,
    scratch: number,
    oy0: number,
    oy1: number,
    o0: number,
    o1: number,
  ): void;
  floatConv(
    x: number,
    w: number,
    bias: number,
    relu: number,
    out: number,
    oy0: number,
    oy1: number,
  ): void;
}

/**
 * The part of the WebAssembly JS API the runtime uses. Typed here because
 * the package compiles against ES2022 + Node types, which do not declare it.
 */
export interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<WasmModule>;
}
/** A compiled module (opaque). */
export interface WasmModule {
  readonly __wasmModule?: never;
}
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The global `WebAssembly`, or null where there is none. */
export function wasmApi(): WasmApi | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  return typeof api === 'object' && typeof api.Module === 'function' ? api : null;
}

let compiled: WasmModule | null | undefined;
let failure = '';
let pending: Promise<boolean> | undefined;

function bytes(): Uint8Array {
  const text = atob(KERNELS_WASM_BASE64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function noWasm(): boolean {
  if (wasmApi() === null) {
    compiled = null;
    failure = 'WebAssembly is not available';
    return true;
  }
  return false;
}

/**
 * The compiled module, compiling it synchronously on first use; `null` when
 * WebAssembly (with SIMD) is unavailable or the platform refuses synchronous
 * compilation (a browser's main thread: call {@link initWasm} first).
 */
export function wasmModule(): WasmModule | null {
  if (compiled !== undefined) return compiled;
  if (noWasm()) return null;
  try {
    compiled = new (wasmApi()!.Module)(bytes());
  } catch (e) {
    // RangeError: synchronous compilation refused (browser main thread); retry asynchronously.
    if (e instanceof RangeError) {
      failure = `synchronous WebAssembly compilation refused (${e.message}); await initWasm() first`;
      return null;
    }
    compiled = null;
    failure = `the WebAssembly SIMD kernels do not compile here (${(e as Error).message})`;
  }
  return compiled;
}

/**
 * Compiles the kernels' module asynchronously (the way that works on a
 * browser's main thread). Resolves to whether the WebAssembly SIMD kernels
 * are available; `loadModel` and `loadModelFromDir` call it themselves.
 */
export function initWasm(): Promise<boolean> {
  if (compiled !== undefined) return Promise.resolve(compiled !== null);
  if (noWasm()) return Promise.resolve(false);
  pending ??= wasmApi()!
    .compile(bytes())
    .then(
      (m) => {
        compiled = m;
        return true;
      },
      (e: Error) => {
        compiled = null;
        failure = `the WebAssembly SIMD kernels do not compile here (${e.message})`;
        return false;
      },
    );
  return pending;
}

/** Why {@link wasmModule} returned null (empty while it has not). */
export function wasmFailure(): string {
  return failure;
}
