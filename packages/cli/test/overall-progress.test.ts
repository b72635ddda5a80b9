import { describe, expect, it } from 'vitest';
import { formatDuration, OverallProgress } from '../src/bench/overall-progress.js';

describe('OverallProgress', () => {
  it('no estimate before the first epoch of this process, then the mean epoch time x epochs left', () => {
    const p = new OverallProgress(10, 4); // 4 epochs done by an earlier (resumed) process
    expect(p.secondsLeft()).toBeUndefined();
    expect(p.line()).toBe('4/10 epochs (40%), ETA after the first epoch');
    p.epochFinished(300);
    p.epochFinished(420); // mean 360 s, 4 epochs left
    expect(p.doneEpochs).toBe(6);
    expect(p.secondsLeft()).toBe(1440);
    const now = new Date(2026, 10, 22, 10, 30, 0);
    expect(p.line(now)).toBe('6/10 epochs (60%), 6.0 min/epoch, ETA 24m 00s (at 10:54)');
  });

  it('the pace is the mean of the newest 3 epochs: a paused epoch stops counting', () => {
    const p = new OverallProgress(10);
    p.epochFinished(900); // e.g. the process was stopped for 10 minutes
    p.epochFinished(300);
    p.epochFinished(300);
    expect(p.secondsPerEpoch()).toBe(500);
    expect(p.secondsLeft()).toBe(3500); // 7 epochs left
    p.epochFinished(300);
    expect(p.secondsPerEpoch()).toBe(300);
    expect(p.secondsLeft()).toBe(1800);
    expect(p.line(new Date(2026, 10, 22, 10, 0, 0))).toBe(
      '4/10 epochs (40%), 5.0 min/epoch, ETA 30m 00s (at 10:30)',
    );
  });

  it('the clock wraps past midnight; the count never passes the total', () => {
    const p = new OverallProgress(2);
    p.epochFinished(3600);
    expect(p.line(new Date(2026, 10, 22, 23, 30, 0))).toBe(
      '1/2 epochs (50%), 60.0 min/epoch, ETA 1h 00m (at 00:30)',
    );
    p.epochFinished(3600);
    p.epochFinished(3600);
    expect(p.doneEpochs).toBe(2);
    expect(p.secondsLeft()).toBe(0);
  });

  it('an empty plan is 100% done', () => {
    expect(new OverallProgress(0).line()).toBe('0/0 epochs (100%), ETA after the first epoch');
  });

  it('bad counts and times are errors naming the value', () => {
    expect(() => new OverallProgress(-1)).toThrow(
      'totalEpochs must be a non-negative integer, got -1',
    );
    expect(() => new OverallProgress(3, 4)).toThrow(
      'doneEpochs must be an integer in [0, 3], got 4',
    );
    expect(() => new OverallProgress(3, 0.5)).toThrow('got 0.5');
    expect(() => new OverallProgress(3).epochFinished(Number.NaN)).toThrow(
      'epoch seconds must be >= 0, got NaN',
    );
  });
});

describe('formatDuration', () => {
  it('hours and minutes, minutes and seconds, or seconds', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(845)).toBe('14m 05s');
    expect(formatDuration(3600)).toBe('1h 00m');
    expect(formatDuration(5 * 3600 + 14 * 60 + 29)).toBe('5h 14m');
    expect(formatDuration(-5)).toBe('0s');
  });
});
