import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Whether an import names a file (a path) rather than a package. */
function isPath(spec: string): boolean {
  return (
    spec.startsWith('./') ||
    spec.startsWith('../') ||
    path.isAbsolute(spec) ||
    /\.(m?js|cjs)$/.test(spec)
  );
}

/**
 * Resolves a study's or the command line's module to an absolute file: a
 * path relative to `baseDir`, or a package name resolved from `baseDir` as
 * a script there would (so a user's own project finds its own packages).
 */
export function resolveImport(spec: string, baseDir: string): string {
  if (isPath(spec)) {
    const file = path.resolve(baseDir, spec);
    if (!existsSync(file)) throw new Error(`import "${spec}": no such file ${file}`);
    return file;
  }
  try {
    return createRequire(path.join(baseDir, 'noop.js')).resolve(spec);
  } catch (err) {
    throw new Error(
      `import "${spec}": cannot find the package from ${baseDir} (${(err as Error).message.split('\n')[0]}); install it there or give a path`,
    );
  }
}

/**
 * Loads modules before a study runs, in order, so the quantizers, models and
 * data sources they register exist when the study is checked. Each module
 * is loaded once per process. Errors name the module.
 */
export async function loadImports(specs: readonly string[], baseDir: string): Promise<string[]> {
  const files: string[] = [];
  for (const spec of specs) {
    const file = resolveImport(spec, baseDir);
    try {
      await import(pathToFileURL(file).href);
    } catch (err) {
      throw new Error(`import "${spec}" (${file}) failed: ${(err as Error).message}`);
    }
    files.push(file);
  }
  return files;
}
