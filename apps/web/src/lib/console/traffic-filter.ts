// The traffic log's filter: a piece of text (case-insensitive, against the text reading with
// its escapes, so `\r\n` and `\x02` find those bytes) or a hex pattern (those bytes, in a row,
// anywhere in the entry).
import { parseHexInput } from './send-input.js';
import { itemTextLower, type TrafficItem } from './traffic-item.js';

export type FilterMode = 'text' | 'hex';

export type TrafficFilter = { ok: true; active: boolean; test: (item: TrafficItem) => boolean } | { ok: false; error: string };

const everything: TrafficFilter = { ok: true, active: false, test: () => true };

/** Where `needle` starts in `haystack`, or -1. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  if (needle.length === 0) return 0;
  const first = needle[0]!;
  const last = haystack.length - needle.length;
  outer: for (let i = haystack.indexOf(first); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

export function makeFilter(mode: FilterMode, pattern: string): TrafficFilter {
  if (pattern.trim() === '') return everything;
  if (mode === 'hex') {
    let needle: Uint8Array;
    try {
      needle = parseHexInput(pattern);
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
    if (needle.length === 0) return everything;
    return { ok: true, active: true, test: (item) => indexOfBytes(item.bytes, needle) !== -1 };
  }
  const wanted = pattern.toLowerCase();
  return {
    ok: true,
    active: true,
    test: (item) => itemTextLower(item).includes(wanted),
  };
}
