import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { repoRoot } from '../helpers/gateway-process.js';

// Issue 27: /protocol.md is a readable page whose every link works on the gateway that serves it;
// the Markdown itself stays one query away.

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

const markdown = readFileSync(`${repoRoot}/packages/protocol/PROTOCOL.md`, 'utf8');

describe('/protocol.md', () => {
  it('is an HTML page under the gateway’s security headers, with headings GitHub’s anchors name', async () => {
    const response = await fetch(`${gateway.httpUrl}/protocol.md`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<h1 id="the-switchboard-protocol-version-1">The Switchboard protocol, version 1</h1>');
    // The anchors docs/ links to (docs/rest-api.md, docs/devices.md, docs/identity-and-security.md).
    for (const id of ['9-errors', '4-chat', 'who-may-use-a-room', 'search']) expect(html).toContain(`id="${id}"`);
    expect(html).toContain('<table>');
    expect(html).not.toMatch(/<script/i);
  });

  it('every link and stylesheet on the page resolves: 200 for what it points to, an element for each #anchor', async () => {
    const html = await (await fetch(`${gateway.httpUrl}/protocol.md`)).text();
    const targets = [...html.matchAll(/<(?:a|link)\b[^>]*\bhref="([^"]*)"/g)].map(([, href]) => href!.replace(/&amp;/g, '&'));
    expect(targets).toContain('/protocol/vectors.json');
    const ids = new Set([...html.matchAll(/\bid="([^"]*)"/g)].map(([, id]) => id));
    const broken: string[] = [];
    for (const href of new Set(targets)) {
      if (/^https?:/.test(href)) continue; // the wide web is not this gateway's to answer for
      if (href.startsWith('#')) {
        if (!ids.has(decodeURIComponent(href.slice(1)))) broken.push(`${href}: no such id`);
        continue;
      }
      const url = new URL(href, `${gateway.httpUrl}/protocol.md`);
      const status = (await fetch(url)).status;
      if (status !== 200) broken.push(`${href}: ${status}`);
    }
    expect(broken).toEqual([]);
  });

  it('?raw=1 is the Markdown itself; /protocol/vectors.json the byte vectors the test suite reads', async () => {
    const raw = await fetch(`${gateway.httpUrl}/protocol.md?raw=1`);
    expect(raw.headers.get('content-type')).toMatch(/^text\/markdown/);
    expect(await raw.text()).toBe(markdown);
    const vectors = await fetch(`${gateway.httpUrl}/protocol/vectors.json`);
    expect(vectors.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await vectors.json()).toEqual(JSON.parse(readFileSync(`${repoRoot}/packages/protocol/test/vectors.json`, 'utf8')));
  });
});
