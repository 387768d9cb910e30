import { encodeFrame } from '@switchboard/protocol';
import { startGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, say, test } from './fixtures.js';

test('the page and a native TCP client chat in one room, both ways', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'webby');
  const tcp = await Peer.tcp(gateway.tcpPort);
  await tcp.hello('tcpbob');

  // The online list shows the TCP member with its transport and address.
  const bob = page.locator('[data-testid="member-item"][data-name="tcpbob"]');
  await expect(bob).toHaveAttribute('data-transport', 'tcp');
  await expect(bob.getByTestId('member-address')).toHaveText(`127.0.0.1:${tcp.socket!.localPort}`);

  tcp.send({ type: 'message', text: 'hello from a native client' });
  const incoming = page.locator('[data-testid="message-item"][data-from="tcpbob"]');
  await expect(incoming.getByTestId('message-text')).toHaveText('hello from a native client');
  await expect(incoming.getByTestId('transport-badge')).toHaveAttribute('data-transport', 'tcp');
  await expect(incoming.getByTestId('message-time')).toHaveText(/^\d\d:\d\d:\d\d$/);

  await say(page, 'hello from the browser');
  await expect(tcp.next('message', (m) => m.text === 'hello from the browser')).resolves.toMatchObject({ from: 'webby', transport: 'ws' });
  tcp.end();
});

test('a hello-less device appears under its address and its lines show in the page', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'operator');
  const device = await Peer.tcp(gateway.tcpPort);
  const name = `127.0.0.1:${device.socket!.localPort}`;
  device.sendBytes(encodeFrame(0x00, new TextEncoder().encode('pressure=1.2 bar')));
  await expect(page.locator(`[data-testid="member-item"][data-name="${name}"]`)).toBeVisible();
  await expect(page.locator(`[data-testid="message-item"][data-from="${name}"]`).getByTestId('message-text')).toHaveText('pressure=1.2 bar');
  await say(page, 'valve open');
  await expect(device.waitForLine((l) => l === 'operator: valve open')).resolves.toBeDefined();
  device.end();
});

test('the page shows its connection state and reconnects after the gateway restarts', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'survivor');
  await say(page, 'before the restart');
  await expect(page.locator('[data-testid="message-item"][data-own="true"]')).toHaveCount(1);
  const httpPort = Number(new URL(gateway.httpUrl).port);
  const dataDir = gateway.dataDir;
  await gateway.app.close();
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', /reconnecting|connecting/);

  // The same ports and data directory: a real restart.
  const again = await startGateway(
    { webRoot: gateway.config.webRoot, http: { host: '127.0.0.1', port: httpPort }, tcp: { ...gateway.config.tcp, port: gateway.tcpPort } },
    { keepDataDir: dataDir },
  );
  try {
    const tcp = await Peer.tcp(again.tcpPort);
    await tcp.hello('after');
    tcp.send({ type: 'message', text: 'sent while the page was away' });
    await page
      .getByTestId('reconnect-now')
      .click({ timeout: 2000 })
      .catch(() => {});
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open', { timeout: 20_000 });
    await expect(page.locator('[data-testid="message-item"][data-from="after"]').getByTestId('message-text')).toHaveText('sent while the page was away');
    await say(page, 'after the restart');
    await expect(tcp.next('message', (m) => m.text === 'after the restart')).resolves.toMatchObject({ from: 'survivor' });
    tcp.end();
  } finally {
    await again.close();
  }
});

test('scrolling to the top loads older messages from history until the start', async ({ page, gateway }) => {
  const talker = await Peer.tcp(gateway.tcpPort);
  await talker.hello('historian');
  // 90 messages, within the default rate limit's burst.
  for (let i = 0; i < 90; i++) talker.send({ type: 'message', text: `line ${i}` });
  await talker.next('message', (m) => m.text === 'line 89');
  await joinAs(page, gateway, 'reader');
  const lines = page.locator('[data-testid="message-item"][data-from="historian"]');
  await expect(lines).toHaveCount(50); // the recent history sent on joining
  await expect(lines.last().getByTestId('message-text')).toHaveText('line 89');
  await page.getByTestId('message-list').evaluate((el) => el.scrollTo({ top: 0 }));
  await expect(lines).toHaveCount(90);
  await expect(lines.first().getByTestId('message-text')).toHaveText('line 0');
  await expect(page.getByTestId('history-start')).toBeVisible();
  talker.end();
});
