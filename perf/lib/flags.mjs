/**
 * Checked numeric flags for the perf scripts: a bad value stops the script
 * with a message naming the flag (`Number('x')` would otherwise run a
 * measurement with NaN steps).
 */

/**
 * A whole number >= `min` from a flag's text, or exit naming the flag.
 * @param {string} name flag name without the dashes
 * @param {string} text
 * @param {number} min
 */
export function intFlag(name, text, min) {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) {
    console.error(`--${name} must be a whole number >= ${min}, got '${text}'`);
    process.exit(1);
  }
  return n;
}
