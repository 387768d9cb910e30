import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { api, startGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, test } from './fixtures.js';

// Issue 27: the admin page is a page of its own (/admin, /admin/:section), not a drawer: its
// sections in a navigation, tables that never break an address, one token prompt, no kick on
// your own row, names in the audit log, and charts that open with the last minutes drawn.

const shots = process.env['SWITCHBOARD_SCREENSHOTS'];
const SECTIONS: [string, string][] = [
  ['charts', '[data-chart="Messages"]'],
  ['listeners', '[data-testid="listeners-table"]'],
  ['devices', '[data-testid="devices-table"]'],
  ['clients', '[data-testid="clients-table"]'],
  ['broadcast', '[data-testid="broadcast-input"]'],
  ['bans', '[data-testid="bans-table"]'],
  ['accounts', '[data-testid="accounts-table"]'],
  ['audit', '[data-testid="audit-table"]'],
];

async function screenshot(page: Page, name: string): Promise<void> {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

/** Elements that are one line of text: no taller than one line (a wrapped address is two). */
async function heightsInLines(page: Page, selector: string): Promise<number[]> {
  return page.locator(selector).evaluateAll((elements) =>
    elements.map((element) => {
      const style = getComputedStyle(element);
      const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.25;
      return element.getBoundingClientRect().height / line;
    }),
  );
}

const pageOverflow = (page: Page): Promise<number> => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

test('the admin page takes the full width, names its sections in a navigation, and each section has its own address', async ({ page, gateway }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await joinAs(page, gateway, 'operator');
  await page.getByTestId('admin-toggle').click();
  const admin = page.getByTestId('admin-panel');
  await expect(admin).toBeVisible();
  expect(new URL(page.url()).pathname).toBe('/admin');
  // The page, not a drawer beside the chat.
  const box = (await admin.boundingBox())!;
  expect(box.width).toBeGreaterThan(1200);
  await expect(page.getByTestId('composer-input')).toHaveCount(0);
  const nav = page.getByRole('navigation', { name: 'Admin sections' });
  await expect(nav.getByRole('link')).toHaveCount(SECTIONS.length);

  // Each section by its link (the address changes) and by its address (a reload keeps it).
  for (const [section, shows] of SECTIONS) {
    await nav.getByTestId(`admin-nav-${section}`).click();
    await expect(admin).toHaveAttribute('data-section', section);
    expect(new URL(page.url()).pathname).toBe(`/admin/${section}`);
    await expect(page.locator(shows)).toBeVisible();
    await expect(nav.getByTestId(`admin-nav-${section}`)).toHaveAttribute('aria-current', 'page');
    // Only the section asked for is shown.
    for (const [other, its] of SECTIONS) if (other !== section) await expect(page.locator(its)).toHaveCount(0);
  }
  await page.goto(`${gateway.httpUrl}/admin/bans`);
  await expect(admin).toHaveAttribute('data-section', 'bans');
  await expect(page.getByTestId('bans-table')).toBeVisible();
  await page.goBack();
  await expect(admin).toHaveAttribute('data-section', 'audit');
  await screenshot(page, 'admin-audit-1280');
});

test('at 390 px: no sideways page scrolling in any section, and addresses and names never wrap mid-token', async ({ page, gateway }) => {
  const device = await Peer.tcp(gateway.tcpPort);
  await device.hello('sensor-with-a-long-name');
  // A line listener on loopback, so the listeners table has two addresses.
  expect((await api(gateway, 'POST', '/api/listeners', { framing: 'line', port: 0, host: '127.0.0.1', room: 'plc' })).status).toBe(201);
  await page.setViewportSize({ width: 390, height: 844 });
  await joinAs(page, gateway, 'phone-operator');
  for (const [section, shows] of SECTIONS) {
    await page.goto(`${gateway.httpUrl}/admin/${section}`);
    await expect(page.locator(shows)).toBeVisible();
    if (section === 'clients') await expect(page.getByTestId('client-row')).toHaveCount(2);
    if (section === 'audit') await expect(page.getByTestId('audit-row')).not.toHaveCount(0);
    expect(await pageOverflow(page), section).toBeLessThanOrEqual(0);
    await screenshot(page, `admin-${section}-390`);
  }
  // 127.0.0.1:4004 never as 127.0.0.1:4004 / 2, loopback never loopba / ck.
  await page.goto(`${gateway.httpUrl}/admin/listeners`);
  await expect(page.getByTestId('listener-row')).toHaveCount(2);
  for (const lines of await heightsInLines(page, '[data-testid="listener-row-address"]')) expect(lines).toBeLessThan(1.5);
  await page.goto(`${gateway.httpUrl}/admin/clients`);
  await expect(page.getByTestId('client-row')).toHaveCount(2);
  for (const lines of await heightsInLines(page, '[data-testid="client-address"]')) expect(lines).toBeLessThan(1.5);
  await page.goto(`${gateway.httpUrl}/admin/audit`);
  await expect(page.locator('[data-testid="audit-row"][data-actor="loopback"]')).not.toHaveCount(0);
  for (const lines of await heightsInLines(page, '[data-testid="audit-actor"], [data-testid="audit-address"]')) expect(lines).toBeLessThan(1.5);
  device.destroy();
});

test('the default listener is said once: its table row, with the controls to move it beside, not a second status block', async ({ page, gateway }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await joinAs(page, gateway, 'operator');
  await page.goto(`${gateway.httpUrl}/admin/listeners`);
  const address = `127.0.0.1:${gateway.tcpPort}`;
  await expect(page.locator('[data-testid="listener-row"][data-id="default"] [data-testid="listener-row-address"]')).toHaveText(address);
  const section = page.locator('[data-admin-section="listeners"]');
  expect((await section.innerText()).split(address).length - 1).toBe(1);
});

test('your own row has no kick; kicking another member is audited under its name, not its id', async ({ page, gateway }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  const victim = await Peer.tcp(gateway.tcpPort);
  const { id } = await victim.hello('troublemaker');
  await joinAs(page, gateway, 'operator');
  await page.goto(`${gateway.httpUrl}/admin/clients`);
  const mine = page.locator('[data-testid="client-row"][data-name="operator"]');
  const theirs = page.locator('[data-testid="client-row"][data-name="troublemaker"]');
  await expect(mine).toHaveAttribute('data-me', 'true');
  await expect(theirs.getByTestId('client-kick')).toBeVisible();
  await expect(mine.getByTestId('client-kick')).toHaveCount(0);
  await theirs.getByTestId('client-kick').click();
  await page.getByTestId('client-action-confirm').click();
  await victim.waitClosed();

  await page.getByTestId('admin-nav-audit').click();
  const entry = page.locator('[data-testid="audit-row"][data-action="POST /api/clients/:id/kick"]');
  await expect(entry.getByTestId('audit-target')).toHaveText('troublemaker');
  await expect(entry).not.toContainText(`id="${id}"`);
});

test('the charts open with the last minutes already drawn, and their scale never sits on the lines', async ({ page, gateway }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  const device = await Peer.tcp(gateway.tcpPort);
  await device.hello('sensor');
  for (let i = 0; i < 20; i++) device.send({ type: 'message', text: `reading ${i}` });
  // The gateway keeps a reading a second: wait until it holds a few.
  await expect
    .poll(async () => (await api<{ readings: unknown[] }>(gateway, 'GET', '/api/stats/history')).body.readings.length, { timeout: 15_000 })
    .toBeGreaterThanOrEqual(8);
  await joinAs(page, gateway, 'watcher');
  await page.goto(`${gateway.httpUrl}/admin/charts`);
  const messages = page.locator('[data-chart="Messages"]');
  // Polling alone gives one point per 2 s after the first; five at once come from the history.
  await expect
    .poll(async () => ((await messages.locator('polyline.in').getAttribute('points')) ?? '').split(' ').filter(Boolean).length, { timeout: 4_000 })
    .toBeGreaterThanOrEqual(5);
  for (const chart of await page.locator('figure.chart').all()) {
    const label = (await chart.locator('.chart-max').boundingBox())!;
    const plot = (await chart.locator('svg').boundingBox())!;
    expect(label.y + label.height).toBeLessThanOrEqual(plot.y + 0.5);
  }
  await screenshot(page, 'admin-charts-1280');
  device.destroy();
});

test('with an admin token, the page asks for it once, on the admin page and after the Devices view alike', async ({ page }) => {
  const gateway = await startGateway({
    webRoot: fileURLToPath(new URL('../../apps/web/dist', import.meta.url)),
    security: { adminToken: 'open-sesame' },
  });
  try {
    await page.setViewportSize({ width: 1280, height: 800 });
    await joinAs(page, gateway, 'chief');
    await page.getByTestId('devices-toggle').click();
    await page.getByTestId('admin-toggle').click();
    await page.getByTestId('admin-nav-listeners').click();
    await expect(page.getByTestId('admin-token-input')).toHaveCount(1);
    // The prompt says it; the 401 is not said a second time as a failure.
    await expect(page.getByTestId('admin-error')).toHaveCount(0);
    await expect(page.getByText(/admin token/i)).not.toHaveCount(0);
    await screenshot(page, 'admin-token-1280');
    await page.getByTestId('admin-token-input').fill('open-sesame');
    await page.getByTestId('admin-token-save').click();
    await expect(page.locator('[data-testid="listener-row"][data-id="default"]')).toBeVisible();
    await expect(page.getByTestId('admin-token-input')).toHaveCount(0);
  } finally {
    await gateway.close();
  }
});
