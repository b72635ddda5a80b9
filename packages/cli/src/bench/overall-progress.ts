/**
 * Whole-sweep progress for `trit bench`: a full preset is hours of epochs
 * across several training phases (FP32 pre-training, then one run per
 * method x seed), and the per-epoch progress bar alone does not say when
 * the sweep ends. Epochs of one preset share the dataset, so their wall time
 * is comparable; the estimate is the mean wall time of the epochs this
 * process has finished (training, test evaluation and checkpoint included).
 */
export class OverallProgress {
  private done: number;
  private measured = 0;
  private measuredSeconds = 0;

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
    this.measured++;
    this.measuredSeconds += seconds;
  }

  /** Estimated seconds left, or undefined before the first measured epoch. */
  secondsLeft(): number | undefined {
    if (this.measured === 0) return undefined;
    return (this.totalEpochs - this.done) * (this.measuredSeconds / this.measured);
  }

  /** One log line: `12/55 epochs (22%), 7.3 min/epoch, ETA 5h 14m (at 16:40)`. */
  line(now: Date = new Date()): string {
    const pct = this.totalEpochs ? Math.round((100 * this.done) / this.totalEpochs) : 100;
    const head = `${this.done}/${this.totalEpochs} epochs (${pct}%)`;
    const left = this.secondsLeft();
    if (left === undefined) return `${head}, ETA after the first epoch`;
    const perEpoch = this.measuredSeconds / this.measured;
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
