import { lstatSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { numberedName, sanitizeFileName } from '@switchboard/protocol';

/**
 * A received file's name is the sender's word (PROTOCOL.md §7). Everything here exists so
 * that whatever a sender writes in `name`, the bytes land in a new file directly inside the
 * download directory: no traversal, no hidden files, no device names, no overwriting. The
 * name itself is cleaned by the protocol package's sanitizeFileName (shared with the page);
 * this file adds the disk: free names, O_EXCL creation, staying inside the directory.
 */

export { sanitizeFileName, numberedName, MAX_FILE_NAME_BYTES, FALLBACK_FILE_NAME } from '@switchboard/protocol';

// Give up looking for a free "name (n).ext" after this many; something is wrong by then.
const MAX_NUMBERED_CANDIDATES = 10_000;

/**
 * The absolute path of a file that may be created for `untrusted` inside `dir`: the
 * sanitized name, or "name (1).ext", "name (2).ext"... when that exists. Throws when the
 * result would not sit directly inside `dir` (it cannot, but the check is cheap). Another
 * process may create the same name right after this returns; to create the file without
 * that race, use createUniqueFile().
 */
export function safeFileName(untrusted: string, dir: string): string {
  const root = path.resolve(dir);
  const base = sanitizeFileName(untrusted);
  for (let n = 0; n < MAX_NUMBERED_CANDIDATES; n++) {
    const candidate = insideDir(root, numberedName(base, n));
    if (!pathExists(candidate)) return candidate;
  }
  throw new Error(`No free file name for "${base}" in ${root}.`);
}

export interface UniqueFile {
  /** Absolute path of the new, empty file. */
  path: string;
  /** Its name inside the directory. */
  name: string;
  /** Open for writing; the caller closes it. */
  handle: FileHandle;
}

/**
 * Creates a new file for `untrusted` inside `dir` and opens it with O_CREAT|O_EXCL ("wx"),
 * so an existing file (or symlink, even a dangling one) is never opened, let alone
 * overwritten; on EEXIST it tries the next "name (n).ext". `suffix` is appended after
 * the number, e.g. ".part" gives "report (1).pdf.part".
 */
export async function createUniqueFile(dir: string, untrusted: string, suffix = ''): Promise<UniqueFile> {
  const root = path.resolve(dir);
  const base = sanitizeFileName(untrusted);
  for (let n = 0; n < MAX_NUMBERED_CANDIDATES; n++) {
    const name = numberedName(base, n, suffix);
    const full = insideDir(root, name);
    try {
      const handle = await open(full, 'wx');
      return { path: full, name, handle };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new Error(`No free file name for "${base}" in ${root}.`);
}

/** Resolves `name` against `root` and insists the result is a direct child of `root`. */
function insideDir(root: string, name: string): string {
  const full = path.resolve(root, name);
  if (path.dirname(full) !== root || path.basename(full) !== name) {
    throw new Error(`Refusing file name "${name}": it does not stay inside ${root}.`);
  }
  return full;
}

function pathExists(p: string): boolean {
  try {
    lstatSync(p); // lstat: a dangling symlink counts as taken.
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
