/**
 * How many of the newest epochs an ETA takes its pace from, here and in
 * `trit bench status`.
 */
export const RECENT_EPOCHS = 3;

/**
 * Whole-sweep progress for `trit bench`: a full preset is hours of epochs
 * across several training phases (FP32 pre-training, then one run per
 * method x seed), and the per-epoch progress bar alone does not say when
 * the sweep ends. Epochs of one preset share the dataset, so their wall time
 * is comparable; the estimate is the mean wall time of the newest
 * {@link RECENT_EPOCHS} epochs this process has finished (training, test
 * evaluation and checkpoint included): the current pace, so that an epoch
 * slowed by a pause or by other work on the machine stops counting once newer
 * ones have finished.
 */
export class OverallProgress {
  private done: number;
  /** Wall seconds of the newest epochs of this process, at most {@link RECENT_EPOCHS}. */
  private readonly recent: number[] = [];

  /**
   * @param totalEpochs epochs in every phase of this sweep (or shard)
   * @param doneEpochs epochs already finished by an earlier, resumed process
   */
  constructor(
    readonly totalEpochs: number,
    doneEpochs = 0,
  ) {
    if (!Number.isInteger(totalEpochs) || totalEpochs < 0) {
      throw new Error(`totalEpochs must be a non-negative integer, got ${totalEpochs}`);
    }
    if (!Number.isInteger(doneEpochs) || doneEpochs < 0 || doneEpochs > totalEpochs) {
      throw new Error(`doneEpochs must be an integer in [0, ${totalEpochs}], got ${doneEpochs}`);
    }
    this.done = doneEpochs;
  }

  get doneEpochs(): number {
    return this.done;
  }

  /** Records one finished epoch that took `seconds` of wall time. */
  epochFinished(seconds: number): void {
    if (!(seconds >= 0)) throw new Error(`epoch seconds must be >= 0, got ${seconds}`);
    this.done = Math.min(this.totalEpochs, this.done + 1);
    this.recent.push(seconds);
    if (this.recent.length > RECENT_EPOCHS) this.recent.shift();
  }

  /** Mean wall seconds of the newest epochs, or undefined before the first measured epoch. */
  secondsPerEpoch(): number | undefined {
    if (this.recent.length === 0) return undefined;
    return this.recent.reduce((a, b) => a + b, 0) / this.recent.length;
  }

  /** Estimated seconds left, or undefined before the first measured epoch. */
  secondsLeft(): number | undefined {
    const perEpoch = this.secondsPerEpoch();
    return perEpoch === undefined ? undefined : (this.totalEpochs - this.done) * perEpoch;
  }

  /** One log line: `12/55 epochs (22%), 7.3 min/epoch, ETA 5h 14m (at 16:40)`. */
  line(now: Date = new Date()): string {
    const pct = this.totalEpochs ? Math.round((100 * this.done) / this.totalEpochs) : 100;
    const head = `${this.done}/${this.totalEpochs} epochs (${pct}%)`;
    const perEpoch = this.secondsPerEpoch();
    const left = this.secondsLeft();
    if (perEpoch === undefined || left === undefined) return `${head}, ETA after the first epoch`;
    const at = new Date(now.getTime() + left * 1000);
    const clock = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
    return `${head}, ${(perEpoch / 60).toFixed(1)} min/epoch, ETA ${formatDuration(left)} (at ${clock})`;
  }
}

/** `5h 14m`, `14m 05s`, `42s`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}
