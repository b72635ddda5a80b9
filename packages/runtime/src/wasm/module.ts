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
import {
  KERNELS_SHARED_WASM_BASE64,
  KERNELS_WASM_BASE64,
  SHARED_MAX_PAGES,
} from './bytes.generated.js';

export { SHARED_MAX_PAGES };

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

/** `plain`: the module for an ordinary memory; `shared`: for a shared memory (threads). */
export type Variant = 'plain' | 'shared';

const SOURCES: Record<Variant, string> = {
  plain: KERNELS_WASM_BASE64,
  shared: KERNELS_SHARED_WASM_BASE64,
};
const compiled: Record<Variant, WasmModule | null | undefined> = {
  plain: undefined,
  shared: undefined,
};
const pending: Partial<Record<Variant, Promise<boolean>>> = {};
let failure = '';

function bytes(variant: Variant): Uint8Array {
  const text = atob(SOURCES[variant]);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * The compiled module, compiling it synchronously on first use; `null` when
 * WebAssembly (with SIMD; with threads for `shared`) is unavailable or the
 * platform refuses synchronous compilation (a browser's main thread: call
 * {@link initWasm} first).
 */
export function wasmModule(variant: Variant = 'plain'): WasmModule | null {
  const done = compiled[variant];
  if (done !== undefined) return done;
  const api = wasmApi();
  if (api === null) {
    failure = 'WebAssembly is not available';
    compiled[variant] = null;
    return null;
  }
  try {
    const m = new api.Module(bytes(variant));
    compiled[variant] = m;
    return m;
  } catch (e) {
    // RangeError: synchronous compilation refused (browser main thread); initWasm() can still do it.
    if (e instanceof RangeError) {
      failure = `synchronous WebAssembly compilation refused (${e.message}); await initWasm() first`;
      return null;
    }
    compiled[variant] = null;
    failure = `the WebAssembly SIMD kernels do not compile here (${(e as Error).message})`;
    return null;
  }
}

function compileAsync(variant: Variant): Promise<boolean> {
  const done = compiled[variant];
  if (done !== undefined) return Promise.resolve(done !== null);
  const api = wasmApi();
  if (api === null) return Promise.resolve(false);
  pending[variant] ??= api.compile(bytes(variant)).then(
    (m) => {
      compiled[variant] = m;
      return true;
    },
    (e: Error) => {
      compiled[variant] = null;
      if (variant === 'plain')
        failure = `the WebAssembly SIMD kernels do not compile here (${e.message})`;
      return false;
    },
  );
  return pending[variant];
}

/**
 * Compiles the kernels' modules asynchronously (the way that works on a
 * browser's main thread). Resolves to whether the WebAssembly SIMD kernels
 * are available; `loadModel` and `loadModelFromDir` call it themselves.
 */
export async function initWasm(): Promise<boolean> {
  const [plain] = await Promise.all([compileAsync('plain'), compileAsync('shared')]);
  return plain;
}

/** Why {@link wasmModule} returned null (empty while it has not). */
export function wasmFailure(): string {
  return failure;
}
