import { describe, expect, it } from 'vitest';
import { renderProtocol } from '../src/routes/protocol-page.js';

// /protocol.md renders Markdown into the gateway's own origin: nothing in it may become markup
// or a script, and no link may lead where the gateway does not answer.
describe('renderProtocol', () => {
  const page = renderProtocol(
    [
      '# Errors',
      '',
      '<script>alert(1)</script>',
      '',
      'Inline <img src=x onerror=alert(2)> html, [a script](javascript:alert(3)), [vectors](test/vectors.json),',
      '[a client](../../clients/python/README.md), [§9](#errors), [the web](https://example.com/x) and ![pic](x.png).',
      '',
      '## Errors',
    ].join('\n'),
  );

  it('shows raw HTML as text', () => {
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('&lt;img src=x onerror=alert(2)&gt;');
    expect(page).not.toMatch(/<script|<img/i);
  });

  it('links only to anchors, http(s) and what the gateway serves; repository files and other schemes are their text', () => {
    const links = [...page.matchAll(/<a href="([^"]*)"[^>]*>([^<]*)<\/a>/g)].map(([, href, text]) => [href, text]);
    expect(links).toEqual([
      ['/', 'Switchboard'],
      ['/docs', 'REST API'],
      ['/protocol.md?raw=1', 'Markdown'],
      ['/protocol/vectors.json', 'byte vectors'],
      ['/protocol/vectors.json', 'vectors'],
      ['#errors', '§9'],
      ['https://example.com/x', 'the web'],
    ]);
    expect(page).toContain('a script,');
    expect(page).toContain('a client,');
  });

  it("gives headings GitHub's ids, a repeated one numbered", () => {
    expect(page).toContain('<h1 id="errors">Errors</h1>');
    expect(page).toContain('<h2 id="errors-1">Errors</h2>');
  });
});
