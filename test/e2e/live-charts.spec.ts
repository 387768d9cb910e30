import { Peer } from '../helpers/peer.js';
import { expect, joinAs, test } from './fixtures.js';

// Issue 14: the admin panel draws messages per second, connections by transport, queued bytes
// and errors from the gateway itself.
test('the admin panel charts traffic from the gateway as it happens', async ({ page, gateway }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await joinAs(page, gateway, 'watcher');
  const device = await Peer.tcp(gateway.tcpPort);
  await device.hello('sensor');
  await page.getByTestId('admin-toggle').click();
  const messages = page.locator('[data-chart="Messages"]');
  await expect(messages).toBeVisible();
  // Traffic for a few polls: the "in" rate rises above zero and the line has points.
  const sending = setInterval(() => device.send({ type: 'message', text: 'reading' }), 50);
  try {
    await expect(messages.locator('.legend.in')).not.toHaveText(/in (—|0\.0\/s)$/, { timeout: 10_000 });
    await expect(messages.locator('polyline.in')).toHaveAttribute('points', /,.*,/);
  } finally {
    clearInterval(sending);
  }
  await expect(page.locator('[data-chart="Connections"] .legend.tcp')).toHaveText('TCP 1');
  await expect(page.locator('[data-chart="Connections"] .legend.ws')).toHaveText('WebSocket 1');
  if (process.env.SWITCHBOARD_SCREENSHOTS) await page.screenshot({ path: `${process.env.SWITCHBOARD_SCREENSHOTS}/live-charts.png` });
  device.destroy();
});
