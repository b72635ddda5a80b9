/**
 * Cross-reference and shape checking of a manifest's op graph, and the
 * tensors each op holds. Shapes here exclude the batch dimension. Shared by
 * the encoder (which refuses to write a graph that cannot run) and the
 * decoder.
 */
import { TritFormatError } from './errors.js';
import { slidingWindow } from './kernels/window.js';
import type { KernelEntry, Manifest, OpEntry, TensorRef } from './manifest.js';
import { codesByteLength, kernelGeometry, shapeSize } from './pack.js';

/**
 * Storage type of a tensor in the binary (docs/format.md, "Tensors"):
 * - `float32`: IEEE-754 single, little-endian, row-major.
 * - `ternary`: ternary codes, 5 base-3 digits per byte, row-major (pack.ts).
 * - `binary`: binary codes, 8 bits per byte, row-major.
 */
export type TensorDType = 'float32' | 'ternary' | 'binary';

/** One tensor of the binary, as its op's entry implies it. */
export interface TensorEntry {
  /** `<op>/<role>`, e.g. `conv2/codes`: how errors and tools name it. */
  readonly name: string;
  readonly op: string;
  /** `kernel`, `codes`, `positive`, `negative`, `scale`, `bias` or `shift`. */
  readonly role: string;
  readonly dtype: TensorDType;
  /** Logical shape: a kernel's for `kernel` and `codes`, else `[byteLength / 4]`. */
  readonly shape: readonly number[];
  readonly byteOffset: number;
  readonly byteLength: number;
  /** CRC-32 of the tensor's `byteLength` bytes, 8 lower-case hex digits. */
  readonly crc32: string;
}

