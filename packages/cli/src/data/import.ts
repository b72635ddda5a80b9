import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commitStaging, makeStagingDir, removeStaleStaging } from './cache.js';
import {
  decodeImage,
  isPixelLimitError,
  type ResizePolicy,
  readImageSize,
  withoutSharpCache,
} from './decode.js';
import { DatasetError, errorMessage } from './errors.js';
import { dataDirArg } from './hints.js';
import {
  type BinaryPlan,
  CIFAR_BIN_CAP,
  CIFAR_RECORD_BYTES,
  CIFAR_RECORDS_PER_FILE,
  checkCifarBinary,
  cifarRecordToHwc,
  type ImageItem,
  type ImagePlan,
  type ImportPlan,
  indexFileNames,
  planImport,
} from './layouts/index.js';
import { DATASET_CACHE_VERSION, metaFileName, type SplitMeta, SplitMetaSchema } from './meta.js';
import { checkEnum, checkKeys, checkPositiveInt, checkResize, resolvePerClass } from './options.js';
import { resolveDataDir } from './paths.js';
import {
  checkDatasetName,
  type DatasetPreset,
  getDatasetPreset,
  type ImageSize,
  type LayoutKind,
  type PerClass,
  SPLITS,
  type Split,
} from './presets.js';
import type { ProgressCallback } from './progress.js';
import { type ByteCap, openSource, type SourceTree } from './source.js';
import { SplitWriter } from './writer.js';

export type BadImagePolicy = 'error' | 'skip';

export interface ImportOptions {
  /** Archive (`.tar.gz`, `.tgz`, `.tar`) or folder; defaults to the preset's shipped source. */
  readonly from?: string;
  /** Cache root (default: `$TRIT_DATA_DIR`, `$XDG_CACHE_HOME/trit/datasets`, `~/.cache/trit/datasets`). */
  readonly dataDir?: string;
  /** Import only the first N classes (canonical order). */
  readonly classes?: number;
  /** Import only the first N images per class (natural file-name / record order). */
  readonly perClass?: PerClass;
  /** Undecodable images: fail (default) or skip and count them. */
  readonly onBadImage?: BadImagePolicy;
  /** Resize every image; without it a wrongly sized image is an error. */
  readonly resize?: ResizePolicy;
  /** Cache entry name (default: the dataset name), e.g. to keep a subset next to the full set. */
  readonly saveAs?: string;
  /** Images decoded in parallel (default 8). */
  readonly concurrency?: number;
  /**
   * Import a source whose counts differ from the official release (`.bin`
   * files of other than 10,000 records, classes with other than the preset's
   * images per class). Off by default: such a source is a `WRONG_COUNT` error,
   * since it is usually a truncated or incomplete copy. The differences are
   * listed in the result and the meta files (`nonStandardCount`).
   */
  readonly allowNonStandardCount?: boolean;
  readonly onProgress?: ProgressCallback;
}

const IMPORT_KEYS = [
  'from',
  'dataDir',
  'classes',
  'perClass',
  'onBadImage',
  'resize',
  'saveAs',
  'concurrency',
  'allowNonStandardCount',
  'onProgress',
];

export interface SkippedImage {
  readonly path: string;
  readonly reason: string;
}

export interface ImportedSplit {
  readonly count: number;
  /** The split's name in the source (`val` for ImageNet-style sources). */
  readonly sourceSplit: string;
  readonly classCounts: readonly number[];
  readonly skipped: readonly SkippedImage[];
  /** How the source differs from the official release (empty when it does not; see `allowNonStandardCount`). */
  readonly nonStandardCount: readonly string[];
}

export interface ImportResult {
  readonly dataset: string;
  /** Cache entry name (`loadDataset` takes it). */
  readonly entry: string;
  /** Cache entry folder. */
  readonly path: string;
  readonly source: string;
  readonly layout: LayoutKind;
  readonly height: number;
  readonly width: number;
  readonly channels: 3;
  readonly classNames: readonly string[];
  readonly splits: Readonly<Record<Split, ImportedSplit>>;
  /** Images skipped as undecodable (onBadImage 'skip'), both splits. */
  readonly skipped: number;
  /** Per-channel mean/std of the imported train split, on pixel/255. */
  readonly normalization: { readonly mean: readonly number[]; readonly std: readonly number[] };
  /** Images written (both splits). */
  readonly images: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
}

