/**
 * An engine runs the conv2d and dense layers of a model: the TypeScript
 * kernels of this folder (`js`, everywhere) or the WebAssembly SIMD kernels
 * (`wasm`, src/wasm/engine.ts). The graph walk, the element-wise ops and the
 * checks are the same for both (model.ts).
 */
import type { LoadedKernel } from '../model.js';
import { floatConv2d, floatDense } from './float.js';
import { quantizedConv2d, quantizedDense } from './quantized.js';
import type { Window } from './window.js';

/** Which kernels run a model's conv2d and dense layers. */
export type Backend = 'js' | 'wasm';

/** One conv2d or dense layer, as an engine prepares it. */
export interface LayerSpec {
  readonly name: string;
  readonly kernel: LoadedKernel;
  readonly bias: Float32Array | null;
  readonly relu: boolean;
  readonly cin: number;
  readonly cout: number;
  /** Dense: input rows per sample (`prod(inShape) / cin`). */
  readonly rowsPer: number;
  /** Conv: the sliding window; null for dense. */
  readonly win: Window | null;
}

/** Runs a prepared layer on `batch` samples of `x` into `y` (`y` fully written). */
export type LayerFn = (x: Float32Array, batch: number, y: Float32Array) => void;

/** A place for a run's activations: `bytes` from byte `base` of `buffer`. */
export interface Arena {
  readonly buffer: ArrayBuffer;
  readonly base: number;
}

export interface Engine {
  readonly backend: Backend;
  /** Prepares a layer (derives the engine's weight layout once, at load). */
  layer(spec: LayerSpec): LayerFn;
  /**
   * Memory for `bytes` of activations, when the engine's kernels need them
   * in a memory of their own (WebAssembly); null: plain typed arrays.
   */
  arena(bytes: number): Arena | null;
  /** Releases what the engine holds beyond memory (worker threads). */
  dispose?(): void;
}

/** The TypeScript kernels: no setup, activations in ordinary typed arrays. */
export const jsEngine: Engine = {
  backend: 'js',
  arena: () => null,
  layer({ kernel, bias, relu, cin, cout, rowsPer, win }) {
    if (win === null) {
      return (x, batch, y) => {
        if (kernel.kind === 'float32')
          floatDense(x, batch * rowsPer, cin, cout, kernel.values, bias, relu, y);
        else quantizedDense(x, batch * rowsPer, kernel, bias, relu, y);
      };
    }
    return (x, batch, y) => {
      if (kernel.kind === 'float32')
        floatConv2d(x, batch, win, cin, cout, kernel.values, bias, relu, y);
      else quantizedConv2d(x, batch, win, kernel, bias, relu, y);
    };
  },
};
