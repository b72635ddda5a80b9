/**
 * Cross-reference and shape checking of a manifest's op graph. Shapes here
 * exclude the batch dimension. Shared by the encoder (which refuses to
 * write a graph that cannot run) and the decoder.
 */
import { TritFormatError } from './errors.js';
import { slidingWindow } from './kernels/window.js';
import type { KernelEntry, Manifest, OpEntry, TensorDType, TensorEntry } from './manifest.js';
import { kernelGeometry, packedByteLength, shapeSize } from './pack.js';

/** What {@link checkGraph} learned about a valid graph. */
export interface GraphInfo {
  /** Output shape (without batch) of every op, by op name. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** Names that refer to another op's output: the last name of a fused chain. */
  readonly aliases: ReadonlyMap<string, string>;
  /** Names merged away at export whose own output no longer exists, mapped to the op that absorbed them. */
  readonly fusedAway: ReadonlyMap<string, string>;
  /** Tensors by name. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
}

function bad(message: string): never {
  throw new TritFormatError('bad-graph', message);
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Bytes a tensor of `dtype` and `shape` occupies. */
export function tensorByteLength(dtype: TensorDType, shape: readonly number[]): number {
  if (dtype === 'float32') return shapeSize(shape) * 4;
  return packedByteLength(dtype === 'ternary2' ? 2 : 1, shape);
}

/**
 * Checks that every tensor and op reference resolves, dtypes and shapes
 * agree, and every op's input shapes fit; returns every op's output shape.
 * Throws a `bad-graph` {@link TritFormatError} naming the op and the problem.
 */
export function checkGraph(m: Manifest): GraphInfo {
  const tensors = new Map<string, TensorEntry>();
  for (const t of m.tensors) {
    if (tensors.has(t.name)) bad(`tensor name "${t.name}" is used twice`);
    if (t.dtype !== 'float32') kernelGeometry(t.shape, `tensor "${t.name}"`);
    const expected = tensorByteLength(t.dtype, t.shape);
    if (t.byteLength !== expected) {
      throw new TritFormatError(
        'size-mismatch',
        `tensor "${t.name}": byteLength ${t.byteLength} does not fit dtype ${t.dtype} and shape ` +
          `${fmt(t.shape)} (expected ${expected})`,
      );
    }
    tensors.set(t.name, t);
  }

  const tensor = (
    op: string,
    field: string,
    name: string,
    dtype: TensorDType,
    shape?: readonly number[],
  ) => {
    const t = tensors.get(name);
    if (!t)
      bad(`op "${op}": ${field} refers to tensor "${name}", which the manifest does not list`);
    if (t.dtype !== dtype)
      bad(`op "${op}": ${field} tensor "${name}" is ${t.dtype}, expected ${dtype}`);
    if (shape && !sameShape(t.shape, shape)) {
      bad(
        `op "${op}": ${field} tensor "${name}" has shape ${fmt(t.shape)}, expected ${fmt(shape)}`,
      );
    }
    return t;
  };

  const checkKernel = (op: string, k: KernelEntry, rank: number) => {
    if (k.shape.length !== rank)
      bad(`op "${op}": kernel shape ${fmt(k.shape)} should have rank ${rank}`);
    const cout = k.shape[rank - 1]!;
    if (k.encoding === 'float32') {
      tensor(op, 'kernel.values', k.values, 'float32', k.shape);
      return;
    }
    tensor(op, 'kernel.codes', k.codes, k.encoding === 'ternary' ? 'ternary2' : 'binary1', k.shape);
    for (const field of ['positive', 'negative'] as const) {
      const t = tensor(op, `kernel.${field}`, k[field], 'float32');
      if (!(t.shape.length === 1 && (t.shape[0] === 1 || t.shape[0] === cout))) {
        bad(
          `op "${op}": kernel.${field} tensor "${k[field]}" has shape ${fmt(t.shape)}, expected [1] or [${cout}]`,
        );
      }
    }
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
    const out = opShape(op, ins, tensor, checkKernel);
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

type TensorCheck = (
  op: string,
  field: string,
  name: string,
  dtype: TensorDType,
  shape?: readonly number[],
) => TensorEntry;

function opShape(
  op: OpEntry,
  ins: readonly (readonly number[])[],
  tensor: TensorCheck,
  checkKernel: (op: string, k: KernelEntry, rank: number) => void,
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
      if (op.bias !== null) tensor(name, 'bias', op.bias, 'float32', [cout]);
      const win = slidingWindow(
        h,
        w,
        kh,
        kw,
        op.strides[0],
        op.strides[1],
        op.padding,
        `op "${name}"`,
      );
      return [win.outH, win.outW, cout];
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
      if (op.bias !== null) tensor(name, 'bias', op.bias, 'float32', [cout]);
      return [...s.slice(0, -1), cout];
    }
    case 'affine': {
      const s = ins[0]!;
      const c = s[s.length - 1]!;
      tensor(name, 'scale', op.scale, 'float32', [c]);
      tensor(name, 'shift', op.shift, 'float32', [c]);
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
    case 'relu':
    case 'softmax':
      return ins[0]!;
    case 'flatten':
      return [shapeSize(ins[0]!)];
    case 'globalAvgPool':
      return [rank3('globalAvgPool')[2]];
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
      const [[t, b], [l, r]] = op.padding;
      return [h + t + b, w + l + r, c + op.channels[0] + op.channels[1]];
    }
    case 'subsample': {
      const [h, w, c] = rank3('subsample');
      return [Math.ceil(h / op.strides[0]), Math.ceil(w / op.strides[1]), c];
    }
  }
}
