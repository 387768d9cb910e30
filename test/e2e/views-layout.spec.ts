import { writeFileSync } from 'node:fs';
import net from 'node:net';
import type { Page, TestInfo } from '@playwright/test';
import { api, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, say, test } from './fixtures.js';

// Every view at a desktop's 1280×800 and a phone's 390×844 (issue 27): the page is never wider
// than the screen, the main controls are on it (not past its edge, not far below the fold),
// and a screenshot of each view is attached to the run (playwright-report/, not committed).
// SWITCHBOARD_SCREENSHOTS=/tmp/dir saves them there too.
const shots = process.env['SWITCHBOARD_SCREENSHOTS'];

const SIZES = [
  { label: 'desktop', width: 1280, height: 800 },
  { label: 'phone', width: 390, height: 844 },
] as const;

const ADMIN_SECTIONS = ['charts', 'listeners', 'devices', 'clients', 'broadcast', 'bans', 'accounts', 'audit'] as const;

interface Scene {
  device: net.Socket;
  bob: Peer;
  close: () => void;
}

/** A line device in the devices room (opened to anyone) with a few readings, and bob chatting in lobby. */
async function scene(gateway: RunningGateway): Promise<Scene> {
  expect((await api(gateway, 'PUT', '/api/rooms/devices', { access: 'anyone' })).status).toBe(200);
  const listener = await api<{ port: number }>(gateway, 'POST', '/api/listeners', { framing: 'line', host: '127.0.0.1', port: 0, room: 'devices' });
  expect(listener.status).toBe(201);
  const device = net.connect({ port: listener.body.port, host: '127.0.0.1' });
  device.on('error', () => {});
  await new Promise<void>((resolve) => device.once('connect', resolve));
  const bob = await Peer.tcp(gateway.tcpPort);
  await bob.hello('bob');
  // bob answers no pings: a word every 10 s keeps the heartbeat from closing him in a long test.
  const keepAlive = setInterval(() => bob.send({ type: 'ping', data: new Uint8Array(0) }), 10_000);
  const close = (): void => {
    clearInterval(keepAlive);
    device.destroy();
    bob.end();
  };
  return { device, bob, close };
}

/** A test id, or a CSS selector when it starts with `[`. */
const selector = (target: string): string => (target.startsWith('[') ? target : `[data-testid="${target}"]`);

/** Where an element is on the screen, and whether its content is wider than its box. */
async function placement(page: Page, target: string) {
  return page
    .locator(selector(target))
    .first()
    .evaluate((el) => {
      const box = el.getBoundingClientRect();
      return { left: box.left, right: box.right, top: box.top, bottom: box.bottom, clipped: el.scrollWidth - el.clientWidth };
    });
}

/**
 * The page is no wider than the screen; each of `controls` is wholly on screen; each of `areas`
 * (logs, lists) lies within the screen's width and does not hide content sideways.
 */
async function fits(page: Page, view: string, controls: readonly string[], areas: readonly string[] = []): Promise<void> {
  for (const id of [...controls, ...areas]) await expect(page.locator(selector(id)).first(), `${view}: ${id}`).toBeVisible();
  const screen = await page.evaluate(() => {
    // What sticks out past the right edge (the innermost elements), to name in a failure.
    const past = Array.from(document.querySelectorAll<HTMLElement>('body *')).filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5);
    const innermost = past.filter((el) => !past.some((other) => other !== el && el.contains(other)));
    const named = innermost.slice(0, 5).map((el) => `${el.tagName.toLowerCase()}.${Array.from(el.classList).join('.')}[${el.dataset['testid'] ?? ''}]`);
    return { width: window.innerWidth, height: window.innerHeight, scrollWidth: document.documentElement.scrollWidth, past: named.join(', ') };
  });
  expect(screen.scrollWidth, `${view}: the page is wider than the screen (past its edge: ${screen.past})`).toBeLessThanOrEqual(screen.width);
  for (const id of controls) {
    const at = await placement(page, id);
    expect(at.left, `${view}: ${id} starts left of the screen`).toBeGreaterThanOrEqual(0);
    expect(at.right, `${view}: ${id} ends past the screen's right edge`).toBeLessThanOrEqual(screen.width);
    expect(at.top, `${view}: ${id} is above the screen`).toBeGreaterThanOrEqual(0);
    expect(at.bottom, `${view}: ${id} is below the fold`).toBeLessThanOrEqual(screen.height);
  }
  for (const id of areas) {
    const at = await placement(page, id);
    expect(at.left, `${view}: ${id} starts left of the screen`).toBeGreaterThanOrEqual(0);
    expect(at.right, `${view}: ${id} ends past the screen's right edge`).toBeLessThanOrEqual(screen.width);
    expect(at.top, `${view}: ${id} starts below the fold`).toBeLessThan(screen.height);
    expect(at.clipped, `${view}: ${id} is wider inside than its box`).toBeLessThanOrEqual(0);
  }
}

async function attach(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const body = await page.screenshot();
  await testInfo.attach(name, { body, contentType: 'image/png' });
  if (shots) writeFileSync(`${shots}/${name}.png`, body);
}

const path = (page: Page): string => new URL(page.url()).pathname;

