import { Rng } from '@trit/quant-core';
import { DatasetError } from './errors.js';
import { checkKeys } from './options.js';
import { deriveSeed } from './prng.js';

/** What a batch iterator needs from a dataset split (a `DatasetSplit` from `loadDataset` fits). */
export interface ImageArrays {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly numClasses: number;
  /** `count*height*width*channels` bytes, NHWC. */
  readonly images: Uint8Array;
  readonly labels: ArrayLike<number>;
  /** Per-channel normalization on pixel/255 (required unless `normalize` is given explicitly or false). */
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
}

/**
 * Training augmentation, applied per image with the iterator's seeded PRNG:
 * pad by `padCrop` pixels on every side, take a random `height x width` crop,
 * then flip horizontally with probability 1/2 — the standard CIFAR recipe is
 * {@link CIFAR_AUGMENT} (pad 4, zero padding, flip).
 */
export interface AugmentOptions {
  /** Padding per side before the random crop; 0 = no crop. */
  readonly padCrop?: number;
  /**
   * `zeros` pads with black pixels (value 0 before normalization, like
   * torchvision's RandomCrop(padding=4)); `reflect` mirrors the border
   * without repeating the edge pixel.
   */
  readonly padMode?: 'zeros' | 'reflect';
  /** Random horizontal flip (p = 0.5). */
  readonly flip?: boolean;
}

/** Standard CIFAR-10 training augmentation: 4-pixel zero padding + random 32x32 crop + horizontal flip. */
export const CIFAR_AUGMENT: Readonly<Required<AugmentOptions>> = {
  padCrop: 4,
  padMode: 'zeros',
  flip: true,
};

export interface BatchOptions {
  readonly batchSize: number;
  /** Reshuffle every epoch (default false). */
  readonly shuffle?: boolean;
  /** Augmentation (default none). */
  readonly augment?: AugmentOptions | false;
  /** Seed of shuffling and augmentation (default 0); same seed -> identical batches. */
  readonly seed?: number;
  /**
   * `true` (default): x = (pixel/255 - mean[c]) / std[c] with the dataset's
   * train statistics; an object gives mean/std explicitly (pixel/255 scale);
   * `false`: x = pixel/255.
   */
  readonly normalize?:
    | boolean
    | { readonly mean: readonly number[]; readonly std: readonly number[] };
  /** Drop the last batch if it is smaller than batchSize (default false). */
  readonly dropRemainder?: boolean;
  /** Also produce one-hot float labels (default false). */
  readonly oneHot?: boolean;
}

export interface Batch {
  /** Float32 NHWC, normalized; `shape` gives its dimensions. */
  readonly x: Float32Array;
  readonly shape: [number, number, number, number];
  /** Integer labels. */
  readonly y: Int32Array;
  /** One-hot labels `[size, numClasses]` when `oneHot` is set. */
  readonly yOneHot?: Float32Array;
  readonly size: number;
  /** Indices of the images in the dataset, in batch order. */
  readonly indices: Uint32Array;
  readonly epoch: number;
  /** Batch number within the epoch. */
  readonly step: number;
}

const BATCH_KEYS = [
  'batchSize',
  'shuffle',
  'augment',
  'seed',
  'normalize',
  'dropRemainder',
  'oneHot',
];

/**
 * Turns an in-memory dataset split into batches for tfjs (`tf.tensor4d(b.x,
 * b.shape)`, `tf.tensor1d(b.y, 'int32')`). Epoch `e` is a pure function of
 * (seed, e): its permutation and its augmentation draws come from a PRNG
 * seeded with `deriveSeed(seed, e)`, consumed image by image in epoch order —
 * so the same seed gives identical batches, whatever the batch size and in
 * whatever order epochs are requested. Each batch gets fresh arrays (tfjs may
 * keep a reference to them).
 */
export class BatchIterator {
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  private readonly shuffle: boolean;
  private readonly padCrop: number;
  private readonly reflect: boolean;
  private readonly flip: boolean;
  private readonly seed: number;
  private readonly dropRemainder: boolean;
  private readonly oneHot: boolean;
  /** lut[c*256 + v] = normalized value of pixel value v in channel c. */
  private readonly lut: Float32Array;
  private readonly padValues: Float32Array;

