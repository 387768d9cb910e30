import { fileURLToPath } from 'node:url';
import type { WebSocketRoute } from '@playwright/test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { perRoomIds } from '../helpers/per-room-ids.js';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, test as base } from './fixtures.js';

const webRoot = fileURLToPath(new URL('../../apps/web/dist', import.meta.url));

// A gateway whose ids are taken per room (as on a Redis Cluster, each room's counter on its own
// shard): lobby, the busy room, has ids far above ops's.
const test = base.extend<{ gateway: RunningGateway }>({
  gateway: async ({}, use) => {
    const gateway = await startGateway({ webRoot }, { cluster: perRoomIds() });
    await use(gateway);
    await gateway.close();
  },
});

test('after a drop the page catches up each of its rooms from that room’s own last id', async ({ page, gateway }) => {
  // The page's socket runs through a route the test can cut, and keep refusing while "away".
  let away = false;
  let current: { page: WebSocketRoute; server: WebSocketRoute } | null = null;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (away) {
      void ws.close();
      return;
    }
    current = { page: ws, server: ws.connectToServer() };
  });

  const talker = await Peer.tcp(gateway.tcpPort);
  await talker.hello('talker');
  talker.send({ type: 'join', room: 'ops' });
  await talker.next('history', (h) => h.room === 'ops');
  for (let i = 0; i < 5; i++) talker.send({ type: 'message', room: 'lobby', text: `lobby early ${i}` });
  await talker.next('message', (m) => m.text === 'lobby early 4');

  await joinAs(page, gateway, 'roamer');
  await page.getByTestId('room-join-input').fill('ops');
  await page.getByTestId('room-join-submit').click();
  await expect(page.locator('[data-testid="room-item"][data-room="ops"]')).toHaveAttribute('data-joined', 'true');
  talker.send({ type: 'message', room: 'ops', text: 'ops seen' });
  await expect(page.getByTestId('message-text').filter({ hasText: 'ops seen' })).toBeVisible();
  talker.send({ type: 'message', room: 'lobby', text: 'lobby seen' });
  await expect(page.locator('[data-testid="room-item"][data-room="lobby"]').getByTestId('room-unread')).toHaveText('1');
  await page.locator('[data-testid="room-item"][data-room="lobby"]').getByTestId('room-open').click();
  await expect(page.getByTestId('message-text').filter({ hasText: 'lobby seen' })).toBeVisible();
  await page.locator('[data-testid="room-item"][data-room="ops"]').getByTestId('room-open').click();

  // Away: the socket drops, and messages come in both rooms.
  away = true;
  const cut = current!;
  await cut.server.close();
  await cut.page.close();
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', /reconnecting|connecting/);
  for (const text of ['ops missed 1', 'ops missed 2']) talker.send({ type: 'message', room: 'ops', text });
  talker.send({ type: 'message', room: 'lobby', text: 'lobby missed' });
  await talker.next('message', (m) => m.text === 'lobby missed');

  away = false;
  await page
    .getByTestId('reconnect-now')
    .click({ timeout: 2000 })
    .catch(() => {});
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open', { timeout: 20_000 });
  // ops (the open room, said hello with its own `since`) shows both, once each.
  const ops = page.getByTestId('message-text');
  await expect(ops.filter({ hasText: 'ops missed 2' })).toBeVisible();
  await expect(ops.filter({ hasText: /^ops / })).toHaveText(['ops seen', 'ops missed 1', 'ops missed 2']);
  // lobby was caught up with `history {room, after: <lobby's own last id>}`: one unread, shown once.
  await expect(page.locator('[data-testid="room-item"][data-room="lobby"]').getByTestId('room-unread')).toHaveText('1');
  await page.locator('[data-testid="room-item"][data-room="lobby"]').getByTestId('room-open').click();
  await expect(page.getByTestId('message-text').filter({ hasText: /^lobby (seen|missed)/ })).toHaveText(['lobby seen', 'lobby missed']);
  talker.end();
});
