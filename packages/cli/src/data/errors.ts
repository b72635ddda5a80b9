/**
 * Every failure of the dataset layer is a {@link DatasetError} with a stable
 * `code`, so callers (the CLI, the benchmark runner) can branch on the kind of
 * problem while users read a message that names the file, record or option.
 */
export type DatasetErrorCode =
  /** The dataset name is not a registered preset (the message lists them). */
  | 'UNKNOWN_DATASET'
  /** An option has a wrong type or value. */
  | 'BAD_OPTION'
  /** `--from` does not exist or is not a supported archive/folder. */
  | 'BAD_SOURCE'
  /** The archive is truncated or corrupt. */
  | 'BAD_ARCHIVE'
  /** The source does not have the expected layout (missing file, folder or annotation). */
  | 'BAD_LAYOUT'
  /** A class folder is missing. */
  | 'MISSING_CLASS'
  /** A class has no images. */
  | 'EMPTY_CLASS'
  /** A CIFAR-10 `.bin` file is truncated or holds an invalid record. */
  | 'BAD_RECORD'
  /** A file is larger than its kind allows, or an archive's selection than the memory budget. */
  | 'TOO_LARGE'
  /** A source holds another number of images or records than the official release. */
  | 'WRONG_COUNT'
  /** An image cannot be decoded. */
  | 'BAD_IMAGE'
  /** An image has the wrong size and no resize policy was given. */
  | 'WRONG_SIZE'
  /** The dataset has not been imported into the cache. */
  | 'NOT_IMPORTED'
  /** A cache entry fails validation (meta schema, file size, checksum). */
  | 'BAD_CACHE'
  /** A download failed (HTTP error, network error, interrupted too often). */
  | 'DOWNLOAD_FAILED'
  /** A downloaded file does not match its published checksum. */
  | 'CHECKSUM_MISMATCH';

export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly code: DatasetErrorCode;

  constructor(code: DatasetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The message of any thrown value, as one line (libvips errors span several lines). */
export function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = [...new Set(text.split(/\r?\n/).map((l) => l.trim()))].filter((l) => l !== '');
  return lines.join('; ');
}
