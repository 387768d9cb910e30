import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@switchboard/client';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, say, test } from './fixtures.js';

test('clicking a member opens a private conversation; private messages go both ways', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'alice');
  const bob = await Peer.tcp(gateway.tcpPort);
  await bob.hello('bob');
  const eve = await Peer.tcp(gateway.tcpPort);
  await eve.hello('eve');
  await page.locator('[data-testid="member-item"][data-name="bob"] button').click();
  await expect(page.locator('[data-testid="private-tab"][data-name="bob"]')).toBeVisible();
  await say(page, 'just between us');
  await expect(bob.next('private', (m) => m.text === 'just between us')).resolves.toMatchObject({ from: 'alice', to: 'bob' });
  bob.send({ type: 'private', to: 'alice', text: 'got it' });
  await expect(page.locator('[data-testid="message-item"][data-kind="private"][data-from="bob"]').getByTestId('message-text')).toHaveText('got it');
  await page.waitForTimeout(100);
  expect(eve.received.some((m) => m.type === 'private')).toBe(false);

  // After a reload the tab is alice again (its resume token) and the conversation comes back
  // from history, in order.
  await page.reload();
  await bob.next('presence', (p) => p.event === 'leave' && p.member.name === 'alice');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');
  await expect(page.getByTestId('my-name')).toHaveText('alice');
  await page.locator('[data-testid="private-tab"][data-name="bob"]').click();
  const texts = page.locator('[data-testid="message-list"][data-kind="private"] [data-testid="message-text"]');
  await expect(texts).toHaveText(['just between us', 'got it']);
  await expect(page.getByTestId('history-start')).toContainText('Private conversation with bob');
  bob.end();
  eve.end();
});

test('rooms: the page joins a room, talks in it, and a TCP member outside it hears nothing', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'roomer');
  const inOps = await Peer.tcp(gateway.tcpPort);
  await inOps.hello('ops-member', { room: 'ops' });
  const lobbyOnly = await Peer.tcp(gateway.tcpPort);
  await lobbyOnly.hello('lobby-member');
  await page.getByTestId('room-join-input').fill('ops');
  await page.getByTestId('room-join-submit').click();
  await expect(page.locator('[data-testid="member-item"][data-name="ops-member"]')).toBeVisible();
  await say(page, 'ops only');
  await expect(inOps.next('message', (m) => m.text === 'ops only')).resolves.toMatchObject({ room: 'ops' });
  await page.waitForTimeout(100);
  expect(lobbyOnly.received.some((m) => m.type === 'message' && m.text === 'ops only')).toBe(false);
  inOps.end();
  lobbyOnly.end();
});

test('a file from the native client downloads intact in the page', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'receiver');
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-file-'));
  const data = randomBytes(2 * 1024 * 1024 + 99);
  const path = join(dir, 'firmware.bin');
  writeFileSync(path, data);
  const sender = await connect({ host: '127.0.0.1', port: gateway.tcpPort, name: 'native-sender' });
  await sender.sendFile(path);
  const card = page.locator('[data-testid="file-item"][data-from="native-sender"]');
  await expect(card.getByTestId('file-name')).toHaveText('firmware.bin');
  const link = card.getByTestId('file-download');
  await expect(link).toBeVisible({ timeout: 15_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toBe('firmware.bin');
  const saved = join(dir, 'downloaded.bin');
  await download.saveAs(saved);
  expect(createHash('sha256').update(readFileSync(saved)).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  await sender.close();
});

test('the admin panel lists clients and kicks one: its socket closes and the room sees it leave', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'admin');
  const victim = await Peer.tcp(gateway.tcpPort);
  await victim.hello('troublemaker');
  await page.getByTestId('admin-toggle').click();
  await page.getByTestId('admin-nav-clients').click();
  const row = page.locator('[data-testid="client-row"][data-name="troublemaker"]');
  await expect(row).toBeVisible();
  await expect(row).toHaveAttribute('data-transport', 'tcp');
  await row.getByTestId('client-kick').click();
  await page.getByTestId('client-action-input').fill('flooding the room');
  await page.getByTestId('client-action-confirm').click();
  await expect(victim.next('notice', (n) => n.code === 'KICKED')).resolves.toMatchObject({ text: expect.stringContaining('flooding the room') });
  await victim.waitClosed();
  await expect(row).toHaveCount(0);
  // Back in the chat: the room saw it leave.
  await page.getByTestId('admin-close').click();
  await expect(page.locator('[data-testid="presence-item"][data-event="leave"][data-name="troublemaker"]')).toContainText('kicked');
});

test('the admin panel stops and starts the TCP listener', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'operator');
  await page.getByTestId('admin-toggle').click();
  await page.getByTestId('admin-nav-listeners').click();
  const status = page.getByTestId('listener-controls');
  await expect(status).toHaveAttribute('data-listening', 'true');
  await page.getByTestId('listener-stop').click();
  await expect(status).toHaveAttribute('data-listening', 'false');
  await expect(Peer.tcp(gateway.tcpPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  await page.getByTestId('listener-port').fill(String(gateway.tcpPort));
  await page.getByTestId('listener-start').click();
  await expect(status).toHaveAttribute('data-listening', 'true');
  const peer = await Peer.tcp(gateway.tcpPort);
  await expect(peer.hello('back-in')).resolves.toBeDefined();
  peer.end();
});

test('progress bars: a file arriving slowly shows a receiving bar, and a file the page sends shows a sending bar', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'watcher');
  const sender = await Peer.tcp(gateway.tcpPort);
  await sender.hello('trickler');
  const data = randomBytes(256 * 1024);
  sender.send({ type: 'file-offer', transfer: 3, name: 'slow.bin', size: data.length });
  sender.send({ type: 'file-data', transfer: 3, data: data.subarray(0, 100 * 1024) });
  const bar = page.locator('[data-testid="file-item"][data-from="trickler"] [data-testid="file-progress"][data-direction="in"]');
  await expect(bar).toHaveAttribute('value', String(100 * 1024));
  await expect(bar).toHaveAttribute('max', String(data.length));
  sender.send({ type: 'file-data', transfer: 3, data: data.subarray(100 * 1024) });
  sender.send({ type: 'file-end', transfer: 3, sha256: createHash('sha256').update(data).digest('hex') });
  await expect(page.locator('[data-testid="file-item"][data-from="trickler"] [data-testid="file-download"]')).toBeVisible();

  // Sending from the page: a TCP receiver that does not read holds the transfer back, so the bar is seen mid-way.
  const stuck = await Peer.tcp(gateway.tcpPort);
  await stuck.hello('stuck');
  stuck.socket!.pause();
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-up-'));
  const big = join(dir, 'upload.bin');
  writeFileSync(big, randomBytes(12 * 1024 * 1024));
  await page.getByTestId('file-input').setInputFiles(big);
  const out = page.locator('[data-testid="file-progress"][data-direction="out"]').first();
  await expect(out).toBeVisible();
  const sent = Number(await out.getAttribute('value'));
  expect(sent).toBeLessThan(12 * 1024 * 1024);
  stuck.socket!.resume();
  await expect(page.locator('[data-testid="file-progress"][data-direction="out"]')).toHaveCount(0, { timeout: 20_000 });
  // Complete only once the server confirmed size and SHA-256 (its file-end back to the sender).
  await expect(page.locator('[data-testid="file-item"][data-from="watcher"]')).toHaveAttribute('data-state', 'complete');
  sender.end();
  stuck.end();
});
