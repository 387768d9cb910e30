/**
 * A file name from file-offer is the sender's word (PROTOCOL.md §7). sanitizeFileName reduces
 * it to one harmless path component; the Node client and the page both save files under
 * that name. Pure and runtime-neutral: no file system, no Buffer (UTF-8 lengths are counted
 * by utf8Length).
 */
import { utf8Length } from './bytes.js';

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

/**
 * The sender's file name reduced to one harmless path component: the last component only
 * (split on "/" and "\"), without control or invisible characters, without leading dots
 * (hidden files, "." and ".."), trailing dots or spaces, Windows-reserved characters or
 * device names, at most 255 bytes of UTF-8 (keeping the extension), and "file" when
 * nothing is left.
 */
export function sanitizeFileName(untrusted: string): string {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- plain JavaScript callers may pass anything
  const cleaned = String(untrusted).normalize('NFC').replace(INVISIBLE, '');
  const components = cleaned.split(/[/\\]/).map((c) => c.trim());
  let name = components.filter((c) => c.length > 0).at(-1) ?? '';
  name = trimDotsAndSpaces(name.replace(WINDOWS_RESERVED, '_'));
  if (name.length === 0) return FALLBACK_FILE_NAME;
  const deviceStem = name.split('.')[0]!.trimEnd();
  if (WINDOWS_DEVICE.test(deviceStem)) name = `_${name}`;
  name = fitName(name, '', '');
  return name.length > 0 ? name : FALLBACK_FILE_NAME;
}

/**
 * A sanitized name as the n-th candidate for a free file: "name.ext" for n = 0, else
 * "name (n).ext", then `suffix` (".part"); cut to fit 255 bytes, keeping the extension.
 */
export function numberedName(safeName: string, n: number, suffix = ''): string {
  return fitName(safeName, n === 0 ? '' : ` (${n})`, suffix);
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
  if (dot > 0 && utf8Length(name.slice(dot)) <= MAX_EXTENSION_BYTES) {
    stem = name.slice(0, dot);
    ext = name.slice(dot);
  }
  const tail = marker + ext + suffix;
  const room = MAX_FILE_NAME_BYTES - utf8Length(tail);
  if (utf8Length(stem) > room) {
    let cut = '';
    let used = 0;
    for (const codePoint of stem) {
      const size = utf8Length(codePoint);
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
