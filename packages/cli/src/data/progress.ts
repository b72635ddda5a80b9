import type { Split } from './presets.js';

/**
 * Progress of a long operation, for bars with rate and ETA.
 * - `download`: bytes received (`done` includes a resumed prefix, see `resumedFrom`)
 * - `checksum`: bytes hashed
 * - `read`: archive bytes read (the scan: names and sizes, index files)
 * - `extract`: archive bytes read again, keeping only the files to import
 * - `decode`: images decoded and written, per split
 */
export interface ProgressEvent {
  readonly phase: 'download' | 'checksum' | 'read' | 'extract' | 'decode';
  readonly split?: Split;
  readonly done: number;
  /** Undefined when unknown (a download without Content-Length). */
  readonly total: number | undefined;
  readonly unit: 'bytes' | 'images';
  /** For `download`: bytes already on disk when this transfer started. */
  readonly resumedFrom?: number;
}

export type ProgressCallback = (event: ProgressEvent) => void;