interface SplitContext {
  readonly tree: SourceTree;
  readonly preset: DatasetPreset;
  readonly split: Split;
  readonly resize: ResizePolicy | undefined;
  /** Largest image file read. */
  readonly imageCap: ByteCap;
  readonly onBadImage: BadImagePolicy;
  readonly concurrency: number;
  readonly onProgress: ProgressCallback | undefined;
  /** Required size: fixed by the preset or resize, else by the first image. */
  size: { size: ImageSize; from: string } | undefined;
}

/** Largest number of skipped images listed in a meta file (all are counted). */
const MAX_SKIPPED_IN_META = 100;

/** Image file cap when any source size is accepted (a resize policy, or no fixed size). */
const ANY_IMAGE_CAP = 64 * 2 ** 20;

/**
 * The largest image file read: 16x the raw RGB pixels of the required size
 * (encoded images are smaller; the margin covers headers and metadata), at
 * least 1 MiB; {@link ANY_IMAGE_CAP} when the size is not fixed.
 */
function imageByteCap(size: ImageSize | undefined): ByteCap {
  if (!size) return { bytes: ANY_IMAGE_CAP, what: 'an image file' };
  return {
    bytes: Math.max(2 ** 20, 16 * size.width * size.height * 3),
    what: `an image file of a ${size.width}x${size.height} dataset`,
  };
}

/** How many differences a WRONG_COUNT message lists (all are counted). */
const COUNTS_IN_MESSAGE = 5;

/**
 * Compares the source with the official release before anything is read:
 * every CIFAR-10 `.bin` file must hold 10,000 records, and with image layouts
 * every selected class the preset's `expectedPerClass` images (before the
 * perClass selection). Differences are a `WRONG_COUNT` error (a truncated or
 * incomplete copy imports silently otherwise), or, when allowed, the notes
 * returned per split.
 */
async function checkCounts(
  tree: SourceTree,
  plan: ImportPlan,
  preset: DatasetPreset,
  allow: boolean,
): Promise<Record<Split, string[]>> {
  const notes: Record<Split, string[]> = { train: [], test: [] };
  const amount = (n: number) => n.toLocaleString('en-US');
  if (plan.kind === 'binary') {
    for (const split of SPLITS) {
      for (const path of plan.files[split]) {
        const size = (await tree.fileSize(path)) ?? 0;
        // Partial records (checkCifarBinary) and oversized files (load) have their own errors.
        if (size % CIFAR_RECORD_BYTES !== 0 || size > CIFAR_BIN_CAP.bytes) continue;
        const records = size / CIFAR_RECORD_BYTES;
        if (records !== CIFAR_RECORDS_PER_FILE) {
          notes[split].push(
            `${tree.display(path)} holds ${amount(records)} records, the official file ${amount(CIFAR_RECORDS_PER_FILE)}`,
          );
        }
      }
    }
  } else if (preset.expectedPerClass) {
    for (const split of SPLITS) {
      const { available, sourceSplit } = plan.splits[split];
      const want = preset.expectedPerClass[split];
      available.forEach((n, label) => {
        if (n !== want) {
          notes[split].push(
            `class ${label} "${plan.classNames[label]}" has ${amount(n)} ${sourceSplit} images, the official release ${amount(want)}`,
          );
        }
      });
    }
  }
  const all = [...notes.train, ...notes.test];
  if (all.length > 0 && !allow) {
    const more = all.length - COUNTS_IN_MESSAGE;
    const official =
      plan.kind === 'binary'
        ? `${amount(CIFAR_RECORDS_PER_FILE)} records per .bin file`
        : `${amount(preset.expectedPerClass!.train)} train / ${amount(preset.expectedPerClass!.test)} test images per class`;
    throw new DatasetError(
      'WRONG_COUNT',
      `${tree.location} is not a complete ${preset.name} (the official release has ${official}): ` +
        `${all.slice(0, COUNTS_IN_MESSAGE).join('; ')}${more > 0 ? `; and ${more} more` : ''}. ` +
        'A truncated or incomplete copy? To import a non-standard count on purpose, pass ' +
        'allowNonStandardCount: true (CLI: --allow-non-standard-count)',
    );
  }
  return notes;
}

