import { DatasetError } from '../errors.js';
import type { LayoutKind, Split } from '../presets.js';
import { INDEX_FILE_CAP, joinPath, type SourceTree } from '../source.js';

/** Which classes and how many images per class to import. */
export interface Selection {
  /** First N classes in canonical order (undefined = all). */
  readonly classes: number | undefined;
  /** Images per class and split (undefined = all). */
  readonly perClass: { readonly train: number | undefined; readonly test: number | undefined };
}

/** One image of an image-folder source. */
export interface ImageItem {
  /** Path inside the source tree. */
  readonly path: string;
  readonly label: number;
}

export interface ImageSplitPlan {
  /** The split's folder name in the source (`test`, `val`). */
  readonly sourceSplit: string;
  /** Items in cache order: class by class, file names in natural order. */
  readonly items: readonly ImageItem[];
  /** Images each selected class has in the source, before the perClass selection. */
  readonly available: readonly number[];
}

interface PlanBase {
  readonly layout: LayoutKind;
  /** Folder of the dataset inside the source tree (`''` = the tree's root). */
  readonly root: string;
  /** Selected classes, canonical order. */
  readonly classIds: readonly string[];
  readonly classNames: readonly string[];
}

/** What to import from an image-folder source. */
export interface ImagePlan extends PlanBase {
  readonly kind: 'images';
  readonly splits: Readonly<Record<Split, ImageSplitPlan>>;
}

/** What to import from CIFAR-10 `.bin` files (selection is applied while reading records). */
export interface BinaryPlan extends PlanBase {
  readonly kind: 'binary';
  readonly files: Readonly<Record<Split, readonly string[]>>;
}

export type ImportPlan = ImagePlan | BinaryPlan;

/** Reader of one source layout. */
export interface LayoutReader {
  readonly kind: LayoutKind;
  /** What the layout looks like, for "not found" messages. */
  readonly expected: string;
  /** Base names of the small text files `plan` reads (an archive scan keeps only these). */
  readonly indexFiles: readonly string[];
  /** Does folder `dir` of the tree hold this layout? */
  matches(tree: SourceTree, dir: string): Promise<boolean>;
  plan(tree: SourceTree, root: string, selection: Selection): Promise<ImportPlan>;
}

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff'];

export function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** Image file names in `dir` (natural order), or undefined if `dir` is not a folder. */
export async function listImages(tree: SourceTree, dir: string): Promise<string[] | undefined> {
  const entries = await tree.list(dir);
  return entries?.filter((e) => !e.isDir && isImageFile(e.name)).map((e) => e.name);
}

export async function hasDir(tree: SourceTree, dir: string): Promise<boolean> {
  return (await tree.list(dir)) !== undefined;
}

export async function subdirs(tree: SourceTree, dir: string): Promise<string[]> {
  return ((await tree.list(dir)) ?? []).filter((e) => e.isDir).map((e) => e.name);
}

/**
 * The first folder (breadth-first, natural order, down to `maxDepth` levels
 * below the root) for which `matches` holds — archives usually wrap the
 * dataset in one top folder.
 */
export async function findRoot(
  tree: SourceTree,
  matches: (dir: string) => Promise<boolean>,
  maxDepth = 2,
): Promise<string | undefined> {
  let level = [''];
  for (let depth = 0; depth <= maxDepth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      if (await matches(dir)) return dir;
      if (depth < maxDepth) for (const s of await subdirs(tree, dir)) next.push(joinPath(dir, s));
    }
    level = next;
  }
  return undefined;
}

/** Number of classes to import, checking the request against what the source has. */
export function classCount(available: number, selection: Selection, where: string): number {
  const n = selection.classes ?? available;
  if (n > available) {
    throw new DatasetError(
      'BAD_OPTION',
      `asked for ${n} classes but ${where} has only ${available}`,
    );
  }
  return n;
}

/**
 * Image items of one class folder: the first `perClass` image files in natural
 * order (`available` = all of them). A missing folder is `MISSING_CLASS`, a
 * folder without images `EMPTY_CLASS`.
 */
export async function classFolderItems(
  tree: SourceTree,
  dir: string,
  label: number,
  perClass: number | undefined,
  className: string,
): Promise<{ items: ImageItem[]; available: number }> {
  const names = await listImages(tree, dir);
  if (names === undefined) {
    throw new DatasetError(
      'MISSING_CLASS',
      `missing class folder ${tree.display(dir)} (class ${label} "${className}")`,
    );
  }
  if (names.length === 0) {
    throw new DatasetError(
      'EMPTY_CLASS',
      `class folder ${tree.display(dir)} (class ${label} "${className}") contains no images`,
    );
  }
  return {
    items: names.slice(0, perClass ?? names.length).map((n) => ({ path: joinPath(dir, n), label })),
    available: names.length,
  };
}

/** One non-empty line of an index file, trimmed, with its 1-based line number. */
export interface Line {
  readonly text: string;
  readonly line: number;
}

/** Reads a small UTF-8 index file of the tree (at most {@link INDEX_FILE_CAP}) as trimmed non-empty lines. */
export async function readLines(tree: SourceTree, path: string): Promise<Line[]> {
  const text = (await tree.readFile(path, INDEX_FILE_CAP)).toString('utf8');
  const out: Line[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (t !== '') out.push({ text: t, line: i + 1 });
  }
  return out;
}

/**
 * Checks that a class id or file name read from an index file is one plain
 * path component (no `/` or backslash, not `.` or `..`, no NUL), so that joining it
 * to a folder of the source cannot leave that folder. Errors name the index
 * file and line.
 */
export function checkPlainName(
  tree: SourceTree,
  indexFile: string,
  line: number,
  what: string,
  name: string,
): void {
  if (name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new DatasetError(
      'BAD_LAYOUT',
      `${tree.display(indexFile)} line ${line}: ${what} ${JSON.stringify(name)} is not a plain name ` +
        '(no "/", "\\", "." or ".."): index files may only name entries inside their own folders',
    );
  }
}

/**
 * Class display names from an ImageNet `words.txt` (`wnid<TAB>name, synonym, ...`)
 * or `LOC_synset_mapping.txt` (`wnid name, synonym, ...`): the first synonym.
 * Classes without an entry keep their wnid.
 */
export async function readWordNetNames(
  tree: SourceTree,
  root: string,
  wnids: readonly string[],
): Promise<string[]> {
  const names = new Map<string, string>();
  for (const file of ['words.txt', 'LOC_synset_mapping.txt']) {
    const path = joinPath(root, file);
    if (!(await tree.isFile(path))) continue;
    const wanted = new Set(wnids);
    for (const { text } of await readLines(tree, path)) {
      const m = /^(\S+)\s+(.*)$/.exec(text);
      if (!m || !wanted.has(m[1]!) || names.has(m[1]!)) continue;
      names.set(m[1]!, m[2]!.split(',')[0]!.trim());
    }
    break;
  }
  return wnids.map((id) => names.get(id) || id);
}
