import { DatasetError } from '../errors.js';
import { CIFAR10_CLASSES } from '../presets.js';
import { joinPath } from '../source.js';
import { type BinaryPlan, classCount, type LayoutReader, type Selection } from './common.js';

/** Bytes per record of the CIFAR-10 binary release: 1 label byte + 3072 pixel bytes. */
export const CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32;

/** Records in each file of the official release (5 train files + 1 test file: 50,000 / 10,000). */
export const CIFAR_RECORDS_PER_FILE = 10_000;

/** Size cap of a `.bin` file: exactly the official size (a larger file is refused before it is read). */
export const CIFAR_BIN_CAP = {
  bytes: CIFAR_RECORDS_PER_FILE * CIFAR_RECORD_BYTES,
  what: `a CIFAR-10 .bin file (${CIFAR_RECORDS_PER_FILE.toLocaleString('en-US')} records of ${CIFAR_RECORD_BYTES} bytes)`,
};

export const CIFAR_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR_TEST_FILES = ['test_batch.bin'];

/**
 * CIFAR-10 binary release: `cifar-10-batches-bin/data_batch_{1..5}.bin` (train)
 * and `test_batch.bin` (test). Each record is 1 label byte followed by
 * 1024 R, 1024 G and 1024 B bytes, row-major 32x32.
 */
export const cifarBinaryReader: LayoutReader = {
  kind: 'cifar10-binary',
  expected: 'cifar-10-batches-bin/data_batch_{1..5}.bin + test_batch.bin (CIFAR-10 binary release)',
  indexFiles: [],
  async matches(tree, dir) {
    return (
      (await tree.isFile(joinPath(dir, CIFAR_TRAIN_FILES[0]!))) ||
      (await tree.isFile(joinPath(dir, CIFAR_TEST_FILES[0]!)))
    );
  },
  async plan(tree, root, selection: Selection): Promise<BinaryPlan> {
    for (const f of [...CIFAR_TRAIN_FILES, ...CIFAR_TEST_FILES]) {
      if (!(await tree.isFile(joinPath(root, f)))) {
        throw new DatasetError(
          'BAD_LAYOUT',
          `missing ${tree.display(joinPath(root, f))}: the CIFAR-10 binary release has ${[...CIFAR_TRAIN_FILES, ...CIFAR_TEST_FILES].join(', ')}`,
        );
      }
    }
    const n = classCount(CIFAR10_CLASSES.length, selection, 'CIFAR-10');
    const classes = CIFAR10_CLASSES.slice(0, n);
    return {
      kind: 'binary',
      layout: 'cifar10-binary',
      root,
      classIds: classes,
      classNames: classes,
      files: {
        train: CIFAR_TRAIN_FILES.map((f) => joinPath(root, f)),
        test: CIFAR_TEST_FILES.map((f) => joinPath(root, f)),
      },
    };
  },
};

/**
 * Checks a whole `.bin` file before any record is used: its size must be a
 * multiple of the record size and every label must be 0-9. Errors name the
 * file and the 0-based record index.
 */
export function checkCifarBinary(data: Uint8Array, display: string): number {
  if (data.length === 0) throw new DatasetError('BAD_RECORD', `${display} is empty (no records)`);
  const whole = Math.floor(data.length / CIFAR_RECORD_BYTES);
  const rest = data.length % CIFAR_RECORD_BYTES;
  if (rest !== 0) {
    throw new DatasetError(
      'BAD_RECORD',
      `${display} is truncated: record ${whole} has only ${rest} of ${CIFAR_RECORD_BYTES} bytes ` +
        `(file size ${data.length} bytes; records are 1 label byte + 3072 pixel bytes)`,
    );
  }
  for (let r = 0; r < whole; r++) {
    const label = data[r * CIFAR_RECORD_BYTES]!;
    if (label >= CIFAR10_CLASSES.length) {
      throw new DatasetError(
        'BAD_RECORD',
        `${display}: record ${r} has label ${label}, CIFAR-10 labels are 0-9 (the file is corrupt or not a CIFAR-10 batch)`,
      );
    }
  }
  return whole;
}

/** Converts record `r` of a checked `.bin` buffer from planar CHW to interleaved HWC. */
export function cifarRecordToHwc(data: Uint8Array, r: number, out: Uint8Array): void {
  const base = r * CIFAR_RECORD_BYTES + 1;
  for (let p = 0; p < 1024; p++) {
    out[3 * p] = data[base + p]!;
    out[3 * p + 1] = data[base + 1024 + p]!;
    out[3 * p + 2] = data[base + 2048 + p]!;
  }
}