/**
 * Imports a dataset into the cache: reads the archive or folder, decodes every
 * image to RGB uint8, checks sizes, and writes per split `<split>.images.u8`
 * (NHWC), `<split>.labels.u8|u16` and `<split>.meta.json`, plus the train
 * split's per-channel mean/std. Everything is written to a staging folder that
 * is renamed into place at the end, so a failure never leaves a partial entry
 * (and a previous entry of the same name survives a failed re-import).
 */
export async function importDataset(
  name: string,
  options: ImportOptions = {},
): Promise<ImportResult> {
  return withoutSharpCache(() => importInto(name, options));
}

async function importInto(name: string, options: ImportOptions): Promise<ImportResult> {
  const started = performance.now();
  const owner = `importDataset(${JSON.stringify(name)})`;
  const preset = getDatasetPreset(name);
  checkKeys(owner, options, IMPORT_KEYS);
  const classes = checkPositiveInt(owner, 'classes', options.classes) ?? preset.classes;
  const perClass = resolvePerClass(owner, options.perClass ?? preset.perClass);
  const onBadImage =
    checkEnum(owner, 'onBadImage', options.onBadImage, ['error', 'skip']) ?? 'error';
  const resize = checkResize(owner, options.resize);
  const concurrency = checkPositiveInt(owner, 'concurrency', options.concurrency) ?? 8;
  const allowNonStandardCount = options.allowNonStandardCount ?? false;
  if (typeof allowNonStandardCount !== 'boolean') {
    throw new DatasetError(
      'BAD_OPTION',
      `${owner}: option "allowNonStandardCount" must be true or false, got ${JSON.stringify(allowNonStandardCount)}`,
    );
  }
  const entry = options.saveAs ?? name;
  checkDatasetName(entry, 'saveAs name');
  const from = options.from ?? preset.defaultFrom;
  const dataDir = resolveDataDir(options.dataDir);
  if (from === undefined || from === '') {
    throw new DatasetError(
      'BAD_OPTION',
      `importing ${name} needs a source: pass from (CLI: trit data import ${name} --from <${preset.sourceHint}>${dataDirArg(dataDir)})` +
        (preset.download ? `, or run trit data download ${name}${dataDirArg(dataDir)}` : ''),
    );
  }

  const tree = await openSource(from, {
    onProgress: options.onProgress,
    indexFiles: indexFileNames(preset),
  });
  const plan = await planImport(tree, preset, { classes, perClass });
  if (plan.kind === 'binary' && resize && (resize.width !== 32 || resize.height !== 32)) {
    throw new DatasetError(
      'BAD_OPTION',
      `${owner}: the CIFAR-10 binary release holds 32x32 images; resize is supported for image-folder sources only`,
    );
  }
  const nonStandard = await checkCounts(tree, plan, preset, allowNonStandardCount);
  const fixed = resize ?? (plan.kind === 'binary' ? { height: 32, width: 32 } : preset.imageSize);
  // Source images must have the fixed size unless resized: cap their files by it.
  const imageCap = imageByteCap(resize ? undefined : fixed);
  const wanted = new Map<string, ByteCap>();
  if (plan.kind === 'binary') {
    for (const split of SPLITS) for (const f of plan.files[split]) wanted.set(f, CIFAR_BIN_CAP);
  } else {
    for (const split of SPLITS)
      for (const item of plan.splits[split].items) wanted.set(item.path, imageCap);
  }
  // Archives: a second streaming pass keeps only these files; sizes are checked first.
  await tree.load(wanted, options.onProgress);

  await mkdir(dataDir, { recursive: true });
  await removeStaleStaging(dataDir);
  const staging = await makeStagingDir(dataDir, entry);
  let writer: SplitWriter | undefined;
  try {
    const sizeFrom = resize ? 'the resize policy' : `the ${name} preset`;
    const ctx: Omit<SplitContext, 'split'> = {
      tree,
      preset,
      resize,
      imageCap,
      onBadImage,
      concurrency,
      onProgress: options.onProgress,
      size: fixed
        ? { size: { height: fixed.height, width: fixed.width }, from: sizeFrom }
        : undefined,
    };
    const written = {} as Record<Split, Awaited<ReturnType<SplitWriter['finish']>>>;
    const skipped = {} as Record<Split, SkippedImage[]>;
    for (const split of SPLITS) {
      writer = new SplitWriter(staging, split, plan.classIds.length, split === 'train');
      const splitCtx: SplitContext = { ...ctx, split };
      skipped[split] =
        plan.kind === 'binary'
          ? await writeBinarySplit(plan, perClass[split], writer, splitCtx)
          : await writeImageSplit(plan, writer, splitCtx);
      if (writer.count === 0) {
        throw new DatasetError(
          'EMPTY_CLASS',
          `no ${split} images were imported from ${tree.location}`,
        );
      }
      written[split] = await writer.finish();
      const empty = written[split].classCounts.indexOf(0);
      if (empty >= 0) {
        throw new DatasetError(
          'EMPTY_CLASS',
          `class ${empty} "${plan.classNames[empty]}" has no usable ${split} images in ${tree.location}` +
            (skipped[split].length > 0 ? ' (all of them were skipped as undecodable)' : ''),
        );
      }
      ctx.size = splitCtx.size;
      writer = undefined;
    }

    const size = ctx.size!.size;
    const normalization = trainNormalization(written.train, size);
    const importedAt = new Date().toISOString();
    for (const split of SPLITS) {
      const w = written[split];
      const meta: SplitMeta = {
        formatVersion: DATASET_CACHE_VERSION,
        dataset: name,
        entry,
        split,
        sourceSplit: plan.kind === 'binary' ? split : plan.splits[split].sourceSplit,
        count: w.count,
        height: size.height,
        width: size.width,
        channels: 3,
        layout: 'NHWC',
        dtype: 'uint8',
        labelType: w.labelType,
        classes: plan.classIds.length,
        classNames: [...plan.classNames],
        classIds: [...plan.classIds],
        classCounts: w.classCounts,
        normalization: { ...normalization, computedFrom: 'train' },
        source: { path: tree.location, kind: tree.kind, layout: plan.layout, sha256: tree.sha256 },
        selection: {
          classes: classes ?? null,
          perClass: perClass[split] ?? null,
          rule:
            plan.kind === 'binary'
              ? 'first classes in label order; first records per class in file order'
              : 'first classes in canonical order; first images per class in natural file-name order',
        },
        resize: resize
          ? { width: resize.width, height: resize.height, fit: resize.fit ?? 'cover' }
          : null,
        skipped: {
          count: skipped[split].length,
          items: skipped[split].slice(0, MAX_SKIPPED_IN_META),
        },
        files: { images: w.images, labels: w.labels },
        nonStandardCount: nonStandard[split],
        importedAt,
        caveat: plan.layout === 'cifar10-folder' ? (preset.caveat ?? null) : null,
      };
      SplitMetaSchema.parse(meta);
      await writeFile(join(staging, metaFileName(split)), `${JSON.stringify(meta, null, 2)}\n`, {
        flag: 'wx',
      });
    }
    const path = await commitStaging(staging, dataDir, entry);
    const images = written.train.count + written.test.count;
    const seconds = (performance.now() - started) / 1000;
    return {
      dataset: name,
      entry,
      path,
      source: tree.location,
      layout: plan.layout,
      height: size.height,
      width: size.width,
      channels: 3,
      classNames: plan.classNames,
      splits: {
        train: {
          count: written.train.count,
          sourceSplit: plan.kind === 'binary' ? 'train' : plan.splits.train.sourceSplit,
          classCounts: written.train.classCounts,
          skipped: skipped.train,
          nonStandardCount: nonStandard.train,
        },
        test: {
          count: written.test.count,
          sourceSplit: plan.kind === 'binary' ? 'test' : plan.splits.test.sourceSplit,
          classCounts: written.test.classCounts,
          skipped: skipped.test,
          nonStandardCount: nonStandard.test,
        },
      },
      skipped: skipped.train.length + skipped.test.length,
      normalization,
      images,
      seconds,
      imagesPerSecond: images / seconds,
    };
  } finally {
    await writer?.close().catch(() => undefined);
    await rm(staging, { recursive: true, force: true });
  }
}

