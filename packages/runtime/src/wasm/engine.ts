/**
 * The WebAssembly SIMD engine: one module instance and one memory per model.
 *
 * Memory layout: byte 0..1023 unused (0 is the null pointer of an absent
 * bias), then each layer's weights in the kernels' layouts (derived at load
 * from the decoded `bitplane8` words, see assembly/kernels.ts), then one
 * scratch area shared by all layers (they run one after another), then the
 * activations of a run (the arena, laid out by the model).
 */
import { TritFormatError } from '../errors.js';
import type { Arena, Engine, LayerFn, LayerSpec } from '../kernels/engine.js';
import type { PackedKernel } from '../kernels/quantized.js';
import { type KernelExports, type WasmMemory, wasmApi, wasmFailure, wasmModule } from './module.js';

const PAGE = 65536;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const align16 = (n: number) => (n + 15) & ~15;

/** Kernel mode of assembly/kernels.ts: 0 ternary symmetric, 1 ternary asymmetric, 2 binary. */
function modeOf(k: PackedKernel): number {
  return k.bits === 1 ? 2 : k.symmetric ? 0 : 1;
}

/** Whether the WebAssembly SIMD engine can run here (compiling the module if need be). */
export function wasmAvailable(): boolean {
  return LITTLE_ENDIAN && wasmModule() !== null;
}

export class WasmEngine implements Engine {
  readonly backend = 'wasm' as const;
  private readonly memory: WasmMemory;
  private readonly k: KernelExports;
  private top = 1024;
  private scratchBytes = 0;

  constructor() {
    const module = wasmModule();
    if (module === null || !LITTLE_ENDIAN) {
      throw new TritFormatError(
        'bad-input',
        `backend 'wasm' is not available: ${LITTLE_ENDIAN ? wasmFailure() : 'big-endian host'}`,
      );
    }
    const api = wasmApi()!;
    this.memory = new api.Memory({ initial: 1 });
    const instance = new api.Instance(module, { env: { memory: this.memory } });
    this.k = instance.exports as unknown as KernelExports;
  }

  /** Bytes of weights copied into the module's memory. */
  get weightBytes(): number {
    return this.top - 1024;
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
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

  /** Byte offset of the scratch area (right after the weights). */
  private get scratchAt(): number {
    return this.top;
  }

  arena(bytes: number): Arena {
    const base = align16(this.top + this.scratchBytes);
    this.ensure(base + bytes);
    return { buffer: this.memory.buffer, base };
  }

  /** The byte offset of `a`, which must live in this engine's memory. */
  private ptr(a: Float32Array): number {
    if (a.buffer !== this.memory.buffer)
      throw new Error('internal: activation outside the WebAssembly memory');
    return a.byteOffset;
  }

  layer(spec: LayerSpec): LayerFn {
    const { kernel, relu, cin, cout, win } = spec;
    const bias = spec.bias ? this.put(spec.bias) : 0;
    const r = relu ? 1 : 0;
    const k = this.k;
    if (kernel.kind === 'float32') {
      const w = this.put(kernel.values);
      if (win === null) {
        const rowsPer = spec.rowsPer;
        return (x, batch, y) => {
          const rows = batch * rowsPer;
          k.convSetup(1, rows, cin, 1, 1, 1, 1, 0, 0, 1, rows, cout);
          k.floatConv(this.ptr(x), w, bias, r, this.ptr(y), 0, 1);
        };
      }
      const setup = () =>
        k.convSetup(
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
        );
      const inBytes = win.inH * win.inW * cin * 4;
      const outBytes = win.outH * win.outW * cout * 4;
      return (x, batch, y) => {
        setup();
        const xp = this.ptr(x);
        const yp = this.ptr(y);
        for (let n = 0; n < batch; n++)
          k.floatConv(xp + n * inBytes, w, bias, r, yp + n * outBytes, 0, win.outH);
      };
    }
    const mode = modeOf(kernel);
    const pos = this.put(kernel.positive);
    const neg = this.put(kernel.negative);
    const wide = kernel.bits === 2;
    const words = kernel.words;
    const { groups, rows: taps } = kernel;
    if (win === null) {
      // [block of 8 groups][cout][8], zero codes past the last group.
      const blocks = Math.ceil(groups / 8);
      const layout = wide ? new Uint16Array(blocks * cout * 8) : new Uint8Array(blocks * cout * 8);
      for (let g = 0; g < groups; g++) {
        const b = g >> 3;
        const gi = g & 7;
        for (let o = 0; o < cout; o++) layout[(b * cout + o) * 8 + gi] = words[g * cout + o]!;
      }
      const codes = this.put(layout);
      this.scratch(1024 * 8 + cout * 8);
      const rowsPer = spec.rowsPer;
      return (x, batch, y) => {
        const t = this.scratchAt;
        k.lutDense(
          this.ptr(x),
          batch * rowsPer,
          cin,
          cout,
          blocks,
          codes,
          mode,
          pos,
          neg,
          bias,
          r,
          this.ptr(y),
          t,
          t + 8192,
          t + 8192 + cout * 4,
          0,
          cout,
        );
      };
    }
    // [cout][kh * kw][groups].
    const layout = wide ? new Uint16Array(words.length) : new Uint8Array(words.length);
    for (let t = 0; t < taps; t++)
      for (let g = 0; g < groups; g++)
        for (let o = 0; o < cout; o++)
          layout[(o * taps + t) * groups + g] = words[(t * groups + g) * cout + o]!;
    const codes = this.put(layout);
    const setup = () =>
      k.convSetup(
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
      );
    this.scratch(setup());
    const inBytes = win.inH * win.inW * cin * 4;
    const outBytes = win.outH * win.outW * cout * 4;
    return (x, batch, y) => {
      setup();
      const xp = this.ptr(x);
      const yp = this.ptr(y);
      const s = this.scratchAt;
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
    };
  }
}
