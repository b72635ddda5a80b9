import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The default dataset cache: `$TRIT_DATA_DIR`, else `$XDG_CACHE_HOME/trit/datasets`,
 * else `~/.cache/trit/datasets`. Empty variables count as unset.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.TRIT_DATA_DIR?.trim();
  if (explicit) return resolve(explicit);
  const xdg = env.XDG_CACHE_HOME?.trim();
  if (xdg) return resolve(xdg, 'trit', 'datasets');
  return join(homedir(), '.cache', 'trit', 'datasets');
}

/** `dataDir` if given (resolved to an absolute path), else {@link defaultDataDir}. */
export function resolveDataDir(dataDir?: string): string {
  return dataDir !== undefined && dataDir !== '' ? resolve(dataDir) : defaultDataDir();
}
