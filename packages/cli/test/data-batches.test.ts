import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  augmentImage,
  type Batch,
  batchToTensors,
  CIFAR_AUGMENT,
  createBatchIterator,
  DatasetError,
  deriveSeed,
  evalBatches,
  type ImageArrays,
  Rng,
  trainBatches,
} from '../src/data/index.js';

/** A synthetic split: seeded random pixel values, labels i % classes. */
function synthetic(count: number, size = 32, classes = 10): ImageArrays {
  const rng = new Rng(12345);
  const images = new Uint8Array(count * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextUint32() >>> 24;
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % classes;
  return {
    count,
    height: size,
    width: size,
    channels: 3,
    numClasses: classes,
    images,
    labels,
    mean: [0.5, 0.4, 0.3],
    std: [0.25, 0.2, 0.1],
  };
}

const IDENTITY = { mean: [0], std: [1 / 255] }; // x = pixel value, for hand-checked geometry
const img3x3 = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
const shape3x3 = { height: 3, width: 3, channels: 1 };
const round = (a: Float32Array) => Array.from(a, (v) => Math.round(v * 1e4) / 1e4);

describe('augmentImage (the kernel the iterator runs)', () => {
  it('normalizes per channel: (v/255 - mean[c]) / std[c]', () => {
    // H=1, W=2: pixels (0, 51, 255) and (102, 255, 0); mean (0.2, 0.4, 0.6), std (0.5, 0.2, 0.4)
    const out = augmentImage(
      Uint8Array.from([0, 51, 255, 102, 255, 0]),
      { height: 1, width: 2, channels: 3 },
      { dy: 0, dx: 0, flip: false },
      { mean: [0.2, 0.4, 0.6], std: [0.5, 0.2, 0.4] },
    );
    // R: (0-0.2)/0.5 = -0.4   G: (0.2-0.4)/0.2 = -1   B: (1-0.6)/0.4 = 1
    // R: (0.4-0.2)/0.5 = 0.4  G: (1-0.4)/0.2 = 3      B: (0-0.6)/0.4 = -1.5
    expect(round(out)).toEqual([-0.4, -1, 1, 0.4, 3, -1.5]);
  });

  it('flips horizontally', () => {
    expect(round(augmentImage(img3x3, shape3x3, { dy: 0, dx: 0, flip: true }, IDENTITY))).toEqual([
      3, 2, 1, 6, 5, 4, 9, 8, 7,
    ]);
  });

  it('crops a shifted window with zero padding', () => {
    // out[i][j] = src[i+1][j]
    expect(round(augmentImage(img3x3, shape3x3, { dy: 1, dx: 0, flip: false }, IDENTITY))).toEqual([
      4, 5, 6, 7, 8, 9, 0, 0, 0,
    ]);
    // out[i][j] = src[i-1][j+1]
    expect(round(augmentImage(img3x3, shape3x3, { dy: -1, dx: 1, flip: false }, IDENTITY))).toEqual(
      [0, 0, 0, 2, 3, 0, 5, 6, 0],
    );
  });

  it('crops first, then flips', () => {
    // out[i][j] = src[i][(2-j) + 1]: j=0 -> col 3 (pad), j=1 -> col 2, j=2 -> col 1
    expect(round(augmentImage(img3x3, shape3x3, { dy: 0, dx: 1, flip: true }, IDENTITY))).toEqual([
      0, 3, 2, 0, 6, 5, 0, 9, 8,
    ]);
  });

  it('reflect padding mirrors without repeating the edge', () => {
    // rows -1, 0, 1 -> 1, 0, 1
    expect(
      round(
        augmentImage(
          img3x3,
          shape3x3,
          { dy: -1, dx: 0, flip: false, padMode: 'reflect' },
          IDENTITY,
        ),
      ),
    ).toEqual([4, 5, 6, 1, 2, 3, 4, 5, 6]);
    // cols 2, 3, 4 -> 2, 1, 0
    expect(
      round(
        augmentImage(img3x3, shape3x3, { dy: 0, dx: 2, flip: false, padMode: 'reflect' }, IDENTITY),
      ),
    ).toEqual([3, 2, 1, 6, 5, 4, 9, 8, 7]);
  });

  it('zero padding is black before normalization', () => {
    const out = augmentImage(
      new Uint8Array(3 * 4).fill(255),
      { height: 2, width: 2, channels: 3 },
      { dy: 1, dx: 0, flip: false },
      {
        mean: [0.5, 0.5, 0.5],
        std: [0.25, 0.25, 0.5],
      },
    );
    // row 0 = source row 1 = white: (1-0.5)/0.25 = 2 (B: 1); row 1 = padding = black: (0-0.5)/0.25 = -2 (B: -1)
    expect(round(out)).toEqual([2, 2, 1, 2, 2, 1, -2, -2, -1, -2, -2, -1]);
  });
});

function collect(it: Iterable<Batch>): Batch[] {
  return [...it];
}
function concatX(batches: Batch[]): Float32Array {
  const n = batches.reduce((a, b) => a + b.x.length, 0);
  const out = new Float32Array(n);
  let o = 0;
  for (const b of batches) {
    out.set(b.x, o);
    o += b.x.length;
  }
  return out;
}

describe('BatchIterator', () => {
  const data = synthetic(300, 8);

  it('without shuffle/augmentation yields the dataset in order, normalized, with labels', () => {
    const batches = collect(evalBatches(data, { batchSize: 128 }));
    expect(batches.map((b) => b.size)).toEqual([128, 128, 44]);
    expect(batches[2]!.shape).toEqual([44, 8, 8, 3]);
    const b = batches[1]!;
    expect(b.indices[0]).toBe(128);
    expect(b.y[5]).toBe(133 % 10);
    expect(b.y).toBeInstanceOf(Int32Array);
    // element (image 128+2, pixel 7, channel 1) = (v/255 - 0.4) / 0.2
    const v = data.images[(130 * 64 + 7) * 3 + 1]!;
    expect(b.x[(2 * 64 + 7) * 3 + 1]).toBeCloseTo((v / 255 - 0.4) / 0.2, 5);
  });

  it('same seed -> identical batches; other seed or epoch -> different', () => {
    const a = collect(trainBatches(data, { batchSize: 32, seed: 7 }).epoch(3));
    const b = collect(trainBatches(data, { batchSize: 32, seed: 7 }).epoch(3));
    expect(a.length).toBe(10);
    for (let i = 0; i < a.length; i++) {
      expect(Buffer.from(a[i]!.x.buffer).equals(Buffer.from(b[i]!.x.buffer))).toBe(true);
      expect(Array.from(a[i]!.y)).toEqual(Array.from(b[i]!.y));
      expect(Array.from(a[i]!.indices)).toEqual(Array.from(b[i]!.indices));
    }
    const otherSeed = collect(trainBatches(data, { batchSize: 32, seed: 8 }).epoch(3));
    expect(Array.from(otherSeed[0]!.indices)).not.toEqual(Array.from(a[0]!.indices));
    const otherEpoch = collect(trainBatches(data, { batchSize: 32, seed: 7 }).epoch(4));
    expect(Array.from(otherEpoch[0]!.indices)).not.toEqual(Array.from(a[0]!.indices));
  });

  it('an epoch does not depend on the batch size or on which epochs ran before', () => {
    const it1 = trainBatches(data, { batchSize: 7, seed: 1 });
    const small = concatX(collect(it1.epoch(2)));
    const it2 = trainBatches(data, { batchSize: 64, seed: 1 });
    collect(it2.epoch(0));
    collect(it2.epoch(5));
    const big = concatX(collect(it2.epoch(2)));
    expect(Buffer.from(small.buffer).equals(Buffer.from(big.buffer))).toBe(true);
  });

  it('shuffling visits every image exactly once per epoch', () => {
    const it = trainBatches(data, { batchSize: 50, seed: 3 });
    for (const e of [0, 1]) {
      const seen = new Set<number>();
      for (const b of it.epoch(e)) for (const i of b.indices) seen.add(i);
      expect(seen.size).toBe(300);
    }
    expect(Array.from(it.order(0).slice(0, 10))).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // labels travel with their images
    for (const b of it.epoch(1))
      for (let k = 0; k < b.size; k++) expect(b.y[k]).toBe(b.indices[k]! % 10);
  });

  it('each augmented image is one of the 9 x 9 x 2 pad-4 crop/flip transforms, all of which occur', () => {
    const small = synthetic(400, 8);
    const seenDy = new Set<number>();
    const seenDx = new Set<number>();
    let flips = 0;
    for (const b of trainBatches(small, { batchSize: 100, seed: 11 }).epoch(0)) {
      for (let k = 0; k < b.size; k++) {
        const idx = b.indices[k]!;
        const src = small.images.subarray(idx * 192, (idx + 1) * 192);
        const got = b.x.subarray(k * 192, (k + 1) * 192);
        const norm = { mean: small.mean!, std: small.std! };
        let match: [number, number, boolean] | undefined;
        for (let dy = -4; dy <= 4 && !match; dy++) {
          for (let dx = -4; dx <= 4 && !match; dx++) {
            for (const flip of [false, true]) {
              const want = augmentImage(
                src,
                { height: 8, width: 8, channels: 3 },
                { dy, dx, flip },
                norm,
              );
              if (want.every((v, i) => v === got[i])) {
                match = [dy, dx, flip];
                break;
              }
            }
          }
        }
        expect(match).toBeDefined();
        seenDy.add(match![0]);
        seenDx.add(match![1]);
        if (match![2]) flips++;
      }
    }
    expect([...seenDy].sort((a, b) => a - b)).toEqual([-4, -3, -2, -1, 0, 1, 2, 3, 4]);
    expect(seenDx.size).toBe(9);
    // 400 fair coin flips: 200 +- 3 sigma (30)
    expect(flips).toBeGreaterThan(170);
    expect(flips).toBeLessThan(230);
  });

  it('dropRemainder, oneHot and normalize: false', () => {
    const it = createBatchIterator(data, {
      batchSize: 128,
      dropRemainder: true,
      oneHot: true,
      normalize: false,
    });
    expect(it.batchesPerEpoch).toBe(2);
    const [b] = collect(it);
    expect(b!.yOneHot!.length).toBe(128 * 10);
    // image 3 has label 3: one-hot row 3 is [0,0,0,1,0,...]
    expect(Array.from(b!.yOneHot!.subarray(30, 40))).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(b!.x[5]).toBeCloseTo(data.images[5]! / 255, 6);
  });

  it('rejects bad options with clear errors', () => {
    expect(() => createBatchIterator(data, { batchSize: 0 })).toThrow(
      /"batchSize" must be a positive integer, got 0/,
    );
    expect(() => createBatchIterator(data, { batchSize: 8, augment: { padCrop: -1 } })).toThrow(
      /padCrop/,
    );
    expect(() =>
      createBatchIterator(data, { batchSize: 8, augment: { padCrop: 8, padMode: 'reflect' } }),
    ).toThrow(/padCrop < 8/);
    expect(() => createBatchIterator(data, { batchSize: 8, shufle: true } as never)).toThrow(
      /unknown option "shufle"/,
    );
    expect(() =>
      createBatchIterator(data, { batchSize: 8, normalize: { mean: [0], std: [1] } }),
    ).toThrow(/3 values/);
    expect(() => createBatchIterator({ ...data, mean: undefined }, { batchSize: 8 })).toThrow(
      /no mean\/std/,
    );
    expect(() => createBatchIterator({ ...data, count: 301 }, { batchSize: 8 })).toThrow(
      DatasetError,
    );
    expect(() => createBatchIterator(data, { batchSize: 8 }).order(-1)).toThrow(/epoch/);
  });

  it('prepares well over 3,000 augmented 32x32 images per second', () => {
    const big = synthetic(4000);
    const it = trainBatches(big, { batchSize: 128, seed: 0 });
    collect(it.epoch(0)); // warm-up
    const t0 = performance.now();
    let n = 0;
    for (const b of it.epoch(1)) n += b.size;
    const rate = n / ((performance.now() - t0) / 1000);
    console.log(
      `input pipeline: ${Math.round(rate)} images/s (shuffle + pad-4 crop + flip + normalize)`,
    );
    expect(n).toBe(4000);
    expect(rate).toBeGreaterThan(3000);
  });

  it('CIFAR_AUGMENT is pad 4 with zeros and flip', () => {
    expect(CIFAR_AUGMENT).toEqual({ padCrop: 4, padMode: 'zeros', flip: true });
  });
});

describe('Rng', () => {
  it('is reproducible, uniform enough, and shuffles into permutations', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(new Rng(43).nextUint32()).not.toBe(xs[0]);
    const r = new Rng(1);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 10000; i++) {
      const k = r.int(10);
      expect(k).toBeGreaterThanOrEqual(0);
      expect(k).toBeLessThan(10);
      counts[k]++;
    }
    // 1000 expected per bucket, sd ~30
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
    const p = new Rng(5).shuffle(Uint32Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(deriveSeed(1, 0)).not.toBe(deriveSeed(1, 1));
    expect(deriveSeed(1, 0)).not.toBe(deriveSeed(2, 0));
    expect(deriveSeed(9, 3)).toBe(deriveSeed(9, 3));
  });
});

describe('batchToTensors', () => {
  it('makes float32 NHWC images and int32 or one-hot labels', () => {
    const data = synthetic(10, 4);
    const [b] = collect(createBatchIterator(data, { batchSize: 10 }));
    const { xs, ys } = batchToTensors(b!);
    expect(xs.shape).toEqual([10, 4, 4, 3]);
    expect(xs.dtype).toBe('float32');
    expect(ys.dtype).toBe('int32');
    expect(Array.from(ys.dataSync())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(xs.dataSync()[17]).toBe(b!.x[17]);
    tf.dispose([xs, ys]);
    const [h] = collect(createBatchIterator(data, { batchSize: 10, oneHot: true }));
    const t = batchToTensors(h!);
    expect(t.ys.shape).toEqual([10, 10]);
    expect(t.ys.dtype).toBe('float32');
    tf.dispose([t.xs, t.ys]);
  });
});
