import { expect, test } from './fixtures.js';

// Issue 27: /protocol.md reads as a page in a browser, under the gateway's own Content-Security-Policy,
// and its link to the byte vectors leads to them.
test('/protocol.md is a styled page without a policy violation; its vectors link opens the vectors', async ({ page, gateway }) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
  });
  page.on('pageerror', (error) => violations.push(error.message));
  await page.goto(gateway.httpUrl + '/protocol.md');
  await expect(page.locator('h1')).toHaveText('The Switchboard protocol, version 1');
  // The stylesheet applied: the text column is bounded, code blocks shaded.
  await expect(page.locator('main')).toHaveCSS('max-width', '832px');
  await expect(page.locator('table').first()).toBeVisible();
  await page.locator('main a', { hasText: 'test/vectors.json' }).first().click();
  await expect(page).toHaveURL(gateway.httpUrl + '/protocol/vectors.json');
  expect(JSON.parse((await page.locator('body').innerText()).trim())).toHaveProperty('frames');
  expect(violations).toEqual([]);
});
