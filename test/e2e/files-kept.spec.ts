import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from '@playwright/test';
import { FILE_CHUNK_BYTES } from '@switchboard/protocol';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, test } from './fixtures.js';

// Files kept for later (issue 27): a file card from before a reload still downloads, the same
// bytes, fetched from the gateway with the tab's own session.

test.use({ viewport: { width: 1280, height: 800 } });

async function downloaded(page: Page, button: Locator): Promise<Buffer> {
  const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
  return readFileSync(await download.path());
}

test('files sent before a reload, in the room and privately, download intact after it', async ({ page, gateway }) => {
  test.setTimeout(90_000);
  await joinAs(page, gateway, 'alice');
  const bob = await Peer.tcp(gateway.tcpPort);
  await bob.hello('bob');
  try {
    // From the page, to the room.
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-kept-'));
    const plan = randomBytes(300 * 1024 + 7);
    writeFileSync(join(dir, 'plan.bin'), plan);
    await page.getByTestId('file-input').setInputFiles(join(dir, 'plan.bin'));
    await expect(page.locator('[data-testid="file-item"][data-from="alice"]')).toHaveAttribute('data-state', 'complete', { timeout: 20_000 });

    // From a TCP member, privately to alice.
    const secret = randomBytes(70 * 1024);
    bob.send({ type: 'file-offer', transfer: 1, name: 'secret.bin', size: secret.length, to: 'alice' });
    for (let at = 0; at < secret.length; at += FILE_CHUNK_BYTES) bob.send({ type: 'file-data', transfer: 1, data: secret.subarray(at, at + FILE_CHUNK_BYTES) });
    bob.send({ type: 'file-end', transfer: 1, sha256: createHash('sha256').update(secret).digest('hex') });
    await bob.next('file-end');

    await page.reload();
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');
    const card = page.locator('[data-testid="file-item"][data-from="alice"]');
    await expect(card).toHaveAttribute('data-state', 'earlier');
    expect((await downloaded(page, card.getByTestId('file-download-kept'))).equals(plan)).toBe(true);

    await page.locator('[data-testid="private-tab"][data-name="bob"]').click();
    const privateCard = page.locator('[data-testid="file-item"][data-from="bob"]');
    await expect(privateCard).toHaveAttribute('data-state', 'earlier');
    expect((await downloaded(page, privateCard.getByTestId('file-download-kept'))).equals(secret)).toBe(true);
  } finally {
    bob.end();
  }
});
