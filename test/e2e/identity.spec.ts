import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { expect, joinAs, say, test } from './fixtures.js';

const webRoot = fileURLToPath(new URL('../../apps/web/dist', import.meta.url));
const ADMIN_TOKEN = 'open-sesame';

/** A gateway of its own for tests that need other identity settings than the fixture's. */
async function withGateway(overrides: Parameters<typeof startGateway>[0], run: (gateway: RunningGateway) => Promise<void>): Promise<void> {
  const gateway = await startGateway({ webRoot, ...overrides });
  try {
    await run(gateway);
  } finally {
    await gateway.close();
  }
}

async function signIn(page: Page, name: string, password: string): Promise<void> {
  await page.getByTestId('join-name-input').fill(name);
  await page.getByTestId('join-password-input').fill(password);
  await page.getByTestId('join-submit').click();
}

const privateTab = (page: Page, name: string) => page.locator(`[data-testid="private-tab"][data-name="${name}"]`);
const privateTexts = (page: Page) => page.locator('[data-testid="message-list"][data-kind="private"] [data-testid="message-text"]');

test('a guest tab that reloads keeps its name and its private conversations; signing out forgets them', async ({ page, gateway }) => {
  await joinAs(page, gateway, 'gina');
  const bob = await Peer.tcp(gateway.tcpPort);
  await bob.hello('bob');
  await page.locator('[data-testid="member-item"][data-name="bob"] button').click();
  await say(page, 'before the reload');
  await bob.next('private', (m) => m.text === 'before the reload');
  bob.send({ type: 'private', to: 'gina', text: 'seen it' });
  await expect(privateTexts(page)).toHaveText(['before the reload', 'seen it']);

  // A reload says hello with the token: same name, no join screen, the same private history.
  await page.reload();
  await expect(page.getByTestId('my-name')).toHaveText('gina');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');
  await expect(page.getByTestId('join-name-input')).toHaveCount(0);
  await privateTab(page, 'bob').click();
  await expect(privateTexts(page)).toHaveText(['before the reload', 'seen it']);
  // The other side sees the same member carry on.
  bob.send({ type: 'private', to: 'gina', text: 'still you?' });
  await expect(privateTexts(page)).toHaveText(['before the reload', 'seen it', 'still you?']);

  // Signing out forgets the token: the same name is a new guest with no private history.
  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('join-name-input')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('join-name-input')).toBeVisible();
  await joinAs(page, gateway, 'gina');
  await page.waitForTimeout(300);
  await expect(privateTab(page, 'bob')).toHaveCount(0);
  bob.end();
});

test('a second tab with the same token takes the session over; the first one stops instead of taking it back', async ({ page, gateway, context }) => {
  await joinAs(page, gateway, 'tess');
  const saved = await page.evaluate(() => sessionStorage.getItem('switchboard.resume'));
  expect(saved).toContain('"name":"tess"');
  // What "duplicate tab" does: the new tab starts with a copy of this one's sessionStorage.
  const second = await context.newPage();
  await second.addInitScript((value) => sessionStorage.setItem('switchboard.resume', value), saved!);
  await second.goto(gateway.httpUrl + '/');
  await expect(second.getByTestId('my-name')).toHaveText('tess');
  await expect(page.getByTestId('session-ended')).toHaveAttribute('data-code', 'SESSION_REPLACED');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'closed');
  await page.waitForTimeout(1500);
  await expect(second.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');
  await expect(second.getByTestId('session-ended')).toHaveCount(0);
  await second.close();
});

