import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { test as base, type Locator, type Page } from '@playwright/test';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { expect, test } from './fixtures.js';

// The device console (issue #11): the Devices view, a device's traffic log as text and hex,
// sending with escapes and hex, repeats, macros, auto-replies, export, and a log of 10,000
// entries. SWITCHBOARD_SCREENSHOTS=/tmp/dir saves the view in text and in hex at 1280×800.
const shots = process.env['SWITCHBOARD_SCREENSHOTS'];

test.use({ viewport: { width: 1280, height: 800 } });

interface FakeDevice {
  socket: net.Socket;
  received: () => Buffer;
  close: () => void;
}

/** A raw listener added over REST (port 0: the OS picks), and a TCP device connected to it. */
async function rawDevice(gateway: RunningGateway, body: Record<string, unknown> = {}): Promise<{ listener: string; port: number; device: FakeDevice }> {
  const added = await api<{ id: string; port: number }>(gateway, 'POST', '/api/listeners', { framing: 'raw', host: '127.0.0.1', port: 0, ...body });
  expect(added.status).toBe(201);
  const device = await connect(added.body.port);
  return { listener: added.body.id, port: added.body.port, device };
}

async function connect(port: number): Promise<FakeDevice> {
  const chunks: Buffer[] = [];
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  return { socket, received: () => Buffer.concat(chunks), close: () => socket.destroy() };
}

/** Opens the Devices view and the console of the one device of `framing`; resolves when its pipe is live. */
async function openConsole(page: Page, gateway: RunningGateway, framing: 'raw' | 'line' = 'raw'): Promise<Locator> {
  await page.goto(gateway.httpUrl + '/');
  await page.getByTestId('devices-toggle').click();
  await expect(page.getByTestId('devices-view')).toBeVisible();
  const item = page.locator(`[data-testid="device-item"][data-framing="${framing}"]`);
  await expect(item).toHaveCount(1);
  await item.click();
  const console = page.getByTestId('device-console');
  await expect(console).toHaveAttribute('data-pipe', 'open');
  return console;
}

const rows = (page: Page, direction?: 'in' | 'out'): Locator =>
  page.locator(direction ? `[data-testid="traffic-row"][data-direction="${direction}"]` : '[data-testid="traffic-row"]');