/** Per-channel mean and std (population) of the train split on pixel/255; std floored at 1/255. */
function trainNormalization(
  train: { count: number; sums: Float64Array; sumSquares: Float64Array },
  size: ImageSize,
): { mean: number[]; std: number[] } {
  const n = train.count * size.height * size.width;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < 3; c++) {
    const m = train.sums[c]! / n;
    const variance = Math.max(0, train.sumSquares[c]! / n - m * m);
    mean.push(m / 255);
    std.push(Math.max(Math.sqrt(variance), 1) / 255);
  }
  return { mean, std };
}

function reportEvery(ctx: SplitContext, done: number, total: number): void {
  if (ctx.onProgress && ((done & 255) === 0 || done === total)) {
    ctx.onProgress({ phase: 'decode', split: ctx.split, done, total, unit: 'images' });
  }
}

type Decoded =
  | { ok: true; data: Uint8Array; width: number; height: number }
  | { ok: false; error: unknown };

function wrongSize(
  where: string,
  got: { width: number; height: number },
  want: NonNullable<SplitContext['size']>,
): DatasetError {
  const w = want.size;
  return new DatasetError(
    'WRONG_SIZE',
    `image ${where} is ${got.width}x${got.height} (width x height) but ${want.from} requires ` +
      `${w.width}x${w.height}; to import images of other sizes set a resize policy ` +
      `(resize: { width, height } / --resize ${w.width}x${w.height})`,
  );
}