test('after a gateway restart the page says hello with its token: the same identity, with its private history', async ({ page }) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-restart-'));
  // Every hello the page sends (frame type 0x02 after the 4-byte length), decoded.
  const hellos: Record<string, unknown>[] = [];
  page.on('websocket', (socket) =>
    socket.on('framesent', ({ payload }) => {
      if (typeof payload !== 'string' && payload[4] === 0x02) hellos.push(JSON.parse(payload.subarray(5).toString('utf8')) as Record<string, unknown>);
    }),
  );
  let gateway = await startGateway({ webRoot }, { keepDataDir: dataDir });
  try {
    await joinAs(page, gateway, 'rita');
    const bob = await Peer.tcp(gateway.tcpPort);
    await bob.hello('bob');
    bob.send({ type: 'private', to: 'rita', text: 'before the restart' });
    await expect(privateTab(page, 'bob')).toBeVisible();

    const port = Number(new URL(gateway.httpUrl).port);
    await gateway.close();
    gateway = await startGateway({ webRoot, http: { port } }, { keepDataDir: dataDir });
    await expect.poll(() => hellos.length, { timeout: 20_000 }).toBeGreaterThan(1);
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');
    await expect(page.getByTestId('my-name')).toHaveText('rita');
    expect(hellos[0]).toMatchObject({ name: 'rita' });
    const resumed = hellos.at(-1)!;
    expect(resumed).toMatchObject({ token: expect.any(String) });
    expect(resumed).not.toHaveProperty('name');

    // The restarted gateway knows the token: a reload is still rita, with the private history.
    await page.reload();
    await expect(page.getByTestId('my-name')).toHaveText('rita');
    await privateTab(page, 'bob').click();
    await expect(privateTexts(page)).toHaveText(['before the restart']);
  } finally {
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('registering a name from the page signs in; after a reload and a sign-out the password signs in again', async ({ page, gateway }) => {
  await page.goto(gateway.httpUrl + '/');
  await page.getByTestId('join-name-input').fill('reggie');
  await page.getByTestId('join-password-input').fill('correct horse');
  await page.getByTestId('join-register').click();
  await expect(page.getByTestId('my-name')).toHaveText('reggie');
  const accounts = await api<{ accounts: { name: string; role: string }[] }>(gateway, 'GET', '/api/accounts');
  expect(accounts.body.accounts).toEqual([expect.objectContaining({ name: 'reggie', role: 'user' })]);
  await page.reload();
  await expect(page.getByTestId('my-name')).toHaveText('reggie');
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'open');

  // Signing out revokes the token on the server too (the reload used the saved one, so this is its successor).
  const saved = await page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.resume') ?? 'null') as { token: string } | null);
  expect(saved?.token).toMatch(/^[\w-]{43}$/);
  await page.getByTestId('sign-out').click();
  await expect
    .poll(async () => {
      const old = await Peer.tcp(gateway.tcpPort);
      old.send({ type: 'hello', v: 1, token: saved!.token });
      const code = await old.next('error').then(
        (e) => e.code,
        () => 'welcome',
      );
      old.destroy();
      return code;
    })
    .toBe('AUTH_FAILED');

  // Nobody else can take the name now, not even while reggie is away.
  const guest = await Peer.tcp(gateway.tcpPort);
  guest.send({ type: 'hello', v: 1, name: 'reggie' });
  await expect(guest.next('error')).resolves.toMatchObject({ code: 'AUTH_REQUIRED' });
  guest.end();

  // Without the password: the page says the name is registered and asks for it.
  await page.getByTestId('join-name-input').fill('reggie');
  await page.getByTestId('join-password-input').fill('');
  await page.getByTestId('join-submit').click();
  const error = page.getByTestId('join-error');
  await expect(error).toHaveAttribute('data-code', 'AUTH_REQUIRED');
  await expect(error).toContainText('This name is registered: enter its password.');
  await expect(page.getByTestId('join-password-input')).toBeFocused();
  // A wrong password, then the right one.
  await signIn(page, 'reggie', 'wrong horse');
  await expect(error).toHaveAttribute('data-code', 'AUTH_FAILED');
  await expect(error).toContainText('Wrong password');
  await signIn(page, 'reggie', 'correct horse');
  await expect(page.getByTestId('my-name')).toHaveText('reggie');
  // The account is deleted: the session ends, and the saved token no longer signs in after a reload.
  expect((await api(gateway, 'DELETE', '/api/accounts/reggie')).status).toBe(204);
  await expect(page.getByTestId('session-ended')).toHaveAttribute('data-code', 'SESSION_REVOKED');
  // Its tokens were revoked with it: the page forgets the saved one, and a reload starts signed out.
  expect(await page.evaluate(() => sessionStorage.getItem('switchboard.resume'))).toBeNull();
  await page.reload();
  await expect(page.getByTestId('join-name-input')).toBeVisible();
  await expect(error).toHaveCount(0);
  // The name is free again: a password for it now joins a guest, and the page says so.
  await signIn(page, 'reggie', 'correct horse');
  await expect(page.locator('[data-testid="notice-item"][data-scope="local"]')).toContainText('not a registered name');
  await page.getByTestId('sign-out').click();
  // Registered anew from the join screen.
  await page.getByTestId('join-name-input').fill('reggie');
  await page.getByTestId('join-password-input').fill('correct horse');
  await page.getByTestId('join-register').click();
  await expect(page.getByTestId('my-name')).toHaveText('reggie');
  // Registering a taken name says so.
  await page.getByTestId('sign-out').click();
  await page.getByTestId('join-name-input').fill('reggie');
  await page.getByTestId('join-password-input').fill('another horse');
  await page.getByTestId('join-register').click();
  await expect(error).toHaveAttribute('data-code', 'NAME_TAKEN');
  await expect(error).toContainText('registered already');
});

test('the join screen explains closed registration and a ban with its reason', async ({ page }) => {
  await withGateway({ identity: { registration: 'closed' } as never }, async (gateway) => {
    await api(gateway, 'POST', '/api/bans', { name: 'spammer', reason: 'posting adverts' });
    await page.goto(gateway.httpUrl + '/');
    await page.getByTestId('join-name-input').fill('newbie');
    await page.getByTestId('join-password-input').fill('long enough');
    await page.getByTestId('join-register').click();
    const error = page.getByTestId('join-error');
    await expect(error).toHaveAttribute('data-code', 'REGISTRATION_CLOSED');
    await expect(error).toContainText('takes no new accounts');

    await page.getByTestId('join-password-input').fill('');
    await page.getByTestId('join-name-input').fill('spammer');
    await page.getByTestId('join-submit').click();
    await expect(error).toHaveAttribute('data-code', 'BANNED');
    await expect(error).toContainText('You are banned');
    await expect(error).toContainText('posting adverts');
    // Still on the join screen, not reconnecting in a loop.
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-status', 'closed');
  });
});

test('an operator signed in on the page uses the admin panel without a token, bans, and sees it in the audit log', async ({ page }) => {
  await withGateway({ security: { adminToken: ADMIN_TOKEN } }, async (gateway) => {
    const created = await api(
      gateway,
      'POST',
      '/api/accounts',
      { name: 'chief', password: 'operator pass', role: 'admin' },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(created.status).toBe(201);
    const pest = await Peer.tcp(gateway.tcpPort);
    await pest.hello('pest');

    await page.goto(gateway.httpUrl + '/');
    await signIn(page, 'chief', 'operator pass');
    await expect(page.getByTestId('my-name')).toHaveText('chief');
    await page.getByTestId('admin-toggle').click();
    await page.getByTestId('admin-nav-accounts').click();
    await expect(page.getByTestId('admin-operator')).toBeVisible();
    await expect(page.locator('[data-testid="account-row"][data-name="chief"]')).toHaveAttribute('data-role', 'admin');
    await expect(page.getByTestId('admin-token-input')).toHaveCount(0);

    // A name ban: listed, the member it matches is disconnected, the audit log names the operator.
    await page.getByTestId('admin-nav-bans').click();
    await page.getByTestId('ban-add-toggle').click();
    await page.getByTestId('ban-add-kind').selectOption('name');
    await page.getByTestId('ban-add-value').fill('pest');
    await page.getByTestId('ban-add-reason').fill('spamming the lobby');
    await page.getByTestId('ban-add-submit').click();
    const row = page.locator('[data-testid="ban-row"][data-kind="name"][data-value="pest"]');
    await expect(row.getByTestId('ban-reason')).toHaveText('spamming the lobby');
    await expect(row.getByTestId('ban-expiry')).toContainText('no end');
    await expect(pest.next('error', (e) => e.code === 'BANNED')).resolves.toMatchObject({ message: expect.stringContaining('spamming the lobby') });
    await pest.waitClosed();
    await page.getByTestId('admin-nav-audit').click();
    const entry = page.locator('[data-testid="audit-row"][data-action="POST /api/bans"]');
    await expect(entry).toHaveAttribute('data-actor', 'account:chief');
    await expect(entry.getByTestId('audit-detail')).toContainText('spamming the lobby');
    await expect(page.getByTestId('audit-row').first()).toHaveAttribute('data-action', 'POST /api/bans');

    // An IP ban with an expiry, then lifted.
    await page.getByTestId('admin-nav-bans').click();
    await page.getByTestId('ban-add-toggle').click();
    await page.getByTestId('ban-add-kind').selectOption('ip');
    await page.getByTestId('ban-add-value').fill('10.66.0.1');
    await page.getByTestId('ban-add-reason').fill('until tomorrow');
    await page.getByTestId('ban-add-expires').fill('2099-01-02T03:04');
    await page.getByTestId('ban-add-submit').click();
    const ipRow = page.locator('[data-testid="ban-row"][data-kind="ip"][data-value="10.66.0.1"]');
    await expect(ipRow.getByTestId('ban-expiry')).toContainText('2099');
    const bans = await api<{ bans: { value: string; expiresAt: string | null }[] }>(gateway, 'GET', '/api/bans', undefined, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    expect(bans.body.bans.find((b) => b.value === '10.66.0.1')?.expiresAt).toBe(new Date(2099, 0, 2, 3, 4).toISOString());
    await ipRow.getByTestId('ban-lift').click();
    await expect(ipRow).toHaveCount(0);
    await page.getByTestId('admin-nav-audit').click();
    const lifted = page.locator('[data-testid="audit-row"][data-action="DELETE /api/bans/:id"]');
    await expect(lifted).toHaveAttribute('data-actor', 'account:chief');
    // The audit log says which ban, not its id.
    await expect(lifted.getByTestId('audit-target')).toHaveText('ip 10.66.0.1');
    // The operator's session opened the admin API: no 401 was shown at any point.
    await expect(page.getByTestId('admin-error')).toHaveCount(0);
  });
});