// One test for both sizes (each in a browser context of its own, against one gateway).
test('every view at 1280×800 and at 390×844: no sideways overflow, the main controls on screen, a screenshot of each', async ({
  browser,
  gateway,
}, testInfo) => {
  test.setTimeout(360_000);
  const { device, bob, close } = await scene(gateway);
  try {
    device.write('TEMP=21.5 C\nTEMP=21.6 C\nSTATUS OK pump=on valve=closed pressure=1.20 bar\n');
    bob.send({ type: 'message', text: 'morning, the pump on line 3 restarted at 06:10' });
    bob.send({ type: 'message', text: 'a long address: https://example.com/a/very/long/path/that/should/wrap/and/not/push/the/page/sideways?q=1' });
    await bob.next('message', (m) => m.text.startsWith('a long address'));
    for (const size of SIZES) {
      const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
      try {
        const page = await context.newPage();
        await test.step(`${size.label}, ${size.width}×${size.height}`, () => everyView(page, gateway, device, size, testInfo));
      } finally {
        await context.close();
      }
    }
  } finally {
    close();
  }
});

async function everyView(page: Page, gateway: RunningGateway, device: net.Socket, size: (typeof SIZES)[number], testInfo: TestInfo): Promise<void> {
  const phone = size.width < 600;
  await joinAs(page, gateway, `viewer-${size.label}`);
  await expect.poll(() => path(page)).toBe('/rooms/lobby');
  await say(page, 'thanks, looking at it');
  await expect(page.locator('[data-testid="message-item"][data-own="true"]')).toHaveCount(1);
  const chatControls = ['composer-input', 'composer-send', 'devices-toggle', 'admin-toggle', phone ? 'drawer-toggle' : 'room-list'];
  await fits(page, '/rooms/lobby', chatControls, ['message-list']);
  await attach(page, testInfo, `${size.label}-chat-room`);

  if (phone) {
    await page.getByTestId('drawer-toggle').click();
    await expect(page.getByTestId('chat-drawer')).toBeVisible();
    // It slides in: measured once it has arrived (its left edge on the screen's), not mid-slide.
    await expect.poll(async () => Math.round((await page.getByTestId('chat-drawer').boundingBox())?.x ?? -1)).toBe(0);
    await fits(page, 'the drawer', ['room-join-input', 'room-join-submit', 'search-input', 'drawer-close'], ['member-list']);
    await attach(page, testInfo, `${size.label}-chat-drawer`);
  }
  await page.locator('[data-testid="member-item"][data-name="bob"] button').click();
  await expect.poll(() => path(page)).toBe('/private/bob');
  await say(page, 'can you check valve 2?');
  await expect(page.locator('[data-testid="message-item"][data-kind="private"][data-own="true"]')).toHaveCount(1);
  await fits(page, '/private/bob', chatControls, ['message-list']);
  await attach(page, testInfo, `${size.label}-chat-private`);

  await page.goto(gateway.httpUrl + '/rooms/devices');
  await expect(page.locator('[data-testid="message-list"]')).toHaveAttribute('data-conversation', 'devices');
  await expect(page.locator('[data-testid="message-list"] [data-testid="message-text"]').filter({ hasText: 'pressure=1.20 bar' })).toBeVisible();
  await fits(page, '/rooms/devices', chatControls, ['message-list']);
  await attach(page, testInfo, `${size.label}-chat-device-room`);

  await page.getByTestId('devices-toggle').click();
  await expect.poll(() => path(page)).toBe('/devices');
  await expect(page.getByTestId('device-item')).toHaveCount(1);
  await fits(page, '/devices', ['device-item', 'devices-toggle', 'admin-toggle'], ['device-list']);
  await attach(page, testInfo, `${size.label}-devices`);

  await page.getByTestId('device-item').click();
  await expect(page.getByTestId('device-console')).toHaveAttribute('data-pipe', 'open');
  device.write(`TEMP=21.7 C\nSTATUS OK pump=on valve=closed pressure=1.21 bar flow=12.5 l/min seen=${size.label}\n`);
  await expect(page.getByTestId('traffic-row').filter({ hasText: `seen=${size.label}` })).toHaveCount(1);
  await page.getByTestId('send-input').fill('STATUS?');
  await fits(page, '/devices/:id', ['send-input', 'send-button', 'log-mode-hex'], ['device-console', 'traffic-log', 'send-box']);
  await attach(page, testInfo, `${size.label}-device-console`);
  await page.getByTestId('log-mode-hex').click();
  await fits(page, '/devices/:id (hex)', ['send-input', 'send-button'], ['device-console', 'traffic-log']);
  await attach(page, testInfo, `${size.label}-device-console-hex`);

  await page.getByTestId('admin-toggle').click();
  await expect.poll(() => path(page)).toBe('/admin');
  await expect(page.getByTestId('admin-panel')).toBeVisible();
  await fits(page, '/admin', ['admin-close', 'admin-nav-charts', 'admin-nav-audit'], ['admin-panel']);
  await attach(page, testInfo, `${size.label}-admin`);
  // Each section by its address (routes.spec.ts reloads on them; here the navigation leads there).
  for (const section of ADMIN_SECTIONS) {
    await page.getByTestId(`admin-nav-${section}`).click();
    await expect.poll(() => path(page)).toBe(`/admin/${section}`);
    await expect(page.getByTestId('admin-panel')).toHaveAttribute('data-section', section);
    await fits(page, `/admin/${section}`, [], ['admin-panel', `[data-admin-section="${section}"]`]);
    if (section === 'clients') await expect(page.getByTestId('client-row').first()).toBeVisible();
    if (section === 'listeners' || section === 'clients') await attach(page, testInfo, `${size.label}-admin-${section}`);
  }
}
