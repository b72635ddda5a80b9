/** `1536` -> `1.5 KB`, `20_000_000` -> `19.1 MB` (binary multiples). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

/** A rate in units per second: `12.3 MB/s` for bytes, `2,345 img/s` for images. */
export function formatRate(perSecond: number, unit: 'bytes' | 'images'): string {
  if (!Number.isFinite(perSecond) || perSecond < 0) return '-';
  return unit === 'bytes'
    ? `${formatBytes(perSecond)}/s`
    : `${Math.round(perSecond).toLocaleString('en-US')} img/s`;
}

/** A count of `unit`: bytes as `19.1 MB`, images as `50,000`. */
export function formatAmount(value: number, unit: 'bytes' | 'images'): string {
  return unit === 'bytes' ? formatBytes(value) : value.toLocaleString('en-US');
}
