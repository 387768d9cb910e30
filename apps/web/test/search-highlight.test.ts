import { describe, expect, it } from 'vitest';
import { highlightParts } from '../src/lib/search-highlight.js';

const marked = (text: string, q: string): string =>
  highlightParts(text, q)
    .map((p) => (p.hit ? `[${p.text}]` : p.text))
    .join('');

describe('highlightParts', () => {
  it('marks each word of the search where it begins a word of the text, case and diacritics aside', () => {
    expect(marked('The pump station: Pumping pressure', 'pump')).toBe('The [pump] station: [Pump]ing pressure');
    expect(marked('Café pressure valve', 'cafe PRESS')).toBe('[Café] [press]ure valve');
    expect(marked('unpumped', 'pump')).toBe('unpumped');
  });

  it('keeps the text whole and in order, markup included, as plain parts', () => {
    const text = '<img src=x onerror=alert(1)> pump';
    const parts = highlightParts(text, 'pump img');
    expect(parts.map((p) => p.text).join('')).toBe(text);
    expect(marked(text, 'pump img')).toBe('<[img] src=x onerror=alert(1)> [pump]');
  });

  it('marks nothing for a search without words', () => {
    expect(highlightParts('a "b" c', '"*')).toEqual([{ text: 'a "b" c', hit: false }]);
  });
});
