import net from 'node:net';
import type { Locator, Page } from '@playwright/test';
import { api, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, test } from './fixtures.js';

// How messages read (issue 27): consecutive messages from one sender are one card (name and time
// once, each line's time on hover); a device room shows one line per message (the compact view,
// a toggle remembered per room); on a phone, rooms and members are in a drawer.

const path = (page: Page): string => new URL(page.url()).pathname;

/** A line device in `room` (opened to anyone), connected. */
async function lineDevice(gateway: RunningGateway, room: string): Promise<net.Socket> {
  expect((await api(gateway, 'PUT', `/api/rooms/${room}`, { access: 'anyone' })).status).toBe(200);
  const listener = await api<{ port: number }>(gateway, 'POST', '/api/listeners', { framing: 'line', host: '127.0.0.1', port: 0, room });
  expect(listener.status).toBe(201);
  const device = net.connect({ port: listener.body.port, host: '127.0.0.1' });
  device.on('error', () => {});
  await new Promise<void>((resolve) => device.once('connect', resolve));
  return device;
}

/** The height of one line of text in an element (its computed line-height). */
const lineHeight = (locator: Locator): Promise<number> => locator.evaluate((el) => parseFloat(getComputedStyle(el).lineHeight));

test.describe('at 1280×800', () => {
  test.use({ viewport: { width: 1280, height: 800 } });

  test('messages from one sender in a row are one card with the name once; another sender starts a new card; each line’s time shows on hover', async ({
    page,
    gateway,
  }) => {
    const bob = await Peer.tcp(gateway.tcpPort);
    await bob.hello('bob');
    const carol = await Peer.tcp(gateway.tcpPort);
    await carol.hello('carol');
    try {
      await joinAs(page, gateway, 'reader');
      for (const [peer, text] of [
        [bob, 'pump 3 restarted'],
        [bob, 'pressure back to 1.2 bar'],
        [bob, 'flow nominal'],
        [carol, 'thanks bob'],
        [bob, 'one more thing'],
      ] as const) {
        peer.send({ type: 'message', text });
        await page.locator('[data-testid="message-text"]', { hasText: text }).waitFor();
      }
      const list = page.getByTestId('message-list');
      await expect(list).toHaveAttribute('data-view', 'cards');
      const groups = list.getByTestId('message-group');
      await expect(groups).toHaveCount(3);
      const [first, second, third] = [groups.nth(0), groups.nth(1), groups.nth(2)];
      await expect(first).toHaveAttribute('data-from', 'bob');
      await expect(first.getByTestId('message-item')).toHaveCount(3);
      await expect(first.getByTestId('message-text')).toHaveText(['pump 3 restarted', 'pressure back to 1.2 bar', 'flow nominal']);
      // The name once, at the top of the card.
      await expect(first.getByTestId('message-from')).toHaveCount(1);
      await expect(first.getByTestId('message-from')).toHaveText('bob');
      await expect(first.getByTestId('message-item').first().getByTestId('message-from')).toHaveCount(1);
      await expect(second).toHaveAttribute('data-from', 'carol');
      await expect(second.getByTestId('message-from')).toHaveText('carol');
      // bob again after carol: a card of his own.
      await expect(third).toHaveAttribute('data-from', 'bob');
      await expect(third.getByTestId('message-from')).toHaveText('bob');

      // The group's time is shown; a later line's own time only while it is hovered.
      const headTime = first.getByTestId('message-item').first().getByTestId('message-time');
      await expect(headTime).toBeVisible();
      await expect(headTime).toHaveText(/^\d\d:\d\d:\d\d$/);
      const secondLine = first.getByTestId('message-item').nth(1);
      const lineTime = secondLine.getByTestId('message-time');
      await expect(lineTime).toHaveText(/^\d\d:\d\d:\d\d$/);
      await page.mouse.move(0, 0);
      await expect(lineTime).toHaveCSS('opacity', '0');
      await secondLine.hover();
      await expect(lineTime).toHaveCSS('opacity', '1');
    } finally {
      bob.end();
      carol.end();
    }
  });

  test('a device room shows one line per message; the toggle switches any room and is remembered per room after a reload', async ({ page, gateway }) => {
    const device = await lineDevice(gateway, 'plant');
    try {
      const readings = ['TEMP=21.5 C', 'TEMP=21.6 C', 'STATUS OK pump=on valve=closed'];
      device.write(readings.map((r) => `${r}\n`).join(''));
      await joinAs(page, gateway, 'operator');
      await page.goto(gateway.httpUrl + '/rooms/plant');
      const list = page.getByTestId('message-list');
      await expect(list).toHaveAttribute('data-conversation', 'plant');
      // A device is in the room: compact without being asked.
      await expect(list).toHaveAttribute('data-view', 'compact');
      await expect(page.getByTestId('compact-toggle')).toHaveAttribute('aria-pressed', 'true');
      const items = list.getByTestId('message-item');
      await expect(items.getByTestId('message-text')).toHaveText(readings);
      await expect(list.getByTestId('message-group')).toHaveCount(0);
      for (let i = 0; i < readings.length; i++) {
        const item = items.nth(i);
        // Time, sender and text, each message on one line of text, the text in monospace.
        await expect(item.getByTestId('message-time')).toHaveText(/^\d\d:\d\d:\d\d$/);
        await expect(item.getByTestId('message-from')).toHaveText(/^127\.0\.0\.1:\d+$/);
        await expect(item.getByTestId('message-text')).toHaveCSS('font-family', /mono/i);
        const box = (await item.boundingBox())!;
        expect(box.height, `reading ${i} takes one line`).toBeLessThan(1.5 * (await lineHeight(item)));
      }

      // Cards for this room, by choice; it stays so after a reload, and lobby keeps its own setting.
      await page.getByTestId('compact-toggle').click();
      await expect(list).toHaveAttribute('data-view', 'cards');
      await expect(list.getByTestId('message-group')).toHaveCount(1);
      await expect(list.getByTestId('message-group').getByTestId('message-item')).toHaveCount(3);
      await page.reload();
      await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');
      await expect(page.getByTestId('message-list')).toHaveAttribute('data-conversation', 'plant');
      await expect(page.getByTestId('message-list')).toHaveAttribute('data-view', 'cards');

      await page.locator('[data-testid="room-tab"][data-name="lobby"]').click();
      await expect(page.getByTestId('message-list')).toHaveAttribute('data-conversation', 'lobby');
      await expect(page.getByTestId('message-list')).toHaveAttribute('data-view', 'cards');
      await page.getByTestId('compact-toggle').click();
      await expect(page.getByTestId('message-list')).toHaveAttribute('data-view', 'compact');
      await page.reload();
      await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');
      await expect(page.getByTestId('message-list')).toHaveAttribute('data-conversation', 'lobby');
      await expect(page.getByTestId('message-list')).toHaveAttribute('data-view', 'compact');
      await page.goto(gateway.httpUrl + '/rooms/plant');
      await expect(page.getByTestId('message-list')).toHaveAttribute('data-conversation', 'plant');
      await expect(page.getByTestId('message-list')).toHaveAttribute('data-view', 'cards');
    } finally {
      device.destroy();
    }
  });
});