  constructor(
    private readonly data: ImageArrays,
    options: BatchOptions,
  ) {
    const owner = 'createBatchIterator';
    checkKeys(owner, options, BATCH_KEYS);
    const { count, height, width, channels } = data;
    if (data.images.length !== count * height * width * channels) {
      throw new DatasetError(
        'BAD_OPTION',
        `${owner}: images has ${data.images.length} bytes, expected count*height*width*channels = ${count * height * width * channels}`,
      );
    }
    if (data.labels.length !== count) {
      throw new DatasetError(
        'BAD_OPTION',
        `${owner}: ${data.labels.length} labels for ${count} images`,
      );
    }
    const bs = options.batchSize;
    if (!Number.isInteger(bs) || bs < 1) {
      throw new DatasetError(
        'BAD_OPTION',
        `${owner}: option "batchSize" must be a positive integer, got ${JSON.stringify(bs)}`,
      );
    }
    this.batchSize = bs;
    const seed = options.seed ?? 0;
    if (typeof seed !== 'number' || !Number.isFinite(seed)) {
      throw new DatasetError(
        'BAD_OPTION',
        `${owner}: option "seed" must be a finite number, got ${JSON.stringify(seed)}`,
      );
    }
    this.seed = seed;
    this.shuffle = options.shuffle ?? false;
    this.dropRemainder = options.dropRemainder ?? false;
    this.oneHot = options.oneHot ?? false;
    const augment = options.augment || {};
    checkKeys(`${owner}: augment`, augment, ['padCrop', 'padMode', 'flip']);
    const pad = augment.padCrop ?? 0;
    if (!Number.isInteger(pad) || pad < 0) {
      throw new DatasetError(
        'BAD_OPTION',
        `${owner}: option "augment.padCrop" must be a non-negative integer, got ${JSON.stringify(pad)}`,
      );
    }
    const mode = augment.padMode ?? 'zeros';
    if (mode !== 'zeros' && mode !== 'reflect') {
      throw new DatasetError(
        'BAD_OPTION',
        `${owner}: option "augment.padMode" must be "zeros" or "reflect", got ${JSON.stringify(mode)}`,
      );
    }
    if (mode === 'reflect' && pad >= Math.min(height, width)) {
      throw new DatasetError(
        'BAD_OPTION',
        `${owner}: reflect padding needs padCrop < ${Math.min(height, width)}, got ${pad}`,
      );
    }
    this.padCrop = pad;
    this.reflect = mode === 'reflect';
    this.flip = augment.flip ?? false;

    const norm = options.normalize ?? true;
    let mean: readonly number[];
    let std: readonly number[];
    if (norm === false) {
      mean = new Array<number>(channels).fill(0);
      std = new Array<number>(channels).fill(1);
    } else if (norm === true) {
      if (!data.mean || !data.std) {
        throw new DatasetError(
          'BAD_OPTION',
          `${owner}: the data has no mean/std; pass normalize: { mean, std } or false`,
        );
      }
      mean = data.mean;
      std = data.std;
    } else {
      mean = norm.mean;
      std = norm.std;
    }
    if (mean.length !== channels || std.length !== channels) {
      throw new DatasetError(
        'BAD_OPTION',
        `${owner}: mean and std need ${channels} values (one per channel)`,
      );
    }
    for (const s of std) {
      if (!(s > 0) || !Number.isFinite(s)) {
        throw new DatasetError(
          'BAD_OPTION',
          `${owner}: std values must be positive, got ${JSON.stringify(std)}`,
        );
      }
    }
    this.lut = normalizationLut(mean, std);
    this.padValues = new Float32Array(channels);
    for (let c = 0; c < channels; c++) this.padValues[c] = this.lut[c * 256]!;
    this.batchesPerEpoch = this.dropRemainder ? Math.floor(count / bs) : Math.ceil(count / bs);
  }

  /** The image order of epoch `e` (identity without shuffle). */
  order(epoch: number): Uint32Array {
    return this.epochState(epoch).order;
  }

