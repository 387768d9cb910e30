import { encodeFrame } from '@switchboard/protocol';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, test } from './fixtures.js';

test('whatever a member sends is shown as text: no script ever runs in the page', async ({ page, gateway }) => {
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await joinAs(page, gateway, 'viewer');
  const attacker = await Peer.tcp(gateway.tcpPort);
  await attacker.hello('attacker');
  const payloads = [
    '<img src=x onerror="window.__xss=1;alert(1)">',
    '<script>window.__xss=2;alert(2)</script>',
    '<svg onload="window.__xss=3">',
    'javascript:alert(4)',
    '"><iframe src="javascript:window.__xss=5">',
  ];
  for (const text of payloads) attacker.send({ type: 'message', text });
  // A plain device sending markup too, and a file whose name is markup.
  const device = await Peer.tcp(gateway.tcpPort);
  device.sendBytes(encodeFrame(0x00, new TextEncoder().encode('<b onmouseover="window.__xss=6">device</b>')));
  attacker.send({ type: 'file-offer', transfer: 1, name: '<img src=x onerror=alert(7)>.txt', size: 1 });
  attacker.send({ type: 'file-data', transfer: 1, data: new Uint8Array([65]) });

  const texts = page.locator('[data-testid="message-item"][data-from="attacker"] [data-testid="message-text"]');
  await expect(texts).toHaveText(payloads);
  await expect(page.locator('[data-testid="message-text"]', { hasText: '<b onmouseover' })).toHaveText('<b onmouseover="window.__xss=6">device</b>');
  // File names go through sanitizeFileName (as the Node client saves them): "<" and ">" become "_".
  await expect(page.locator('[data-testid="file-item"][data-from="attacker"] [data-testid="file-name"]')).toHaveText('_img src=x onerror=alert(7)_.txt');
  await page.locator('[data-testid="message-text"]').last().hover();
  await page.waitForTimeout(300);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  expect(dialogs).toEqual([]);
  // No element from the payloads made it into the DOM as markup.
  expect(await page.locator('main img[src="x"], main svg[onload], main iframe, main script').count()).toBe(0);
  attacker.end();
  device.end();
});
