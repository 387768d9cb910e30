import { lstatSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/**
 * A received file's name is the sender's word (PROTOCOL.md §7). Everything here exists so
 * that whatever a sender writes in `name`, the bytes land in a new file directly inside the
 * download directory: no traversal, no hidden files, no device names, no overwriting.
 */

/** Most file systems cap one path component at 255 bytes. */
export const MAX_FILE_NAME_BYTES = 255;

/** What is left when the sender's name sanitizes to nothing. */
export const FALLBACK_FILE_NAME = 'file';

// C0 and C1 controls (NUL included) and DEL; line/paragraph separators; zero-width space,
// BOM and the bidirectional overrides and isolates, which can make "gpj.exe" look like
// "exe.jpg". ZWJ/ZWNJ stay: emoji sequences and Persian text need them.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/gu;
// Characters Windows refuses in names; ":" would even open an NTFS alternate data stream.
const WINDOWS_RESERVED = /[<>:"|?*]/g;
// Windows device names, which stay devices whatever the extension ("CON.txt", "nul .tar.gz").
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$|clock\$)$/i;
// An extension longer than this is treated as part of the stem when a name must be cut.
const MAX_EXTENSION_BYTES = 32;
// Give up looking for a free "name (n).ext" after this many; something is wrong by then.
const MAX_NUMBERED_CANDIDATES = 10_000;

const utf8 = new TextEncoder();
const byteLength = (s: string): number => utf8.encode(s).length;

/**
 * The sender's file name reduced to one harmless path component: the last component only
 * (split on "/" and "\"), without control or invisible characters, without leading dots
 * (hidden files, "." and ".."), trailing dots or spaces, Windows-reserved characters or
 * device names, at most 255 bytes of UTF-8 (keeping the extension), and "file" when
 * nothing is left. Pure: it does not touch the disk.
 */
export function sanitizeFileName(untrusted: string): string {
  const cleaned = String(untrusted).normalize('NFC').replace(INVISIBLE, '');
  const components = cleaned.split(/[/\\]/).map((c) => c.trim());
  let name = components.findLast((c) => c.length > 0) ?? '';
  name = trimDotsAndSpaces(name.replace(WINDOWS_RESERVED, '_'));
  if (name.length === 0) return FALLBACK_FILE_NAME;
  const deviceStem = name.split('.')[0]!.trimEnd();
  if (WINDOWS_DEVICE.test(deviceStem)) name = `_${name}`;
  name = fitName(name, '', '');
  return name.length > 0 ? name : FALLBACK_FILE_NAME;
}

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

/** "name.ext" for n = 0, else "name (n).ext", then the suffix; cut to fit 255 bytes. */
export function numberedName(safeName: string, n: number, suffix = ''): string {
  return fitName(safeName, n === 0 ? '' : ` (${n})`, suffix);
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

function trimDotsAndSpaces(name: string): string {
  return name.replace(/^[\s.]+/u, '').replace(/[\s.]+$/u, '');
}

/**
 * stem + marker + extension + suffix in at most 255 bytes: the stem is cut, whole code
 * points at a time, so the extension (what decides how the file opens) survives.
 */
function fitName(name: string, marker: string, suffix: string): string {
  const dot = name.lastIndexOf('.');
  let stem = name;
  let ext = '';
  if (dot > 0 && byteLength(name.slice(dot)) <= MAX_EXTENSION_BYTES) {
    stem = name.slice(0, dot);
    ext = name.slice(dot);
  }
  const tail = marker + ext + suffix;
  const room = MAX_FILE_NAME_BYTES - byteLength(tail);
  if (byteLength(stem) > room) {
    let cut = '';
    let used = 0;
    for (const codePoint of stem) {
      const size = byteLength(codePoint);
      if (used + size > room) break;
      cut += codePoint;
      used += size;
    }
    // A cut can end on a dot or space, which Windows would silently drop.
    stem = cut.replace(/[\s.]+$/u, '');
    if (stem.length === 0) stem = FALLBACK_FILE_NAME;
  }
  return stem + tail;
}
