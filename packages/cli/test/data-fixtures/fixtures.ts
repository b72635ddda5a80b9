// Generated fixtures for the dataset tests: tiny PNG/JPEG images (sharp),
// CIFAR-10 .bin files and tar archives (node-tar), all in a temp dir.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { create } from 'tar';
import { CIFAR10_CLASSES } from '../../src/data/presets.js';

/** A fresh temp dir; `cleanup()` removes everything made with it. */
export async function tempDir(prefix = 'trit-data-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Names in `dir` (empty list if it does not exist). */
export async function ls(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

export type PixelFn = (x: number, y: number, c: number) => number;

/** Raw RGB HWC pixels of a w x h image from `fn`. */
export function rgbPixels(w: number, h: number, fn: PixelFn): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = fn(x, y, c) & 255;
  return out;
}

export async function png(w: number, h: number, fn: PixelFn): Promise<Buffer> {
  return sharp(rgbPixels(w, h, fn), { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

export async function jpeg(w: number, h: number, fn: PixelFn): Promise<Buffer> {
  return sharp(rgbPixels(w, h, fn), { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

/** A single-channel (grayscale) PNG or JPEG. */
export async function grayImage(
  w: number,
  h: number,
  fn: (x: number, y: number) => number,
  format: 'png' | 'jpeg',
): Promise<Buffer> {
  const px = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = fn(x, y) & 255;
  const img = sharp(px, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w');
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 100 }).toBuffer();
}

export async function put(file: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, data);
}

/** Pixel value of image `i` of class `label` in split `split` of {@link makeCifarFolder}. */
export function cifarPixel(split: 'train' | 'test', label: number, i: number): PixelFn {
  return (x, y, c) =>
    (label * 23 + i * 7 + (split === 'test' ? 100 : 0) + x * 3 + y * 5 + c * 11) % 256;
}

/**
 * A CIFAR-10 image folder: `<root>/<top>/{train,test}/<class>/<i>.png` with
 * `perClass` images per class and split, pixels from {@link cifarPixel}.
 * File names are `0.png, 1.png, ...` (unpadded, to exercise the natural sort).
 */
export async function makeCifarFolder(
  root: string,
  options: { perClass?: { train: number; test: number }; top?: string; size?: number } = {},
): Promise<string> {
  const per = options.perClass ?? { train: 2, test: 1 };
  const size = options.size ?? 32;
  const base = join(root, options.top ?? 'cifar10-jpeg');
  for (const split of ['train', 'test'] as const) {
    for (let label = 0; label < CIFAR10_CLASSES.length; label++) {
      for (let i = 0; i < per[split]; i++) {
        await put(
          join(base, split, CIFAR10_CLASSES[label]!, `${i}.png`),
          await png(size, size, cifarPixel(split, label, i)),
        );
      }
    }
  }
  return base;
}

/** Bytes of one CIFAR-10 binary record: label, then 1024 R, 1024 G, 1024 B. */
export function cifarRecord(label: number, fn: PixelFn): Uint8Array {
  const rec = new Uint8Array(3073);
  rec[0] = label;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) rec[1 + c * 1024 + y * 32 + x] = fn(x, y, c) & 255;
  return rec;
}

/** Pixel function of record `r` of file `f` in {@link makeCifarBinary}. */
export function binPixel(f: number, r: number): PixelFn {
  return (x, y, c) => (f * 50 + r * 13 + x + 2 * y + 60 * c) % 256;
}

/**
 * `<root>/cifar-10-batches-bin/` with data_batch_1..5.bin and test_batch.bin,
 * `records` records per file; record r of file f (1..6, 6 = test) has label
 * `labelOf(f, r)` and pixels {@link binPixel}.
 */
export async function makeCifarBinary(
  root: string,
  records = 4,
  labelOf: (f: number, r: number) => number = (f, r) => (f + r) % 10,
): Promise<string> {
  const dir = join(root, 'cifar-10-batches-bin');
  const names = [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
    'test_batch.bin',
  ];
  for (let f = 1; f <= 6; f++) {
    const buf = new Uint8Array(records * 3073);
    for (let r = 0; r < records; r++) buf.set(cifarRecord(labelOf(f, r), binPixel(f, r)), r * 3073);
    await put(join(dir, names[f - 1]!), buf);
  }
  await put(join(dir, 'batches.meta.txt'), `${CIFAR10_CLASSES.join('\n')}\n`);
  return dir;
}

/** Packs `cwd/<paths>` into `file` (.tar.gz unless it ends in .tar). */
export async function makeTar(file: string, cwd: string, paths: string[]): Promise<string> {
  await create({ file, cwd, gzip: !file.endsWith('.tar'), portable: true }, paths);
  return file;
}

/** HWC pixels of image `index` of a loaded split. */
export function imageAt(images: Uint8Array, index: number, size = 32): Uint8Array {
  const n = size * size * 3;
  return images.subarray(index * n, (index + 1) * n);
}