/** Failures that no onBadImage policy skips: size, caps, escapes, missing files. */
function isFatal(error: unknown): boolean {
  return error instanceof DatasetError && error.code !== 'BAD_IMAGE';
}

/**
 * Decodes the split's images with up to `concurrency` in flight and appends
 * them in plan order (so the cache, and which error is reported first, is
 * deterministic). Without a resize policy an image declaring more pixels
 * than the required size is refused from its header, before its pixels are
 * decoded. Returns the skipped images.
 */
async function writeImageSplit(
  plan: ImagePlan,
  writer: SplitWriter,
  ctx: SplitContext,
): Promise<SkippedImage[]> {
  const items: readonly ImageItem[] = plan.splits[ctx.split].items;
  const { tree } = ctx;
  const skipped: SkippedImage[] = [];
  if (!ctx.size && !ctx.resize) {
    // No fixed size: the first image whose header reads fixes it, before any decode starts.
    for (const item of items) {
      const size = await tree
        .readFile(item.path, ctx.imageCap)
        .then(readImageSize)
        .catch(() => undefined);
      if (size) {
        ctx.size = { size, from: `the first image (${tree.display(item.path)})` };
        break;
      }
    }
  }
  const start = (item: ImageItem): Promise<Decoded> =>
    tree
      .readFile(item.path, ctx.imageCap)
      .then(async (buf) => {
        const want = ctx.resize ? undefined : ctx.size;
        if (!want) return decodeImage(buf, ctx.resize);
        // More pixels than the required size are refused from the header,
        // before decoding; the same count in another shape is caught below.
        try {
          return await decodeImage(buf, undefined, {
            maxPixels: want.size.width * want.size.height,
          });
        } catch (err) {
          const got = isPixelLimitError(err)
            ? await readImageSize(buf).catch(() => undefined)
            : undefined;
          throw got ? wrongSize(tree.display(item.path), got, want) : err;
        }
      })
      .then(
        (img): Decoded => ({ ok: true, ...img }),
        (error: unknown): Decoded => ({ ok: false, error }),
      );
  const queue: Promise<Decoded>[] = [];
  let next = 0;
  const fill = () => {
    while (next < items.length && queue.length < ctx.concurrency) queue.push(start(items[next++]!));
  };
  fill();
  ctx.onProgress?.({
    phase: 'decode',
    split: ctx.split,
    done: 0,
    total: items.length,
    unit: 'images',
  });
  for (let i = 0; i < items.length; i++) {
    const result = await queue.shift()!;
    fill();
    const item = items[i]!;
    const where = tree.display(item.path);
    if (!result.ok) {
      if (isFatal(result.error)) throw result.error;
      const reason = errorMessage(result.error);
      if (ctx.onBadImage === 'error') {
        throw new DatasetError(
          'BAD_IMAGE',
          `cannot decode image ${where}: ${reason} (to skip undecodable images and count them, use onBadImage: 'skip' / --on-bad-image skip)`,
          { cause: result.error },
        );
      }
      skipped.push({ path: where, reason });
      reportEvery(ctx, i + 1, items.length);
      continue;
    }
    if (!ctx.size) {
      ctx.size = {
        size: { height: result.height, width: result.width },
        from: `the first image (${where})`,
      };
    } else {
      const want = ctx.size.size;
      if (result.width !== want.width || result.height !== want.height) {
        throw wrongSize(where, result, ctx.size);
      }
    }
    await writer.add(result.data, item.label);
    reportEvery(ctx, i + 1, items.length);
  }
  return skipped;
}

