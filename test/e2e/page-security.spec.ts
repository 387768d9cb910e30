import { createHash } from 'node:crypto';
import type { Page } from '@playwright/test';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, say, test } from './fixtures.js';

/** Everything the browser says about Content-Security-Policy, and any uncaught error. */
function watchPolicy(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) seen.push(message.text());
  });
  page.on('pageerror', (error) => seen.push(error.message));
  return seen;
}

// Issue 22 #21: a file is only ever saved, never opened as a page of the gateway's origin. The
// page's CSP would also block the file's inline script: bypassed here, so this shows the file
// handling on its own.
test.describe(() => {
  test.use({ bypassCSP: true });
  test('a received HTML file never runs as the gateway: its link saves octet-stream bytes, and opening it runs nothing', async ({ page, gateway }) => {
    await joinAs(page, gateway, 'target');
    const html = Buffer.from('<!doctype html><script>localStorage.setItem("pwned", "yes")</script><p>hello</p>');
    const sender = await Peer.tcp(gateway.tcpPort);
    await sender.hello('attacker');
    sender.send({ type: 'file-offer', transfer: 1, name: 'invoice.html', size: html.length, mime: 'text/html' });
    await sender.next('file-offer');
    sender.send({ type: 'file-data', transfer: 1, data: html });
    sender.send({ type: 'file-end', transfer: 1, sha256: createHash('sha256').update(html).digest('hex') });
    const link = page.locator('[data-testid="file-item"][data-from="attacker"] [data-testid="file-download"]');
    await expect(link).toBeVisible({ timeout: 15_000 });
    await expect(link).toHaveAttribute('download', 'invoice.html');
    const href = (await link.getAttribute('href'))!;
    expect(href).toMatch(/^blob:/);
    // What a new tab would get for that URL: bytes to save, not a document.
    expect(await page.evaluate(async (url) => (await fetch(url)).headers.get('content-type'), href)).toBe('application/octet-stream');
    // "Open link in new tab": the browser saves it; no script of the file runs with the page's origin.
    const saved = page.waitForEvent('download', { timeout: 5_000 }).catch(() => undefined);
    await page.evaluate((url) => void window.open(url, '_blank'), href);
    await saved;
    await page.waitForTimeout(500);
    expect(await page.evaluate(() => localStorage.getItem('pwned'))).toBeNull();
    sender.destroy();
  });
});

// Issue 22 #22: the page works under its own policy, which forbids framing and foreign scripts.
test('the page chats and sends files under its Content-Security-Policy without a violation; /docs works under its own', async ({ page, gateway }) => {
  const violations = watchPolicy(page);
  const response = await page.goto(gateway.httpUrl + '/');
  const headers = response!.headers();
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['x-content-type-options']).toBe('nosniff');
  await joinAs(page, gateway, 'csp-user');
  const peer = await Peer.tcp(gateway.tcpPort);
  await peer.hello('csp-peer');
  await say(page, 'under a policy');
  await expect(peer.next('message', (m) => m.text === 'under a policy')).resolves.toBeDefined();
  await page.getByTestId('file-input').setInputFiles({ name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('a small file') });
  await expect(page.locator('[data-testid="file-item"][data-from="csp-user"]')).toHaveAttribute('data-state', 'complete', { timeout: 15_000 });
  expect(violations).toEqual([]);
  peer.destroy();

  const docs = watchPolicy(page);
  await page.goto(gateway.httpUrl + '/docs/');
  await expect(page.locator('.swagger-ui .info .title')).toContainText('Switchboard', { timeout: 15_000 });
  expect(docs).toEqual([]);
});
