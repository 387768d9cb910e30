import net from 'node:net';
import type { Page } from '@playwright/test';
import { api } from '../helpers/gateway.js';
import { expect, joinAs, test } from './fixtures.js';
import { freePort } from '../helpers/ports.js';

// Devices as they are, from the browser: a raw listener added in the admin panel, bytes both
// ways between a plain TCP program and the chat, and an outbound device link.
// SWITCHBOARD_SCREENSHOTS=/tmp/dir saves what the panel and the chat look like at 1280×800.
const shots = process.env['SWITCHBOARD_SCREENSHOTS'];

test.use({ viewport: { width: 1280, height: 800 } });

async function screenshot(page: Page, name: string): Promise<void> {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png` });
}

/** A port nobody listens on right now (the OS picks it; we let it go for the gateway to take). */
/** A TCP client that keeps every byte it receives. */
async function tcpClient(port: number): Promise<{ socket: net.Socket; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { socket, received: () => Buffer.concat(chunks) };
}

/** The admin page at one of its sections (the chat is behind it: admin-close returns there). */
async function openAdmin(page: Page, section: string): Promise<void> {
  if ((await page.getByTestId('admin-panel').count()) === 0) await page.getByTestId('admin-toggle').click();
  await page.getByTestId(`admin-nav-${section}`).click();
  await expect(page.getByTestId('admin-panel')).toHaveAttribute('data-section', section);
}

test('a raw listener added in the admin panel: a TCP program’s bytes show as hex, and hex typed in the chat reaches it byte-exact', async ({
  page,
  gateway,
}) => {
  // Devices start in an operators-only room of their own; this test is about bytes between a
  // device and the chat, so it puts the device in lobby, opened on purpose (security-rooms.test.ts
  // tests the closed default).
  expect((await api(gateway, 'PUT', '/api/rooms/lobby', { access: 'anyone' })).status).toBe(200);
  await joinAs(page, gateway, 'operator');
  await openAdmin(page, 'listeners');
  const port = await freePort();

  await page.getByTestId('listener-add-toggle').click();
  await page.getByTestId('listener-add-framing').selectOption('raw');
  await page.getByTestId('listener-add-room').fill('lobby');
  await page.getByTestId('listener-add-port').fill(String(port));
  await page.getByTestId('listener-add-host').fill('127.0.0.1');
  await page.getByTestId('listener-add-submit').click();
  const row = page.locator(`[data-testid="listener-row"][data-port="${port}"]`);
  await expect(row).toHaveAttribute('data-framing', 'raw');
  await expect(row).toHaveAttribute('data-listening', 'true');
  await expect(row.getByTestId('listener-row-address')).toHaveText(`127.0.0.1:${port}`);
  await expect(row.getByTestId('listener-row-remove')).toBeVisible();
  // The default listener stays, and cannot be removed.
  const defaultRow = page.locator('[data-testid="listener-row"][data-id="default"]');
  await expect(defaultRow).toHaveAttribute('data-framing', 'frame');
  await expect(defaultRow.getByTestId('listener-row-remove')).toHaveCount(0);

  // The same port again: the gateway's refusal is shown by the form, code and message.
  await page.getByTestId('listener-add-port').fill(String(port));
  await page.getByTestId('listener-add-submit').click();
  await expect(page.getByTestId('listener-add-error')).toHaveAttribute('data-code', 'ADDRESS_IN_USE');

  const device = await tcpClient(port);
  device.socket.write(Buffer.from([0x00, 0x01, 0x02, 0xff, 0x41, 0x42]));

  // The clients table says how the device came in.
  await openAdmin(page, 'clients');
  const client = page.locator('[data-testid="client-row"][data-framing="raw"]');
  await expect(client.getByTestId('client-framing')).toHaveText('raw');
  await expect(client).toHaveAttribute('data-listener', /.+/);
  await expect(client.getByTestId('client-via')).toContainText('via listener');

  await page.getByTestId('admin-close').click();
  const message = page.locator('[data-testid="message-item"][data-bytes="true"][data-own="false"]');
  const dump = message.first().getByTestId('message-hex');
  await expect(dump).toHaveAttribute('data-hex', '00 01 02 ff 41 42');
  await expect(dump.getByTestId('message-hex-row')).toHaveText('00 01 02 ff 41 42');
  await expect(dump.getByTestId('message-ascii')).toHaveText('....AB');
  await expect(dump).toHaveCSS('font-family', /mono/i);

  // Hex mode: bad hex is an error and nothing is sent; good hex goes out as exactly those bytes.
  await page.getByTestId('composer-mode-hex').click();
  await expect(page.getByTestId('composer-mode-hex')).toHaveAttribute('aria-pressed', 'true');
  await page.getByTestId('composer-input').fill('02 5g');
  await expect(page.getByTestId('composer-bytes-error')).toContainText('"g"');
  await expect(page.getByTestId('composer-send')).toBeDisabled();
  await screenshot(page, 'composer-hex-error');
  await page.getByTestId('composer-input').press('Enter');
  await page.getByTestId('composer-input').fill('02 53 54 03');
  await expect(page.getByTestId('composer-bytes')).toHaveAttribute('data-hex', '02 53 54 03');
  await screenshot(page, 'composer-hex');
  await page.getByTestId('composer-send').click();
  await expect.poll(() => device.received().length).toBeGreaterThanOrEqual(4);
  await page.waitForTimeout(200); // Nothing more may follow (no prefix, no delimiter, no echo of the bad hex).
  expect([...device.received()]).toEqual([0x02, 0x53, 0x54, 0x03]);
  await expect(page.locator('[data-testid="message-item"][data-own="true"] [data-testid="message-hex"]')).toHaveAttribute('data-hex', '02 53 54 03');
  await expect(page.getByTestId('composer-input')).toHaveValue('');

  // Escapes mode: \x02 and the rest read by parseEscapes.
  await page.getByTestId('composer-mode-escapes').click();
  await page.getByTestId('composer-input').fill('\\x02OK\\r\\n');
  await page.getByTestId('composer-input').press('Enter');
  await expect.poll(() => device.received().length).toBeGreaterThanOrEqual(9);
  expect([...device.received().subarray(4)]).toEqual([0x02, 0x4f, 0x4b, 0x0d, 0x0a]);
  await page.getByTestId('composer-mode-escapes').click();
  await expect(page.getByTestId('composer-input')).toHaveAttribute('data-mode', 'text');

  await screenshot(page, 'chat-hex');

  // Stop, start and remove the listener from its row.
  await openAdmin(page, 'listeners');
  await row.getByTestId('listener-row-stop').click();
  await expect(row).toHaveAttribute('data-listening', 'false');
  await row.getByTestId('listener-row-start').click();
  await expect(row).toHaveAttribute('data-listening', 'true');
  await row.getByTestId('listener-row-remove').click();
  await page.getByTestId('listener-remove-confirm').click();
  await expect(row).toHaveCount(0);
  device.socket.destroy();
});

test('a device link added in the admin panel connects, its lines reach the room, and it can be removed', async ({ page, gateway }) => {
  // A robot controller that is a TCP server.
  const accepted: net.Socket[] = [];
  let hungUp = 0;
  const robot = net.createServer((socket) => {
    accepted.push(socket);
    socket.on('data', () => {}); // Read, so the gateway's end of the stream is seen.
    socket.on('end', () => hungUp++);
    socket.on('error', () => {});
    socket.write('READY\n');
  });
  await new Promise<void>((resolve) => robot.listen(0, '127.0.0.1', resolve));
  const robotPort = (robot.address() as net.AddressInfo).port;
  // A listener added elsewhere (REST) shows up too: the panel polls.
  const listenerPort = await freePort();
  const added = await api(gateway, 'POST', '/api/listeners', { framing: 'line', port: listenerPort, delimiter: '\\r\\n', room: 'plc' });
  expect(added.status).toBe(201);

  try {
    // The robot goes to lobby, opened on purpose: device rooms are operators-only by default.
    expect((await api(gateway, 'PUT', '/api/rooms/lobby', { access: 'anyone' })).status).toBe(200);
    await joinAs(page, gateway, 'operator');
    await openAdmin(page, 'listeners');
    await expect(page.locator(`[data-testid="listener-row"][data-port="${listenerPort}"]`)).toHaveAttribute('data-framing', 'line');
    // At 1280×800 the table fits the page: no sideways scrolling.
    const fits = async (table: string) => {
      const [scroll, width] = await page.getByTestId(table).evaluate((t) => [t.parentElement!.scrollWidth, t.parentElement!.clientWidth]);
      expect(scroll, table).toBeLessThanOrEqual(width);
    };
    await fits('listeners-table');

    await openAdmin(page, 'devices');

    await page.getByTestId('device-add-toggle').click();
    // Outside --device-targets (loopback only by default): the gateway refuses, the form says why.
    await page.getByTestId('device-add-name').fill('far-away');
    await page.getByTestId('device-add-host').fill('192.0.2.10');
    await page.getByTestId('device-add-port').fill('1025');
    await page.getByTestId('device-add-submit').click();
    await expect(page.getByTestId('device-add-error')).toHaveAttribute('data-code', 'TARGET_NOT_ALLOWED');

    await page.getByTestId('device-add-name').fill('robot1');
    await page.getByTestId('device-add-host').fill('127.0.0.1');
    await page.getByTestId('device-add-port').fill(String(robotPort));
    await page.getByTestId('device-add-framing').selectOption('line');
    await page.getByTestId('device-add-delimiter').fill('\\n');
    await page.getByTestId('device-add-room').fill('lobby');
    await page.getByTestId('device-add-submit').click();
    await expect(page.getByTestId('device-add-error')).toHaveCount(0);
    const row = page.locator('[data-testid="device-row"][data-name="robot1"]');
    await expect(row).toHaveAttribute('data-state', 'connected', { timeout: 10_000 });
    await expect(row.getByTestId('device-row-address')).toHaveText(`127.0.0.1:${robotPort}`);
    await fits('devices-table');
    await screenshot(page, 'admin-devices');
    await openAdmin(page, 'clients');
    const client = page.locator('[data-testid="client-row"][data-name="robot1"]');
    await expect(client).toHaveAttribute('data-outbound', /.+/);
    await expect(client.getByTestId('client-framing')).toHaveText('line');
    await screenshot(page, 'admin-clients');
    await page.getByTestId('admin-close').click();
    await expect(page.locator('[data-testid="message-item"][data-from="robot1"] [data-testid="message-text"]')).toHaveText('READY');

    await openAdmin(page, 'devices');
    await row.getByTestId('device-row-remove').click();
    await page.getByTestId('device-remove-confirm').click();
    await expect(row).toHaveCount(0);
    // The gateway hung up, and does not dial again.
    await expect.poll(() => hungUp).toBe(accepted.length);
    await page.waitForTimeout(300);
    expect(accepted).toHaveLength(1);
  } finally {
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => robot.close(() => resolve()));
  }
});