  private epochState(epoch: number): { order: Uint32Array; rng: Rng } {
    if (!Number.isInteger(epoch) || epoch < 0) {
      throw new DatasetError('BAD_OPTION', `epoch must be a non-negative integer, got ${epoch}`);
    }
    const rng = new Rng(deriveSeed(this.seed, epoch));
    const order = new Uint32Array(this.data.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (this.shuffle) rng.shuffle(order);
    return { order, rng };
  }

  /** The batches of epoch `e`. */
  *epoch(epoch: number): Generator<Batch, void, undefined> {
    const { order, rng } = this.epochState(epoch);
    const { count, height: H, width: W, channels: C, numClasses } = this.data;
    const imageSize = H * W * C;
    for (let step = 0; step < this.batchesPerEpoch; step++) {
      const start = step * this.batchSize;
      const size = Math.min(this.batchSize, count - start);
      const x = new Float32Array(size * imageSize);
      const y = new Int32Array(size);
      const indices = order.slice(start, start + size);
      for (let b = 0; b < size; b++) {
        const idx = indices[b]!;
        y[b] = this.data.labels[idx]!;
        let dy = 0;
        let dx = 0;
        let flip = false;
        if (this.padCrop > 0) {
          dy = rng.int(2 * this.padCrop + 1) - this.padCrop;
          dx = rng.int(2 * this.padCrop + 1) - this.padCrop;
        }
        if (this.flip) flip = rng.next() < 0.5;
        writeImage(
          this.data.images,
          idx * imageSize,
          x,
          b * imageSize,
          H,
          W,
          C,
          this.lut,
          this.padValues,
          dy,
          dx,
          flip,
          this.reflect,
        );
      }
      let yOneHot: Float32Array | undefined;
      if (this.oneHot) {
        yOneHot = new Float32Array(size * numClasses);
        for (let b = 0; b < size; b++) yOneHot[b * numClasses + y[b]!] = 1;
      }
      yield { x, shape: [size, H, W, C], y, yOneHot, size, indices, epoch, step };
    }
  }

  /** Iterates epoch 0. */
  [Symbol.iterator](): Generator<Batch, void, undefined> {
    return this.epoch(0);
  }
}

/**
 * The augmentation kernel: writes the image at `srcOff` into `out` at
 * `outOff`, shifted by (dy, dx) and optionally mirrored —
 * out[i][j] = padded[i + pad + dy][j' + pad + dx] with j' = W-1-j when
 * flipped (crop first, then flip) — normalized through the lookup table
 * `lut[c*256 + v]`. Out-of-image pixels take `padValues[c]` (zero padding) or
 * mirror the border without repeating the edge (`reflect`).
 */
function writeImage(
  src: Uint8Array,
  srcOff: number,
  out: Float32Array,
  outOff: number,
  H: number,
  W: number,
  C: number,
  lut: Float32Array,
  pad: Float32Array,
  dy: number,
  dx: number,
  flip: boolean,
  reflect: boolean,
): void {
  const rowStride = W * C;
  if (dy === 0 && dx === 0 && !flip) {
    for (let k = 0, p = 0; p < H * W; p++) {
      for (let c = 0; c < C; c++, k++) out[outOff + k] = lut[(c << 8) + src[srcOff + k]!]!;
    }
    return;
  }
  let o = outOff;
  for (let i = 0; i < H; i++) {
    let si = i + dy;
    if (si < 0 || si >= H) {
      if (!reflect) {
        for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) out[o++] = pad[c]!;
        continue;
      }
      si = si < 0 ? -si : 2 * H - 2 - si;
    }
    const rowBase = srcOff + si * rowStride;
    for (let j = 0; j < W; j++) {
      let sj = (flip ? W - 1 - j : j) + dx;
      if (sj < 0 || sj >= W) {
        if (!reflect) {
          for (let c = 0; c < C; c++) out[o++] = pad[c]!;
          continue;
        }
        sj = sj < 0 ? -sj : 2 * W - 2 - sj;
      }
      let s = rowBase + sj * C;
      for (let c = 0; c < C; c++) out[o++] = lut[(c << 8) + src[s++]!]!;
    }
  }
}

/** Per-channel lookup table: lut[c*256 + v] = (v/255 - mean[c]) / std[c]. */
function normalizationLut(mean: readonly number[], std: readonly number[]): Float32Array {
  const lut = new Float32Array(mean.length * 256);
  for (let c = 0; c < mean.length; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]!) / std[c]!;
  }
  return lut;
}

/** One image transform, as the iterator applies it (for inspection and tests). */
export interface ImageTransform {
  /** Vertical shift of the crop window in [-padCrop, padCrop]. */
  readonly dy: number;
  /** Horizontal shift of the crop window in [-padCrop, padCrop]. */
  readonly dx: number;
  readonly flip: boolean;
  readonly padMode?: 'zeros' | 'reflect';
}

/**
 * Applies one crop/flip/normalize transform to a single uint8 HWC image and
 * returns the Float32 result — the same kernel the batch iterator runs.
 */
export function augmentImage(
  image: Uint8Array,
  shape: { readonly height: number; readonly width: number; readonly channels: number },
  transform: ImageTransform,
  normalize: { readonly mean: readonly number[]; readonly std: readonly number[] },
): Float32Array {
  const { height: H, width: W, channels: C } = shape;
  if (image.length !== H * W * C) {
    throw new DatasetError(
      'BAD_OPTION',
      `augmentImage: image has ${image.length} bytes, expected ${H * W * C}`,
    );
  }
  const lut = normalizationLut(normalize.mean, normalize.std);
  const pad = new Float32Array(C);
  for (let c = 0; c < C; c++) pad[c] = lut[c * 256]!;
  const out = new Float32Array(H * W * C);
  writeImage(
    image,
    0,
    out,
    0,
    H,
    W,
    C,
    lut,
    pad,
    transform.dy,
    transform.dx,
    transform.flip,
    transform.padMode === 'reflect',
  );
  return out;
}

/** Creates a {@link BatchIterator}. */
export function createBatchIterator(data: ImageArrays, options: BatchOptions): BatchIterator {
  return new BatchIterator(data, options);
}

/** Training batches: shuffled every epoch, CIFAR augmentation (pad-4 crop + flip), normalized. */
export function trainBatches(
  data: ImageArrays,
  options: {
    batchSize: number;
    seed?: number;
    augment?: AugmentOptions | false;
    dropRemainder?: boolean;
  },
): BatchIterator {
  return new BatchIterator(data, {
    batchSize: options.batchSize,
    seed: options.seed ?? 0,
    shuffle: true,
    augment: options.augment ?? CIFAR_AUGMENT,
    dropRemainder: options.dropRemainder ?? false,
  });
}

/** Evaluation batches: dataset order, no augmentation, normalized. */
export function evalBatches(data: ImageArrays, options: { batchSize: number }): BatchIterator {
  return new BatchIterator(data, { batchSize: options.batchSize });
}
