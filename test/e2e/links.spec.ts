import { Peer } from '../helpers/peer.js';
import { expect, joinAs, test } from './fixtures.js';

// Links (issue 27): web addresses in messages become safe links (http/https only, never
// javascript:), the page links to its API docs and protocol, and it has a favicon.

test('addresses in messages are links that open safely; other schemes and markup stay text', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'reader');
  const bob = await Peer.tcp(gateway.tcpPort);
  await bob.hello('bob');
  try {
    const text = 'docs at https://example.com/manual?page=2. not javascript:alert(1) nor <a href="javascript:alert(2)">x</a> nor data:text/html,hi';
    bob.send({ type: 'message', text });
    const message = page.locator('[data-testid="message-item"][data-from="bob"]');
    await expect(message.getByTestId('message-text')).toHaveText(text);
    const links = message.locator('a');
    await expect(links).toHaveCount(1);
    await expect(links.first()).toHaveAttribute('href', 'https://example.com/manual?page=2');
    await expect(links.first()).toHaveText('https://example.com/manual?page=2');
    await expect(links.first()).toHaveAttribute('rel', 'noopener noreferrer');
    await expect(links.first()).toHaveAttribute('target', '_blank');
    expect(await page.locator('a[href^="javascript:" i], a[href^="data:" i]').count()).toBe(0);
  } finally {
    bob.end();
  }
});

test('the page links to the API docs and the protocol, and has a favicon', async ({ page, gateway }) => {
  await page.goto(gateway.httpUrl + '/');
  for (const [id, href] of [
    ['docs-link', '/docs'],
    ['protocol-link', '/protocol.md'],
  ] as const) {
    const link = page.getByTestId(id);
    await expect(link).toHaveAttribute('href', href);
    await expect(link).toHaveAttribute('rel', 'noopener noreferrer');
    expect((await page.request.get(gateway.httpUrl + href)).status()).toBe(200);
  }
  const icon = await page.locator('link[rel="icon"]').getAttribute('href');
  expect(icon).toBe('/favicon.svg');
  const svg = await page.request.get(gateway.httpUrl + icon!);
  expect(svg.status()).toBe(200);
  expect(svg.headers()['content-type']).toMatch(/^image\/svg\+xml/);
  const ico = await page.request.get(gateway.httpUrl + '/favicon.ico');
  expect(ico.status()).toBe(200);
  expect(ico.url()).toBe(gateway.httpUrl + '/favicon.svg');
});
