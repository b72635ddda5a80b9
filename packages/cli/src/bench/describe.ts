/** How errors about a JSON value name a field and show a value (one definition for studies and results). */

/** `a.b[2].c` for a schema issue's path. */
export function fieldPath(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const p of parts)
    out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

/** The value at a path inside a JSON value (undefined where the path leaves it). */
export function valueAt(root: unknown, parts: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of parts) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** A value as short JSON for a message: `missing` when absent, cut at `max` characters. */
export function showValue(v: unknown, max = 80): string {
  if (v === undefined) return 'missing';
  const s = JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
