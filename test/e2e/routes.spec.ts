import net from 'node:net';
import type { Page } from '@playwright/test';
import { api } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, test } from './fixtures.js';

// Every view has an address (issue 27): /rooms/:room, /private/:name, /devices, /devices/:id,
// /admin, /admin/:section. Each survives a reload, and back/forward walk through them.

test.use({ viewport: { width: 1280, height: 800 } });

const path = (page: Page): string => new URL(page.url()).pathname;

async function shows(page: Page, view: string): Promise<void> {
  const [, head, arg] = view.split('/');
  switch (head) {
    case 'rooms':
      await expect(page.locator('[data-testid="message-list"][data-kind="room"]')).toHaveAttribute('data-conversation', decodeURIComponent(arg!));
      await expect(page.getByTestId('devices-view')).toHaveCount(0);
      await expect(page.getByTestId('admin-panel')).toHaveCount(0);
      break;
    case 'private':
      await expect(page.locator('[data-testid="message-list"][data-kind="private"]')).toHaveAttribute('data-conversation', arg!);
      break;
    case 'devices':
      await expect(page.getByTestId('devices-view')).toBeVisible();
      if (arg === undefined) await expect(page.getByTestId('device-console')).toHaveCount(0);
      else await expect(page.getByTestId('device-console')).toHaveAttribute('data-id', decodeURIComponent(arg));
      break;
    case 'admin':
      await expect(page.getByTestId('admin-panel')).toBeVisible();
      await expect(page.getByTestId('devices-view')).toHaveCount(0);
      if (arg !== undefined) await expect(page.getByTestId('admin-panel')).toHaveAttribute('data-section', arg);
      break;
    default:
      throw new Error(`no check for ${view}`);
  }
  expect(path(page)).toBe(view);
}

test('every view has an address that survives a reload, and back/forward walk through them', async ({ page, gateway }) => {
  test.setTimeout(120_000);
  const listener = await api<{ id: string; port: number }>(gateway, 'POST', '/api/listeners', { framing: 'raw', host: '127.0.0.1', port: 0 });
  expect(listener.status).toBe(201);
  const device = net.connect({ port: listener.body.port, host: '127.0.0.1' });
  device.on('error', () => {});
  const bob = await Peer.tcp(gateway.tcpPort);
  await bob.hello('bob');
  try {
    // `/` names no conversation: the first room shown takes its place.
    await joinAs(page, gateway, 'walker');
    await expect.poll(() => path(page)).toBe('/rooms/lobby');
    await shows(page, '/rooms/lobby');

    await page.locator('[data-testid="member-item"][data-name="bob"] button').click();
    await shows(page, '/private/bob');

    await page.getByTestId('room-join-input').fill('café-ops');
    await page.getByTestId('room-join-submit').click();
    await shows(page, '/rooms/caf%C3%A9-ops');

    await page.getByTestId('devices-toggle').click();
    await shows(page, '/devices');
    const item = page.locator('[data-testid="device-item"][data-framing="raw"]');
    await expect(item).toHaveCount(1);
    const id = (await item.getAttribute('data-id'))!;
    await item.click();
    const deviceView = `/devices/${encodeURIComponent(id)}`;
    await shows(page, deviceView);

    await page.getByTestId('admin-toggle').click();
    await shows(page, '/admin');
    await page.getByTestId('admin-nav-clients').click();
    await shows(page, '/admin/clients');

    const walked = ['/rooms/lobby', '/private/bob', '/rooms/caf%C3%A9-ops', '/devices', deviceView, '/admin', '/admin/clients'];
    // Reload: the same view, as the same member (the tab's resume token).
    await page.reload();
    await shows(page, '/admin/clients');

    // Back through every view, then forward again.
    for (let i = walked.length - 2; i >= 0; i--) {
      await page.goBack();
      await shows(page, walked[i]!);
    }
    for (let i = 1; i < walked.length; i++) {
      await page.goForward();
      await shows(page, walked[i]!);
    }

    // Each address opened afresh (reload on it) opens its view.
    for (const view of walked) {
      await page.goto(gateway.httpUrl + view);
      await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');
      await shows(page, view);
      await page.reload();
      await shows(page, view);
    }
    // Closing the admin page returns to the chat it was opened from.
    await page.getByTestId('admin-close').click();
    await shows(page, '/rooms/lobby');
  } finally {
    device.destroy();
    bob.end();
  }
});
