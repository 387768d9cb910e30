import { describe, expect, it } from 'vitest';
import { linkParts } from '../src/lib/linkify.js';

describe('linkParts', () => {
  it('links http and https addresses, leaving the punctuation of the sentence outside', () => {
    expect(linkParts('see https://example.com/a?b=1. then (http://x.test/wiki/Foo_(bar)) ok')).toEqual([
      { text: 'see ' },
      { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { text: '. then (' },
      { text: 'http://x.test/wiki/Foo_(bar)', href: 'http://x.test/wiki/Foo_(bar)' },
      { text: ') ok' },
    ]);
  });

  it('never links javascript:, data: or other schemes, nor markup', () => {
    for (const text of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'JaVaScRiPt://%0aalert(1)', 'ftp://example.com', '<a href="http://x">']) {
      expect(linkParts(text).filter((p) => p.href !== undefined && !p.href.startsWith('http'))).toEqual([]);
    }
    expect(linkParts('javascript:alert(1)')).toEqual([{ text: 'javascript:alert(1)' }]);
    expect(
      linkParts('<a href="http://x">')
        .map((p) => p.text)
        .join(''),
    ).toBe('<a href="http://x">');
  });

  it('keeps the text whole', () => {
    const text = 'a https://one.test b http://two.test/c, c';
    expect(
      linkParts(text)
        .map((p) => p.text)
        .join(''),
    ).toBe(text);
    expect(linkParts('')).toEqual([{ text: '' }]);
  });
});