test.describe('at 390×844', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test('rooms and members are in a drawer: the header’s button opens it, Escape or the shade closes it, focus goes in and comes back', async ({
    page,
    gateway,
  }) => {
    const bob = await Peer.tcp(gateway.tcpPort);
    await bob.hello('bob');
    try {
      await joinAs(page, gateway, 'walker');
      await expect.poll(() => path(page)).toBe('/rooms/lobby');
      const drawer = page.getByTestId('chat-drawer');
      const toggle = page.getByTestId('drawer-toggle');
      // Closed: not on screen, and the composer has the whole width.
      await expect(drawer).toBeHidden();
      await expect(toggle).toHaveAttribute('aria-expanded', 'false');
      const composer = (await page.getByTestId('composer-input').boundingBox())!;
      expect(composer.width).toBeGreaterThan(0.8 * 390);

      await toggle.click();
      await expect(drawer).toBeVisible();
      await expect(toggle).toHaveAttribute('aria-expanded', 'true');
      await expect(page.getByTestId('drawer-close')).toBeFocused();
      await expect(drawer.getByTestId('room-list')).toBeInViewport();
      // The page behind is out of reach while it is open.
      expect(await page.getByTestId('composer-input').evaluate((el) => el.closest('[inert]') !== null)).toBe(true);
      await page.keyboard.press('Escape');
      await expect(drawer).toBeHidden();
      await expect(toggle).toBeFocused();
      expect(await page.getByTestId('composer-input').evaluate((el) => el.closest('[inert]') !== null)).toBe(false);

      // The shade beside it closes it too.
      await toggle.click();
      await expect(drawer).toBeVisible();
      await page.getByTestId('drawer-overlay').click({ position: { x: 380, y: 400 } });
      await expect(drawer).toBeHidden();

      // Picking a conversation in it shows the conversation.
      await toggle.click();
      await page.locator('[data-testid="member-item"][data-name="bob"] button').click();
      await expect.poll(() => path(page)).toBe('/private/bob');
      await expect(drawer).toBeHidden();
      await expect(page.getByTestId('composer-input')).toBeInViewport();
    } finally {
      bob.end();
    }
  });
});