/** What {@link checkGraph} learned about a valid graph. */
export interface GraphInfo {
  /** Output shape (without batch) of every op, by op name. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** Names that refer to another op's output: the last name of a fused chain. */
  readonly aliases: ReadonlyMap<string, string>;
  /** Names merged away at export whose own output no longer exists, mapped to the op that absorbed them. */
  readonly fusedAway: ReadonlyMap<string, string>;
  /** Every tensor, by name (`<op>/<role>`), in manifest order. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
}

function bad(message: string): never {
  throw new TritFormatError('bad-graph', message);
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The tensors of `op` by role (empty for ops without weights). */
export function opTensors(op: OpEntry): Readonly<Record<string, TensorRef>> {
  return 'tensors' in op ? (op.tensors as Readonly<Record<string, TensorRef>>) : {};
}

/**
 * Every tensor of a parsed manifest, op by op, with the name, storage type
 * and shape its op implies. Sizes are not checked here ({@link checkGraph}
 * does): a float32 tensor's shape is `[floor(byteLength / 4)]`.
 */
export function manifestTensors(m: Manifest): TensorEntry[] {
  const out: TensorEntry[] = [];
  for (const op of m.ops) {
    const kernel =
      op.op === 'conv2d' || op.op === 'depthwiseConv2d' || op.op === 'dense'
        ? op.kernel
        : undefined;
    for (const [role, [byteOffset, byteLength, crc32]] of Object.entries(opTensors(op))) {
      const codes = role === 'codes' && kernel !== undefined;
      out.push({
        name: `${op.name}/${role}`,
        op: op.name,
        role,
        dtype: codes ? (kernel.encoding === 'binary' ? 'binary' : 'ternary') : 'float32',
        shape: codes || role === 'kernel' ? kernel!.shape : [Math.floor(byteLength / 4)],
        byteOffset,
        byteLength,
        crc32,
      });
    }
  }
  return out;
}

/** Bytes a tensor of `dtype` and `shape` occupies in the binary. */
export function tensorByteLength(dtype: TensorDType, shape: readonly number[]): number {
  if (dtype === 'float32') return shapeSize(shape) * 4;
  return codesByteLength(dtype === 'ternary' ? 2 : 1, shape);
}

function checkSize(t: TensorEntry, expected: number, what: string): void {
  if (t.byteLength !== expected) {
    throw new TritFormatError(
      'size-mismatch',
      `tensor "${t.name}": byteLength ${t.byteLength} does not fit ${what} (expected ${expected})`,
    );
  }
}

/**
 * Checks that every op reference resolves, every tensor's size fits what
 * its op implies, and every op's input shapes fit; returns every op's output
 * shape and the tensors. Throws a `bad-graph` (`size-mismatch` for a tensor
 * size) {@link TritFormatError} naming the op or tensor and the problem.
 */
export function checkGraph(m: Manifest): GraphInfo {
  const tensors = new Map<string, TensorEntry>();
  for (const t of manifestTensors(m)) tensors.set(t.name, t);
  const tensor = (op: string, role: string) => tensors.get(`${op}/${role}`);

  /** A float32 vector of `len` values (or, with `orOne`, 1 value). */
  const vector = (op: string, role: string, len: number, orOne: boolean) => {
    const t = tensor(op, role);
    if (!t) return;
    if (t.byteLength === 4 && orOne) return;
    checkSize(t, 4 * len, orOne ? `1 or ${len} float32 values` : `${len} float32 values`);
  };

  const checkKernel = (op: string, k: KernelEntry, rank: number, outChannels?: number) => {
    if (k.shape.length !== rank)
      bad(`op "${op}": kernel shape ${fmt(k.shape)} should have rank ${rank}`);
    const cout = outChannels ?? k.shape[rank - 1]!;
    if (k.encoding === 'float32') {
      checkSize(
        tensor(op, 'kernel')!,
        4 * shapeSize(k.shape),
        `a float32 kernel of shape ${fmt(k.shape)}`,
      );
    } else {
      kernelGeometry(k.shape, `op "${op}" kernel`);
      const bits = k.encoding === 'ternary' ? 2 : 1;
      checkSize(
        tensor(op, 'codes')!,
        codesByteLength(bits, k.shape),
        `the ${k.encoding} codes of shape ${fmt(k.shape)} (${bits === 2 ? '5 per byte' : '8 per byte'})`,
      );
      for (const role of ['positive', 'negative', 'scale']) vector(op, role, cout, true);
    }
    vector(op, 'bias', cout, false);
  };

  const shapes = new Map<string, readonly number[]>();
  const aliases = new Map<string, string>();
  const fusedAway = new Map<string, string>();
  const claim = (name: string) => {
    if (shapes.has(name) || aliases.has(name) || fusedAway.has(name))
      bad(`op name "${name}" is used twice`);
  };

  for (const op of m.ops) {
    claim(op.name);
    const inputs = op.op === 'input' ? [] : op.inputs;
    const ins = inputs.map((name) => {
      const resolved = aliases.get(name) ?? name;
      const s = shapes.get(resolved);
      if (s) return s;
      if (fusedAway.has(name)) {
        bad(
          `op "${op.name}": input "${name}" was fused into "${fusedAway.get(name)}" and has no output of its own`,
        );
      }
      return bad(`op "${op.name}": input "${name}" is not the name of an earlier op`);
    });
    const out = opShape(op, ins, vector, checkKernel);
    shapes.set(op.name, out);
    if (op.fused && op.fused.length > 0) {
      op.fused.forEach((f, i) => {
        claim(f);
        if (i === op.fused!.length - 1) aliases.set(f, op.name);
        else fusedAway.set(f, op.name);
      });
    }
  }
  for (const o of m.outputs) {
    if (!shapes.has(aliases.get(o) ?? o)) {
      bad(
        fusedAway.has(o)
          ? `output "${o}" was fused into "${fusedAway.get(o)}" and has no output of its own`
          : `output "${o}" is not the name of an op`,
      );
    }
  }
  return { shapes, aliases, fusedAway, tensors };
}

type VectorCheck = (op: string, role: string, len: number, orOne: boolean) => void;

function opShape(
  op: OpEntry,
  ins: readonly (readonly number[])[],
  vector: VectorCheck,
  checkKernel: (op: string, k: KernelEntry, rank: number, outChannels?: number) => void,
): readonly number[] {
  const name = op.name;
  const rank3 = (what: string) => {
    const s = ins[0]!;
    if (s.length !== 3)
      bad(`op "${name}" (${what}) needs an [height, width, channels] input, got ${fmt(s)}`);
    return s as [number, number, number];
  };
  switch (op.op) {
    case 'input':
      if (op.shape.length === 0) bad(`op "${name}": input shape must not be empty`);
      return op.shape;
    case 'conv2d': {
      const [h, w, c] = rank3('conv2d');
      checkKernel(name, op.kernel, 4);
      const [kh, kw, kin, cout] = op.kernel.shape as [number, number, number, number];
      if (kin !== c)
        bad(
          `op "${name}": kernel ${fmt(op.kernel.shape)} expects ${kin} input channels, input has ${c}`,
        );
      const [sh, sw] = op.strides ?? [1, 1];
      const win = slidingWindow(h, w, kh, kw, sh, sw, op.padding, `op "${name}"`);
      return [win.outH, win.outW, cout];
    }
    case 'depthwiseConv2d': {
      const [h, w, c] = rank3('depthwiseConv2d');
      const [kh, kw, kin, mult] = op.kernel.shape as [number, number, number, number];
      checkKernel(name, op.kernel, 4, kin * mult);
      if (kin !== c)
        bad(
          `op "${name}": kernel ${fmt(op.kernel.shape)} expects ${kin} input channels, input has ${c}`,
        );
      const [sh, sw] = op.strides ?? [1, 1];
      const win = slidingWindow(h, w, kh, kw, sh, sw, op.padding, `op "${name}"`);
      return [win.outH, win.outW, c * mult];
    }
    case 'dense': {
      const s = ins[0]!;
      checkKernel(name, op.kernel, 2);
      const [kin, cout] = op.kernel.shape as [number, number];
      if (s[s.length - 1] !== kin) {
        bad(
          `op "${name}": kernel ${fmt(op.kernel.shape)} expects ${kin} input features, input has shape ${fmt(s)}`,
        );
      }
      return [...s.slice(0, -1), cout];
    }
    case 'affine': {
      const s = ins[0]!;
      const c = s[s.length - 1]!;
      vector(name, 'scale', c, false);
      vector(name, 'shift', c, false);
      return s;
    }
    case 'add': {
      const s = ins[0]!;
      ins.forEach((t, i) => {
        if (!sameShape(t, s)) {
          bad(
            `op "${name}": input "${op.inputs[i]}" has shape ${fmt(t)}, but "${op.inputs[0]}" has ${fmt(s)}`,
          );
        }
      });
      return s;
    }
    case 'concat': {
      const s = ins[0]!;
      let c = 0;
      ins.forEach((t, i) => {
        if (t.length !== s.length || !sameShape(t.slice(0, -1), s.slice(0, -1))) {
          bad(
            `op "${name}": input "${op.inputs[i]}" has shape ${fmt(t)}, but "${op.inputs[0]}" has ${fmt(s)}; ` +
              'concat joins the last axis and needs the others equal',
          );
        }
        c += t[t.length - 1]!;
      });
      return [...s.slice(0, -1), c];
    }
    case 'relu':
    case 'relu6':
    case 'sigmoid':
    case 'tanh':
    case 'softmax':
      return ins[0]!;
    case 'flatten':
      return [shapeSize(ins[0]!)];
    case 'globalAvgPool':
    case 'globalMaxPool':
      return [rank3(op.op)[2]];
    case 'maxPool':
    case 'avgPool': {
      const [h, w, c] = rank3(op.op);
      const win = slidingWindow(
        h,
        w,
        op.poolSize[0],
        op.poolSize[1],
        op.strides[0],
        op.strides[1],
        op.padding,
        `op "${name}"`,
      );
      return [win.outH, win.outW, c];
    }
    case 'zeroPad': {
      const [h, w, c] = rank3('zeroPad');
      const [[t, b], [l, r]] = op.padding ?? [
        [0, 0],
        [0, 0],
      ];
      const [before, after] = op.channels ?? [0, 0];
      return [h + t + b, w + l + r, c + before + after];
    }
    case 'subsample': {
      const [h, w, c] = rank3('subsample');
      return [Math.ceil(h / op.strides[0]), Math.ceil(w / op.strides[1]), c];
    }
  }
}
