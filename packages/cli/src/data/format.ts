import { formatBytes } from '@trit/quant-core';

/** A rate in units per second: `12.30 MiB/s` for bytes, `2,345 img/s` for images. */
export function formatRate(perSecond: number, unit: 'bytes' | 'images'): string {
  if (!Number.isFinite(perSecond) || perSecond < 0) return '-';
  return unit === 'bytes'
    ? `${formatBytes(perSecond)}/s`
    : `${Math.round(perSecond).toLocaleString('en-US')} img/s`;
}

/** A count of `unit`: bytes as `19.07 MiB` (quant-core's `formatBytes`), images as `50,000`. */
export function formatAmount(value: number, unit: 'bytes' | 'images'): string {
  return unit === 'bytes' ? formatBytes(value) : value.toLocaleString('en-US');
}
