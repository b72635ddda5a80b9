import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Split } from './presets.js';

/** Name, size and sha256 of one cache file. */
export interface CacheFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface WrittenSplit {
  readonly count: number;
  readonly classCounts: number[];
  readonly labelType: 'uint8' | 'uint16';
  readonly images: CacheFile;
  readonly labels: CacheFile;
  /** Per-channel sums of pixel values (0-255) and of their squares, when stats were requested. */
  readonly sums: Float64Array;
  readonly sumSquares: Float64Array;
}

const CHUNK_BYTES = 8 << 20;

/**
 * Appends images (uint8 HWC RGB, all the same size) to `<split>.images.u8` in
 * large chunks while hashing them, and collects labels and per-channel pixel
 * sums (for the normalization statistics). `finish()` writes the label file.
 */
export class SplitWriter {
  private handle: FileHandle | undefined;
  private readonly hash: Hash = createHash('sha256');
  private chunk: Uint8Array | undefined;
  private fill = 0;
  private bytes = 0;
  private readonly labels: number[] = [];
  private readonly classCounts: number[];
  readonly sums = new Float64Array(3);
  readonly sumSquares = new Float64Array(3);
  private imageBytes = 0;

  constructor(
    private readonly dir: string,
    private readonly split: Split,
    private readonly numClasses: number,
    private readonly collectStats: boolean,
  ) {
    this.classCounts = new Array<number>(numClasses).fill(0);
  }

  get count(): number {
    return this.labels.length;
  }

  get imagesFile(): string {
    return `${this.split}.images.u8`;
  }

  /** Appends one image; the first image fixes the image size. */
  async add(pixels: Uint8Array, label: number): Promise<void> {
    if (this.imageBytes === 0) {
      this.imageBytes = pixels.length;
      const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / pixels.length));
      this.chunk = new Uint8Array(perChunk * pixels.length);
      this.handle = await open(join(this.dir, this.imagesFile), 'wx');
    } else if (pixels.length !== this.imageBytes) {
      throw new Error(
        `SplitWriter: image of ${pixels.length} bytes after images of ${this.imageBytes}`,
      );
    }
    if (!Number.isInteger(label) || label < 0 || label >= this.numClasses) {
      throw new Error(`SplitWriter: label ${label} outside [0, ${this.numClasses})`);
    }
    const chunk = this.chunk!;
    chunk.set(pixels, this.fill);
    this.fill += pixels.length;
    this.labels.push(label);
    this.classCounts[label]!++;
    if (this.collectStats) this.accumulate(pixels);
    if (this.fill + pixels.length > chunk.length) await this.flush();
  }

  private accumulate(px: Uint8Array): void {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let q0 = 0;
    let q1 = 0;
    let q2 = 0;
    for (let i = 0; i < px.length; i += 3) {
      const r = px[i]!;
      const g = px[i + 1]!;
      const b = px[i + 2]!;
      s0 += r;
      s1 += g;
      s2 += b;
      q0 += r * r;
      q1 += g * g;
      q2 += b * b;
    }
    this.sums[0]! += s0;
    this.sums[1]! += s1;
    this.sums[2]! += s2;
    this.sumSquares[0]! += q0;
    this.sumSquares[1]! += q1;
    this.sumSquares[2]! += q2;
  }

  private async flush(): Promise<void> {
    if (this.fill === 0 || !this.handle || !this.chunk) return;
    const view = this.chunk.subarray(0, this.fill);
    this.hash.update(view);
    let off = 0;
    while (off < view.length) {
      const { bytesWritten } = await this.handle.write(view, off, view.length - off);
      off += bytesWritten;
    }
    this.bytes += view.length;
    this.fill = 0;
  }

  /** Flushes, closes and writes the label file (uint8, or little-endian uint16 above 256 classes). */
  async finish(): Promise<WrittenSplit> {
    await this.flush();
    await this.close();
    const labelType = this.numClasses <= 256 ? 'uint8' : 'uint16';
    const labels =
      labelType === 'uint8' ? Uint8Array.from(this.labels) : uint16LittleEndian(this.labels);
    const labelsName = `${this.split}.labels.${labelType === 'uint8' ? 'u8' : 'u16'}`;
    await writeFile(join(this.dir, labelsName), labels, { flag: 'wx' });
    return {
      count: this.labels.length,
      classCounts: this.classCounts,
      labelType,
      images: { name: this.imagesFile, bytes: this.bytes, sha256: this.hash.digest('hex') },
      labels: {
        name: labelsName,
        bytes: labels.byteLength,
        sha256: createHash('sha256').update(labels).digest('hex'),
      },
      sums: this.sums,
      sumSquares: this.sumSquares,
    };
  }

  /** Closes the image file (safe to call more than once, e.g. after a failure). */
  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }
}

function uint16LittleEndian(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, values[i]!, true);
  return out;
}