/** Writes a split from CIFAR-10 `.bin` files: all files are checked before any record is used. */
async function writeBinarySplit(
  plan: BinaryPlan,
  perClass: number | undefined,
  writer: SplitWriter,
  ctx: SplitContext,
): Promise<SkippedImage[]> {
  const numClasses = plan.classIds.length;
  const files: Uint8Array[] = [];
  for (const path of plan.files[ctx.split]) {
    const data = await ctx.tree.readFile(path, CIFAR_BIN_CAP);
    checkCifarBinary(data, ctx.tree.display(path));
    files.push(data);
  }
  const cap = perClass ?? Number.POSITIVE_INFINITY;
  // Count the records to import first, for an exact progress total.
  const counted = new Array<number>(numClasses).fill(0);
  let total = 0;
  for (const data of files) {
    for (let off = 0; off < data.length; off += CIFAR_RECORD_BYTES) {
      const label = data[off]!;
      if (label < numClasses && counted[label]! < cap) {
        counted[label]!++;
        total++;
      }
    }
  }
  const taken = new Array<number>(numClasses).fill(0);
  const pixels = new Uint8Array(32 * 32 * 3);
  let done = 0;
  ctx.onProgress?.({ phase: 'decode', split: ctx.split, done: 0, total, unit: 'images' });
  for (const data of files) {
    const records = data.length / CIFAR_RECORD_BYTES;
    for (let r = 0; r < records; r++) {
      const label = data[r * CIFAR_RECORD_BYTES]!;
      if (label >= numClasses || taken[label]! >= cap) continue;
      taken[label]!++;
      cifarRecordToHwc(data, r, pixels);
      await writer.add(pixels, label);
      reportEvery(ctx, ++done, total);
    }
  }
  return [];
}

/** Whether both splits of `entry` have a meta file in the cache. */
export async function isImported(
  entry: string,
  options: { dataDir?: string } = {},
): Promise<boolean> {
  const dataDir = resolveDataDir(options.dataDir);
  for (const split of SPLITS) {
    const s = await stat(join(dataDir, entry, metaFileName(split))).catch(() => undefined);
    if (!s?.isFile()) return false;
  }
  return true;
}
