// Where a search's words occur in a hit's text, as parts to render as text (never HTML): the
// gateway matches each word as a prefix of a word of the text, case and diacritics aside
// (docs/chat.md, "Search"), and the page marks the same places.

export interface TextPart {
  text: string;
  hit: boolean;
}

/** The words of a search, split as the gateway splits them: letters, digits and their marks. */
export function searchWords(q: string): string[] {
  return (q.match(/[\p{L}\p{N}\p{M}]+/gu) ?? []).slice(0, 16);
}

const MARKS = /\p{M}/gu;
const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;

/**
 * The text lower-cased with diacritics dropped, one UTF-16 unit for one (so positions in it
 * are positions in the text): a character whose folding changes its length stays as it is.
 */
function fold(text: string): string {
  let folded = '';
  for (const char of text) {
    const plain = char.normalize('NFD').replace(MARKS, '').toLowerCase();
    folded += plain.length === char.length ? plain : char;
  }
  return folded;
}

/** `text` cut into parts, those where a word of the search begins a word of the text marked as hits. */
export function highlightParts(text: string, q: string): TextPart[] {
  const words = searchWords(q)
    .map(fold)
    .filter((w) => w.length > 0);
  if (words.length === 0 || text.length === 0) return [{ text, hit: false }];
  const folded = fold(text);
  const marked = new Uint8Array(text.length);
  for (const word of words) {
    for (let at = folded.indexOf(word); at !== -1; at = folded.indexOf(word, at + 1)) {
      if (at > 0 && WORD_CHAR.test(folded[at - 1]!)) continue;
      marked.fill(1, at, at + word.length);
    }
  }
  const parts: TextPart[] = [];
  let start = 0;
  for (let i = 1; i <= text.length; i++) {
    if (i === text.length || marked[i] !== marked[start]) {
      parts.push({ text: text.slice(start, i), hit: marked[start] === 1 });
      start = i;
    }
  }
  return parts;
}