async function screenshot(page: Page, name: string): Promise<void> {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png` });
}

test('a raw device: its bytes as hex with offsets and as text, \\x02STATUS\\x03 sent byte-exact, a repeat of 5, and a CSV with both directions', async ({
  page,
  gateway,
}) => {
  const { device, listener } = await rawDevice(gateway);
  // Shared macros and a rule made elsewhere show in the console too.
  await api(gateway, 'POST', '/api/macros', { name: 'status', mode: 'text', data: '\\x02STATUS\\x03', append: 'none' });
  await api(gateway, 'POST', '/api/macros', { name: 'reset', mode: 'hex', data: '1b 40', append: 'crlf' });
  await api(gateway, 'POST', '/api/rules', { scope: 'all', match: { equals: 'PING' }, reply: 'PONG\\r\\n' });
  try {
    await openConsole(page, gateway);
    const item = page.locator('[data-testid="device-item"][data-framing="raw"]');
    await expect(item).toHaveAttribute('data-kind', 'listener');
    await expect(item).toContainText(`listener ${listener} · raw`);
    await expect(item.getByTestId('device-item-address')).toHaveText(/^127\.0\.0\.1:\d+$/);

    device.socket.write(Buffer.from([0x00, 0x01, 0x02, 0xff, 0x41, 0x42]));
    const incoming = rows(page, 'in').first();
    await expect(incoming).toHaveAttribute('data-hex', '00 01 02 ff 41 42');
    await expect(incoming).toHaveAttribute('data-length', '6');
    // Text: printable bytes as they are, the rest as escapes.
    await expect(incoming).toHaveAttribute('data-mode', 'text');
    await expect(incoming.getByTestId('traffic-row-text')).toHaveText('\\0\\x01\\x02\\xffAB');
    await expect(incoming.getByTestId('traffic-row-direction')).toHaveText('← in');
    // The counters come with the next poll (the gateway counts a device's traffic as the frames it stands for).
    await expect(item.getByTestId('device-item-counters')).toContainText('1 msg');

    // Send \x02STATUS\x03: the device gets exactly those 8 bytes.
    await page.getByTestId('send-input').fill('\\x02STATUS\\x03');
    await expect(page.getByTestId('send-preview')).toHaveAttribute('data-hex', '02 53 54 41 54 55 53 03');
    await page.getByTestId('send-button').click();
    await expect.poll(() => device.received().length).toBe(8);
    expect([...device.received()]).toEqual([0x02, 0x53, 0x54, 0x41, 0x54, 0x55, 0x53, 0x03]);
    const outgoing = rows(page, 'out').first();
    await expect(outgoing).toHaveAttribute('data-hex', '02 53 54 41 54 55 53 03');
    await expect(outgoing.getByTestId('traffic-row-text')).toHaveText('\\x02STATUS\\x03');
    device.socket.write('temp=21.5 C\r\n');
    await expect(rows(page, 'in')).toHaveCount(2);
    // A 40-byte record: three rows of a hex dump.
    device.socket.write(
      Buffer.concat([Buffer.from([0x02, 0x10, 0x00, 0x28]), Buffer.from('SN=00042;T=21.50;H=40.2;P=1013.2'), Buffer.from([0x1a, 0x2b, 0x3c, 0x03])]),
    );
    await expect(rows(page, 'in')).toHaveCount(3);
    // The gateway's auto-reply is not on the pipe: it comes from the gateway's log, marked.
    device.socket.write('PING');
    await expect.poll(() => device.received().subarray(8).toString()).toBe('PONG\r\n');
    await expect(rows(page).last()).toHaveAttribute('data-auto', 'true');
    await page.waitForTimeout(1200); // One poll of the gateway's log: nothing is shown twice.
    await expect(rows(page)).toHaveCount(6);
    await screenshot(page, 'console-text');

    // Hex: offsets and an ASCII column.
    await page.getByTestId('log-mode-hex').click();
    await expect(incoming).toHaveAttribute('data-mode', 'hex');
    await expect(incoming.getByTestId('traffic-row-offset')).toHaveText('0000');
    await expect(incoming.getByTestId('traffic-row-hexbytes')).toHaveText(/^00 01 02 ff 41 42\s*$/);
    await expect(incoming.getByTestId('traffic-row-ascii')).toHaveText('....AB');
    await expect(incoming).toHaveCSS('font-family', /mono/i);
    const record = rows(page, 'in').nth(2);
    await expect(record.getByTestId('traffic-row-offset')).toHaveText(['0000', '0010', '0020']);
    await expect(record.getByTestId('traffic-row-ascii').nth(2)).toHaveText('13.2.+<.');
    await screenshot(page, 'console-hex');
    // One entry back to text, the rest stay hex.
    await incoming.getByTestId('traffic-row-toggle').click();
    await expect(incoming).toHaveAttribute('data-mode', 'text');
    await expect(outgoing).toHaveAttribute('data-mode', 'hex');
    await page.getByTestId('log-mode-text').click();

    // Repeat 5 times every 100 ms: 5 arrive, the counter says so.
    await page.getByTestId('send-mode-hex').click();
    await expect(page.getByTestId('send-input')).toHaveValue('02 53 54 41 54 55 53 03'); // what was typed, as hex
    await page.getByTestId('send-input').fill('05');
    await page.getByTestId('repeat-toggle').check();
    await page.getByTestId('repeat-every').fill('100');
    await page.getByTestId('repeat-times').fill('5');
    await page.getByTestId('send-button').click();
    const status = page.getByTestId('repeat-status');
    await expect(status).toHaveAttribute('data-end', 'done');
    await expect(status).toHaveAttribute('data-sent', '5');
    await expect(status).toContainText('5 of 5 sent');
    await expect.poll(() => device.received().length).toBe(19);
    await page.waitForTimeout(300);
    expect([...device.received().subarray(14)]).toEqual([5, 5, 5, 5, 5]);
    // The log shows what the gateway wrote: five 05s, in one write each or, when two sends reached
    // the pipe in one read under load, together (the pipe is a byte stream, as TCP is).
    const fives = page.locator('[data-testid="traffic-row"][data-direction="out"]');
    await expect
      .poll(async () =>
        (
          await fives.evaluateAll((els) =>
            els.filter((el) => /^05( 05)*$/.test(el.getAttribute('data-hex') ?? '')).map((el) => Number(el.getAttribute('data-length'))),
          )
        ).reduce((a, b) => a + b, 0),
      )
      .toBe(5);

    // Export: the CSV has both directions with hex.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('log-export-csv').click()]);
    expect(download.suggestedFilename()).toMatch(/^switchboard-127\.0\.0\.1_\d+-.+\.csv$/);
    const csv = readFileSync(await download.path(), 'utf8').split('\r\n');
    expect(csv[0]).toBe('time,direction,length,hex,text,auto');
    expect(csv).toContainEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z,in,6,00 01 02 ff 41 42,\.\.\.\.AB,false$/));
    expect(csv).toContainEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z,out,8,02 53 54 41 54 55 53 03,\.STATUS\.,false$/));
    expect(csv).toContainEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z,out,6,50 4f 4e 47 0d 0a,PONG\.\.,true$/));
    const fivesInCsv = csv.map((line) => /,out,(\d+),05( 05)*,\.+,false$/.exec(line)).filter((m) => m !== null);
    expect(fivesInCsv.reduce((sum, m) => sum + Number(m[1]), 0)).toBe(5);

    const [jsonl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('log-export-jsonl').click()]);
    const objects = readFileSync(await jsonl.path(), 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { direction: string; hex: string });
    expect(objects).toHaveLength(6 + fivesInCsv.length); // the same entries as the CSV
    expect(objects[0]).toMatchObject({ direction: 'in', hex: '00 01 02 ff 41 42', text: '\\0\\x01\\x02\\xffAB' });
    const [text] = await Promise.all([page.waitForEvent('download'), page.getByTestId('log-export-text').click()]);
    expect(readFileSync(await text.path(), 'utf8')).toContain('->     8  02 53 54 41 54 55 53 03  |\\x02STATUS\\x03|');

    if (shots) {
      // Beside the admin panel: hex rows scroll sideways rather than being cut.
      await page.getByTestId('log-mode-hex').click();
      await page.getByTestId('send-mode-hex').click();
      await page.getByTestId('send-input').fill('0000   00 01 02 ff 41 42   ....AB');
      await expect(page.getByTestId('send-preview')).toHaveAttribute('data-hex', '00 01 02 ff 41 42');
      await page.getByTestId('admin-toggle').click();
      await screenshot(page, 'console-with-admin');
      await page.getByTestId('admin-toggle').click();
    }
  } finally {
    device.close();
  }
});

test('macros are shared and one click sends; an auto-reply answers in the gateway and shows in the log; filter and pause', async ({ page, gateway }) => {
  const { device } = await rawDevice(gateway);
  try {
    await openConsole(page, gateway);

    // Save what the box holds as a macro: it is the gateway's, for every console.
    await page.getByTestId('send-input').fill('\\x02STATUS\\x03');
    await page.getByTestId('send-append').selectOption('crlf');
    await page.getByTestId('macro-name').fill('status');
    await page.getByTestId('macro-save').click();
    const macro = page.locator('[data-testid="macro-item"][data-name="status"]');
    await expect(macro).toBeVisible();
    const stored = await api<{ macros: { name: string; mode: string; data: string; append: string }[] }>(gateway, 'GET', '/api/macros');
    expect(stored.body.macros).toEqual([expect.objectContaining({ name: 'status', mode: 'text', data: '\\x02STATUS\\x03', append: 'crlf' })]);
    await page.getByTestId('send-input').fill('');
    await macro.getByTestId('macro-send').click();
    await expect.poll(() => [...device.received()]).toEqual([0x02, 0x53, 0x54, 0x41, 0x54, 0x55, 0x53, 0x03, 0x0d, 0x0a]);

    // A macro saved elsewhere shows up with the next poll.
    await api(gateway, 'POST', '/api/macros', { name: 'ping', mode: 'hex', data: '50 49 4e 47', append: 'none' });
    await expect(page.locator('[data-testid="macro-item"][data-name="ping"]')).toBeVisible({ timeout: 5000 });

    // Auto-reply: PING is answered with PONG by the gateway; the log shows it, marked.
    await page.getByTestId('console-tab-rules').click();
    await page.getByTestId('rule-match').fill('PING');
    await page.getByTestId('rule-reply').fill('PONG\\r\\n');
    await page.getByTestId('rule-add').click();
    const rule = page.locator('[data-testid="rule-row"][data-applies="true"]');
    await expect(rule).toHaveCount(1);
    await expect(rule).toContainText('this device');
    // A bad regex is refused before anything is sent.
    await page.getByTestId('rule-match-kind').selectOption('regex');
    await page.getByTestId('rule-match').fill('(');
    await page.getByTestId('rule-reply').fill('x');
    await page.getByTestId('rule-add').click();
    await expect(page.getByTestId('rule-error')).toContainText('does not compile');
    await page.getByTestId('console-tab-traffic').click();

    const before = device.received().length;
    device.socket.write('PING');
    await expect.poll(() => device.received().subarray(before).toString()).toBe('PONG\r\n');
    const reply = page.locator('[data-testid="traffic-row"][data-auto="true"]');
    await expect(reply).toHaveAttribute('data-hex', '50 4f 4e 47 0d 0a');
    await expect(reply.getByTestId('traffic-row-direction')).toHaveText('→ auto');

    // Filter by text, then by hex.
    await page.getByTestId('log-filter-input').fill('pong');
    await expect(rows(page)).toHaveCount(1);
    await expect(page.getByTestId('log-count')).toHaveText(/1 of \d+ entries/);
    await page.getByTestId('log-filter-mode').selectOption('hex');
    await page.getByTestId('log-filter-input').fill('53 54 41');
    await expect(rows(page)).toHaveCount(1); // the macro's send
    await page.getByTestId('log-filter-input').fill('zz');
    await expect(page.getByTestId('log-filter-error')).toContainText('not a hex digit');
    await page.getByTestId('log-filter-input').fill('');
    const all = await rows(page).count();

    // Pause: what comes in waits; resume shows it.
    await page.getByTestId('log-pause').click();
    device.socket.write('while paused');
    await expect(page.getByTestId('log-paused-count')).toHaveText('1 new');
    await expect(rows(page)).toHaveCount(all);
    await page.getByTestId('log-pause').click();
    await expect(rows(page)).toHaveCount(all + 1);
    await expect(rows(page, 'in').last().getByTestId('traffic-row-text')).toHaveText('while paused');

    // Delete the rule and the macro from the console.
    await page.getByTestId('console-tab-rules').click();
    await screenshot(page, 'console-rules');
    await rule.getByTestId('rule-delete').click();
    await rule.getByTestId('rule-delete-confirm').click();
    await expect(page.getByTestId('rule-row')).toHaveCount(0);
    expect((await api<{ rules: unknown[] }>(gateway, 'GET', '/api/rules')).body.rules).toEqual([]);
    await page.getByTestId('console-tab-traffic').click();
    await macro.getByTestId('macro-delete').click();
    await macro.getByTestId('macro-delete-confirm').click();
    await expect(macro).toHaveCount(0);
  } finally {
    device.close();
  }
});

test('a repeat the page started stops when the view is left, and the page says so', async ({ page, gateway }) => {
  const { device } = await rawDevice(gateway);
  try {
    await openConsole(page, gateway);
    await page.getByTestId('send-input').fill('tick');
    await page.getByTestId('repeat-toggle').check();
    await page.getByTestId('repeat-every').fill('50');
    await page.getByTestId('repeat-times').fill('');
    await page.getByTestId('send-button').click();
    await expect(page.getByTestId('repeat-status')).toContainText('until stopped');
    await expect.poll(() => device.received().length).toBeGreaterThanOrEqual(4 * 3);

    await page.getByTestId('devices-toggle').click(); // back to the chat
    await expect(page.getByTestId('devices-view')).toHaveCount(0);
    const notice = page.getByTestId('console-notice');
    await expect(notice).toContainText(/Stopped repeating to 127\.0\.0\.1:\d+ \(\d+ sent\): you left the Devices view\./);
    const got = device.received().length;
    await page.waitForTimeout(300);
    expect(device.received().length).toBe(got);
    await notice.getByTestId('console-notice-dismiss').click();
    await expect(notice).toHaveCount(0);
  } finally {
    device.close();
  }
});

test('10,000 entries: the DOM holds a window of them, scrolling and switching to hex stay quick', async ({ page, gateway }) => {
  // Making and parsing the 10,000-entry log takes most of the default 30 s with the other core busy.
  test.setTimeout(60_000);
  const { device } = await rawDevice(gateway);
  try {
    const clients = await api<{ clients: { id: string; framing?: string }[] }>(gateway, 'GET', '/api/clients');
    const id = clients.body.clients.find((c) => c.framing === 'raw')!.id;
    // The gateway keeps 1,000 entries a device; this log is made here, as the gateway would send it.
    const start = Date.now() - 100_000;
    const entries = Array.from({ length: 10_000 }, (_, i) => {
      const text = `entry ${String(i).padStart(5, '0')}${i % 7 === 0 ? ' with a longer tail of readable text to wrap onto more lines' : ''}`;
      return {
        seq: i,
        ts: start + i * 10,
        time: new Date(start + i * 10).toISOString(),
        direction: i % 3 === 0 ? 'out' : 'in',
        length: text.length,
        hex: Buffer.from(text)
          .toString('hex')
          .replace(/(..)(?!$)/g, '$1 '),
        text,
        auto: false,
      };
    });
    const body = JSON.stringify({ entries, cap: 10_000, next: 10_000 });
    // Every read, the first and those that follow it (?after=), gets the same log: nothing is added twice.
    await page.route(`**/api/clients/${id}/traffic**`, (route) => route.fulfill({ contentType: 'application/json', body }));

    await openConsole(page, gateway);
    const log = page.getByTestId('traffic-log');
    await expect(log).toHaveAttribute('data-entries', '10000');
    await expect(page.getByTestId('log-count')).toHaveText('10000 entries');
    const inDom = await rows(page).count();
    expect(inDom).toBeGreaterThan(10);
    expect(inDom).toBeLessThan(150);
    // It follows the newest entries.
    await expect(page.locator('[data-testid="traffic-row"]').last()).toContainText('entry 09999');

    // Scroll to the top, and to the middle: the rows there are drawn.
    await log.evaluate((el) => (el.scrollTop = 0));
    await expect(page.locator('[data-testid="traffic-row"][data-seq="0"]')).toContainText('entry 00000');
    await log.evaluate((el) => (el.scrollTop = el.scrollHeight / 2));
    await expect(
      rows(page)
        .filter({ hasText: /entry 0[45]\d{3}/ })
        .first(),
    ).toBeVisible();
    expect(await rows(page).count()).toBeLessThan(150);

    await screenshot(page, 'console-10k');
    // Hex for everything: laid out again in well under a second.
    const took = await page.evaluate(async () => {
      const started = performance.now();
      (document.querySelector('[data-testid="log-mode-hex"]') as HTMLButtonElement).click();
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
      return performance.now() - started;
    });
    expect(took).toBeLessThan(1000);
    await expect(rows(page).first()).toHaveAttribute('data-mode', 'hex');
    expect(await rows(page).count()).toBeLessThan(150);

    // A filter over all 10,000.
    await page.getByTestId('log-filter-input').fill('entry 04321');
    await expect(rows(page)).toHaveCount(1);
    await expect(page.getByTestId('log-count')).toHaveText('1 of 10000 entries');
  } finally {
    device.close();
  }
});

test('a plain device (frames, no hello) is listed with the gateway’s log of its frames; its console sends text as a notice', async ({ page, gateway }) => {
  const device = await connect(gateway.tcpPort);
  try {
    // One frame: length 3, type 0 (text), "hi": a plain device's first words.
    device.socket.write(Buffer.from([0, 0, 0, 3, 0, 0x68, 0x69]));
    await page.goto(gateway.httpUrl + '/');
    await page.getByTestId('devices-toggle').click();
    const item = page.locator('[data-testid="device-item"][data-kind="plain"]');
    await expect(item).toContainText('plain device');
    await item.click();
    const console = page.getByTestId('device-console');
    await expect(console).toHaveAttribute('data-pipe', 'none');
    await expect(page.getByTestId('console-note')).toContainText('no raw pipe');
    await expect(page.getByTestId('send-mode-hex')).toBeDisabled();
    // What it sent before the console opened, from the gateway's log: the whole frame.
    await expect(rows(page, 'in')).toHaveCount(1);
    await expect(rows(page, 'in').first()).toHaveAttribute('data-hex', '00 00 00 03 00 68 69');
    const before = device.received().length;
    await page.getByTestId('send-input').fill('reboot please');
    // The preview is exactly what the device's socket gets: one type-0 frame with the text alone.
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 14, 0]), Buffer.from('reboot please')]);
    await expect(page.getByTestId('send-preview')).toHaveAttribute('data-hex', frame.toString('hex').replace(/(..)(?!$)/g, '$1 '));
    await page.getByTestId('send-button').click();
    await expect.poll(() => device.received().subarray(before).toString('hex')).toBe(frame.toString('hex'));
    // Listed once, as the frame the device got (the gateway's log), not as what was typed.
    await expect(rows(page, 'out')).toHaveCount(1);
    const got = device.received().subarray(before);
    await expect(rows(page, 'out').first()).toHaveAttribute('data-hex', got.toString('hex').replace(/(..)(?!$)/g, '$1 '));
    // Later frames arrive with the next poll of the log.
    device.socket.write(Buffer.from([0, 0, 0, 3, 0, 0x6f, 0x6b]));
    await expect(rows(page, 'in')).toHaveCount(2);
    await expect(rows(page, 'in').last()).toHaveAttribute('data-hex', '00 00 00 03 00 6f 6b');
  } finally {
    device.close();
  }
});

test('an outbound device link: its console follows it by link id, across a drop and the redial', async ({ page, gateway }) => {
  // A robot controller that is a TCP server.
  const accepted: net.Socket[] = [];
  const received: Buffer[] = [];
  const robot = net.createServer((socket) => {
    accepted.push(socket);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => robot.listen(0, '127.0.0.1', resolve));
  const port = (robot.address() as net.AddressInfo).port;
  try {
    const added = await api<{ id: string }>(gateway, 'POST', '/api/devices', { name: 'robot1', host: '127.0.0.1', port, framing: 'line', delimiter: '#' });
    expect(added.status).toBe(201);
    await expect.poll(() => accepted.length).toBe(1);
    const console = await openConsole(page, gateway, 'line');
    await expect(console).toHaveAttribute('data-id', added.body.id);
    const item = page.locator(`[data-testid="device-item"][data-id="${added.body.id}"]`);
    await expect(item).toHaveAttribute('data-kind', 'link');
    await expect(item).toHaveAttribute('data-state', 'connected');

    accepted[0]!.write('READY#');
    await expect(rows(page, 'in').first()).toHaveAttribute('data-hex', '52 45 41 44 59 23');
    await page.getByTestId('send-input').fill('MoveJ p10');
    await page.getByTestId('send-append').selectOption('listener');
    await page.getByTestId('send-button').click();
    await expect.poll(() => Buffer.concat(received).toString()).toBe('MoveJ p10#');

    // The robot hangs up: the pipe closes; the link redials and the console is live again.
    accepted[0]!.destroy();
    await expect(console).not.toHaveAttribute('data-pipe', 'open');
    await expect.poll(() => accepted.length, { timeout: 15_000 }).toBe(2);
    await expect(console).toHaveAttribute('data-pipe', 'open', { timeout: 15_000 });
    accepted[1]!.write('AGAIN#');
    await expect(rows(page, 'in')).toHaveCount(2);
    await expect(rows(page, 'in').last()).toHaveAttribute('data-hex', '41 47 41 49 4e 23');
  } finally {
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => robot.close(() => resolve()));
  }
});

/** The log's rows as the page shows them, top to bottom: their gateway number, direction, bytes and whether an auto-reply wrote them. */
async function shownRows(page: Page): Promise<string[]> {
  return page
    .locator('[data-testid="traffic-row"], [data-testid="traffic-event"]')
    .evaluateAll((els) =>
      els.map((el) => `${el.getAttribute('data-seq')} ${el.getAttribute('data-direction')} ${el.getAttribute('data-hex')} ${el.getAttribute('data-auto')}`),
    );
}

test('the live console and a reload show the same rows in the same order while an auto-reply fires', async ({ page, gateway }) => {
  const { device } = await rawDevice(gateway);
  await api(gateway, 'POST', '/api/rules', { scope: 'all', match: { equals: 'PING' }, reply: 'PONG' });
  try {
    await openConsole(page, gateway);
    // The connection's own log: its connect event first.
    await expect(page.getByTestId('traffic-event').first()).toContainText('connected from 127.0.0.1:');
    for (let i = 0; i < 4; i++) {
      device.socket.write('PING');
      await expect.poll(() => device.received().toString().split('PONG').length - 1).toBe(i + 1);
      device.socket.write(`reading ${i}`);
      await expect(rows(page, 'in')).toHaveCount(2 * (i + 1));
      // The page sends too, through the pipe, while the rule answers in the gateway.
      await page.getByTestId('send-input').fill(`ack ${i}`);
      await page.getByTestId('send-button').click();
      // Its bytes reach the device before the next PING: else they may rightly land between a PING and its reply.
      await expect(rows(page, 'out')).toHaveCount(2 * (i + 1));
    }
    await expect(rows(page, 'out')).toHaveCount(8);
    const live = await shownRows(page);
    // Numbered by the gateway, each once, in its order; every auto-reply right below its PING.
    expect(live.map((r) => Number(r.split(' ')[0]))).toEqual(live.map((_r, i) => i));
    live.forEach((row, i) => {
      if (row.endsWith(' true')) expect(live[i - 1]).toMatch(/ in 50 49 4e 47 false$/);
    });
    expect(live.filter((r) => r.endsWith(' true'))).toHaveLength(4);

    await page.reload();
    // The address (/devices/<id>) keeps the Devices view and this device's console over the reload.
    await expect(page.getByTestId('devices-view')).toBeVisible();
    await expect(page.getByTestId('device-console')).toBeVisible();
    await expect(rows(page)).toHaveCount(16);
    expect(await shownRows(page)).toEqual(live);
  } finally {
    device.close();
  }
});

test('a link in backoff shows when it dials next, and "dial now" dials now', async ({ page, gateway }) => {
  // A port where nothing listens yet: the link fails, and its waits double (up to 10 s here).
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  const added = await api<{ id: string }>(gateway, 'POST', '/api/devices', { name: 'late-robot', host: '127.0.0.1', port, framing: 'line', delimiter: '#' });
  expect(added.status).toBe(201);
  await expect
    .poll(async () => (await api<{ devices: { attempts: number; state: string }[] }>(gateway, 'GET', '/api/devices')).body.devices[0]!, { timeout: 15_000 })
    .toMatchObject({ state: 'backoff', attempts: 4 });
  const robot = net.createServer((socket) => socket.on('error', () => {}));
  try {
    await page.goto(gateway.httpUrl + '/');
    await page.getByTestId('devices-toggle').click();
    const item = page.locator(`[data-testid="device-item"][data-id="${added.body.id}"]`);
    await item.click();
    const countdown = page.getByTestId('link-next-dial');
    await expect(countdown).toHaveText(/^Dials again in \d+ s$/);
    const first = Number(/(\d+)/.exec((await countdown.textContent()) ?? '')![1]);
    await expect(countdown).toHaveText(new RegExp(`^Dials again in (?!${first} s)\\d+ s$`)); // it counts down
    // The log has the link's dials and backoffs.
    await expect(
      page
        .getByTestId('traffic-event')
        .filter({ hasText: `dialing 127.0.0.1:${port}` })
        .first(),
    ).toBeVisible();
    await expect(page.getByTestId('traffic-event').filter({ hasText: 'ECONNREFUSED' }).first()).toBeVisible();
    await new Promise<void>((resolve) => robot.listen(port, '127.0.0.1', resolve));
    const clickedAt = Date.now();
    await page.getByTestId('link-dial-now').click();
    await expect(item).toHaveAttribute('data-state', 'connected', { timeout: 3000 });
    expect(Date.now() - clickedAt).toBeLessThan(3000);
    await expect(page.getByTestId('device-console')).toHaveAttribute('data-pipe', 'open');
    await expect(page.getByTestId('link-backoff')).toHaveCount(0);
    await expect(page.getByTestId('traffic-event').filter({ hasText: `connected to 127.0.0.1:${port}` })).toHaveCount(1);
  } finally {
    await api(gateway, 'DELETE', `/api/devices/${added.body.id}`);
    await new Promise<void>((resolve) => robot.close(() => resolve()));
  }
});

const tokenTest = base.extend<{ gateway: RunningGateway }>({
  gateway: async ({}, use) => {
    const gateway = await startGateway({
      webRoot: fileURLToPath(new URL('../../apps/web/dist', import.meta.url)),
      security: { adminToken: 'open-sesame' },
    });
    await use(gateway);
    await gateway.close();
  },
});

tokenTest.use({ viewport: { width: 1280, height: 800 } });

tokenTest('with an admin token, the Devices view asks for it, and the pipe carries it', async ({ page, gateway }) => {
  const auth = { authorization: 'Bearer open-sesame' };
  const added = await api<{ port: number }>(gateway, 'POST', '/api/listeners', { framing: 'line', host: '127.0.0.1', port: 0, delimiter: '#' }, auth);
  expect(added.status).toBe(201);
  const device = await connect(added.body.port);
  try {
    await page.goto(gateway.httpUrl + '/');
    await page.getByTestId('devices-toggle').click();
    await expect(page.getByTestId('admin-token-input')).toBeVisible();
    await page.getByTestId('admin-token-input').fill('open-sesame');
    await page.getByTestId('admin-token-save').click();
    const item = page.locator('[data-testid="device-item"][data-framing="line"]');
    await expect(item).toContainText('#');
    await item.click();
    await expect(page.getByTestId('device-console')).toHaveAttribute('data-pipe', 'open');
    device.socket.write('READY#');
    await expect(rows(page, 'in').first()).toHaveAttribute('data-hex', '52 45 41 44 59 23');
    // "the listener's delimiter" appends '#'.
    await page.getByTestId('send-input').fill('MoveJ p10');
    await page.getByTestId('send-append').selectOption('listener');
    await page.getByTestId('send-button').click();
    await expect.poll(() => device.received().toString()).toBe('MoveJ p10#');
  } finally {
    device.close();
  }
});
