import { z } from 'zod';
import { DatasetError } from './errors.js';

/**
 * Version of the on-disk dataset cache (the `formatVersion` field of a split's meta
 * file); bump when the layout of the files changes. Not the model format
 * version (`@trit/runtime`'s `FORMAT_VERSION`).
 */
export const DATASET_CACHE_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex sha256');
const count = z.number().int().nonnegative();
const positive = z.number().int().positive();

const fileEntry = z.object({
  /** File name inside the cache entry folder. */
  name: z.string().regex(/^[A-Za-z0-9._-]+$/),
  bytes: count,
  sha256,
});

const layoutKind = z.enum(['cifar10-binary', 'cifar10-folder', 'tiny-imagenet', 'imagenet-folder']);

/**
 * Schema of `<dataDir>/<entry>/<split>.meta.json`. The image file is raw uint8
 * NHWC (`count*height*width*channels` bytes), the label file uint8 or
 * little-endian uint16 (`count` labels).
 */
export const SplitMetaSchema = z
  .object({
    formatVersion: z.literal(DATASET_CACHE_VERSION),
    /** Registered dataset (preset) name. */
    dataset: z.string().min(1),
    /** Cache entry name (= dataset unless imported with `saveAs`). */
    entry: z.string().min(1),
    split: z.enum(['train', 'test']),
    /** The split's name in the source (`val` for ImageNet-style sources). */
    sourceSplit: z.string().min(1),
    count: positive,
    height: positive,
    width: positive,
    channels: z.literal(3),
    layout: z.literal('NHWC'),
    dtype: z.literal('uint8'),
    labelType: z.enum(['uint8', 'uint16']),
    classes: positive,
    classNames: z.array(z.string()),
    /** Source class ids (wnids for ImageNet-style sources, else the names). */
    classIds: z.array(z.string()),
    classCounts: z.array(count),
    /** Per-channel mean/std of the imported train split, on pixel/255. */
    normalization: z.object({
      mean: z.array(z.number().finite()),
      std: z.array(z.number().finite().positive()),
      computedFrom: z.literal('train'),
    }),
    source: z.object({
      path: z.string(),
      kind: z.enum(['archive', 'folder']),
      layout: layoutKind,
      /** sha256 of the archive; null for folders. */
      sha256: sha256.nullable(),
    }),
    selection: z.object({
      classes: positive.nullable(),
      perClass: positive.nullable(),
      rule: z.string(),
    }),
    resize: z
      .object({ width: positive, height: positive, fit: z.enum(['cover', 'contain', 'fill']) })
      .nullable(),
    skipped: z.object({
      count,
      /** The first skipped images (at most 100). */
      items: z.array(z.object({ path: z.string(), reason: z.string() })),
    }),
    files: z.object({ images: fileEntry, labels: fileEntry }),
    /**
     * How the source differed from the official release when it was imported
     * with `allowNonStandardCount` (empty, or absent in older metas, = official counts).
     */
    nonStandardCount: z.array(z.string()).optional(),
    importedAt: z.string(),
    caveat: z.string().nullable(),
  })
  .superRefine((m, ctx) => {
    const issue = (message: string, path: (string | number)[]) =>
      ctx.addIssue({ code: 'custom', message, path });
    if (m.classNames.length !== m.classes) issue(`must have ${m.classes} entries`, ['classNames']);
    if (m.classIds.length !== m.classes) issue(`must have ${m.classes} entries`, ['classIds']);
    if (m.classCounts.length !== m.classes)
      issue(`must have ${m.classes} entries`, ['classCounts']);
    else if (m.classCounts.reduce((a, b) => a + b, 0) !== m.count) {
      issue(`must sum to count (${m.count})`, ['classCounts']);
    }
    if (m.normalization.mean.length !== m.channels)
      issue('one value per channel', ['normalization', 'mean']);
    if (m.normalization.std.length !== m.channels)
      issue('one value per channel', ['normalization', 'std']);
    if (m.labelType === 'uint8' && m.classes > 256)
      issue('uint8 labels hold at most 256 classes', ['labelType']);
    if (m.classes > 65536) issue('at most 65536 classes', ['classes']);
    const imageBytes = m.count * m.height * m.width * m.channels;
    if (m.files.images.bytes !== imageBytes) {
      issue(`must be count*height*width*channels = ${imageBytes}`, ['files', 'images', 'bytes']);
    }
    const labelBytes = m.count * (m.labelType === 'uint8' ? 1 : 2);
    if (m.files.labels.bytes !== labelBytes) {
      issue(`must be ${labelBytes} for ${m.count} ${m.labelType} labels`, [
        'files',
        'labels',
        'bytes',
      ]);
    }
  });

export type SplitMeta = z.infer<typeof SplitMetaSchema>;

/** File name of a split's meta JSON inside a cache entry. */
export function metaFileName(split: string): string {
  return `${split}.meta.json`;
}

/** Validates parsed JSON against {@link SplitMetaSchema}; errors name the file and the bad fields. */
export function parseSplitMeta(json: unknown, file: string): SplitMeta {
  const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === 'number' && version !== DATASET_CACHE_VERSION) {
    throw new DatasetError(
      'BAD_CACHE',
      `${file} has cache format version ${version}, this version of trit reads version ${DATASET_CACHE_VERSION}; re-import the dataset`,
    );
  }
  const parsed = SplitMetaSchema.safeParse(json);
  if (!parsed.success) {
    throw new DatasetError(
      'BAD_CACHE',
      `${file} is not a valid dataset meta file:\n${z.prettifyError(parsed.error)}\nRe-import the dataset.`,
    );
  }
  return parsed.data;
}
