/**
 * What kind of problem a {@link TritFormatError} reports, for programs that
 * want to react to one case (tests, loaders that retry a download).
 */
export type TritErrorCode =
  /** The manifest is not an object of the documented shape (a missing or mistyped field). */
  | 'bad-manifest'
  /** `format` is not `trit-model`. */
  | 'unknown-format'
  /** `version` is not one this reader understands. */
  | 'unsupported-version'
  /** An op type this runtime does not implement. */
  | 'unknown-op'
  /** The binary is shorter than the manifest says (an interrupted download or write). */
  | 'truncated'
  /** The binary's length differs from the manifest's in another way (a different file). */
  | 'size-mismatch'
  /** A tensor's CRC32, or the whole binary's, does not match. */
  | 'checksum'
  /** A code byte is not five base-3 digits (above 242), a digit or bit past the last weight is set, or a packed kernel holds the invalid 2-bit code `11` (in-memory layout). */
  | 'invalid-code'
  /** Shapes, inputs or values do not fit together (a graph that cannot run). */
  | 'bad-graph'
  /** A float tensor holds NaN or ±Infinity: in the file, in a run's input, or in a result (an op overflowed float32). */
  | 'non-finite'
  /** The manifest is larger than the size limit (`maxManifestBytes`, default `MAX_MANIFEST_BYTES`, 4 MiB). */
  | 'too-large'
  /** Fetching a file failed (HTTP status, network). */
  | 'fetch-failed'
  /** A call got input that does not fit the model (wrong shape, unknown input or output name). */
  | 'bad-input';

/**
 * The one error type the runtime throws for bad models and bad input:
 * `code` says what kind of problem it is and the message names the field,
 * op or tensor at fault.
 */
export class TritFormatError extends Error {
  readonly code: TritErrorCode;

  constructor(code: TritErrorCode, message: string) {
    super(message);
    this.name = 'TritFormatError';
    this.code = code;
  }
}
