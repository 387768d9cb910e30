import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage } from '@switchboard/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { spawnGateway } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';
import { RawSocket } from '../helpers/raw-socket.js';

// Issue 23: nothing reaches a machine that it did not ask for. A device is a machine: each test
// says exactly which bytes reached the device's socket, and nothing else. "Nothing else" is
// checked with a last line said after everything else (END): the device's socket holds, up to
// and including it, exactly what the test expects.

const devices = { listen: [], targets: '127.0.0.1', backoffMaxMs: 400 };
let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({ devices });
  // A room devices are put in is open to operators only unless it was set (security-rooms.test.ts
  // tests that); these tests are about what devices hear, with guests in the room, so their rooms
  // are opened on purpose before any device is added.
  for (const room of ['cell', 'loop', 'shop', 'quiet', 'plc', 'burst', 'piped']) {
    expect((await api(gateway, 'PUT', `/api/rooms/${room}`, { access: 'anyone' })).status).toBe(200);
  }
});
afterAll(async () => {
  await gateway.close();
});

async function addListener(body: object): Promise<{ id: string; port: number }> {
  const response = await api(gateway, 'POST', '/api/listeners', { port: 0, ...body });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

/** A device that is a TCP server and says back every line it gets (an echo-style robot), keeping all it received. */
async function echoServer(): Promise<{ port: number; received: () => string; close(): Promise<void> }> {
  let received = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      pending += chunk.toString('latin1');
      let at: number;
      while ((at = pending.indexOf('\n')) >= 0) {
        socket.write(pending.slice(0, at + 1));
        pending = pending.slice(at + 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => received,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function addLink(name: string, port: number, extra: object = {}): Promise<string> {
  const created = await api(gateway, 'POST', '/api/devices', { name, host: '127.0.0.1', port, framing: 'line', room: 'cell', ...extra });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id;
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const count = (text: string, line: string) => text.split('\n').filter((l) => l === line).length;

describe('who a device hears', () => {
  it('two echo-style device links in one room: one ping in, exactly one ping and no echo of the other out, per device', async () => {
    const a = await echoServer();
    const b = await echoServer();
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('operator1', { room: 'cell' });
    const ids = [await addLink('echo-a', a.port), await addLink('echo-b', b.port)];
    await browser.next('presence', (p) => p.event === 'join' && p.member.name === 'echo-a');
    await browser.next('presence', (p) => p.event === 'join' && p.member.name === 'echo-b');

    browser.send({ type: 'message', text: 'ping' });
    await browser.next('message', (m) => m.from === 'echo-a' && m.text === 'ping');
    await browser.next('message', (m) => m.from === 'echo-b' && m.text === 'ping');
    browser.send({ type: 'message', text: 'END' });
    await browser.next('message', (m) => m.from === 'echo-a' && m.text === 'END');
    await browser.next('message', (m) => m.from === 'echo-b' && m.text === 'END');
    // Each device got the person's words, and not the other device's answer (no storm).
    expect(a.received()).toBe('ping\nEND\n');
    expect(b.received()).toBe('ping\nEND\n');
    const echoes = browser.received.filter((m) => m.type === 'message' && m.from.startsWith('echo-') && m.text === 'ping');
    expect(echoes).toHaveLength(2);

    for (const id of ids) await api(gateway, 'DELETE', `/api/devices/${id}`);
    await a.close();
    await b.close();
    browser.destroy();
  });

  it('with hears "everyone" two echo devices hear each other, and the loop ends after one round', async () => {
    const a = await echoServer();
    const b = await echoServer();
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('operator2', { room: 'loop' });
    const ids = [await addLink('loop-a', a.port, { room: 'loop', hears: 'everyone' }), await addLink('loop-b', b.port, { room: 'loop', hears: 'everyone' })];
    await browser.next('presence', (p) => p.event === 'join' && p.member.name === 'loop-a');
    await browser.next('presence', (p) => p.event === 'join' && p.member.name === 'loop-b');

    browser.send({ type: 'message', text: 'ping' });
    await until(() => count(a.received(), 'ping') >= 1 && count(b.received(), 'ping') >= 1, 'both pings');
    // The loop has had time to run away (it did: 204 echoes in under a second).
    await sleep(1000);
    browser.send({ type: 'message', text: 'END' });
    await until(() => count(a.received(), 'END') >= 1 && count(b.received(), 'END') >= 1, 'both ENDs');
    await sleep(500);
    for (const server of [a, b]) {
      const lines = server
        .received()
        .split('\n')
        .filter((l) => l !== '');
      // The person's ping, at most one echo of it from the other device; the same for END.
      expect(
        lines.every((l) => l === 'ping' || l === 'END'),
        lines.join(','),
      ).toBe(true);
      expect(count(server.received(), 'ping')).toBeLessThanOrEqual(2);
      expect(count(server.received(), 'END')).toBeLessThanOrEqual(2);
    }
    const fromDevices = browser.received.filter((m) => m.type === 'message' && m.from.startsWith('loop-'));
    expect(fromDevices.length).toBeLessThanOrEqual(8);

    for (const id of ids) await api(gateway, 'DELETE', `/api/devices/${id}`);
    await a.close();
    await b.close();
    browser.destroy();
  });

  it("a raw device's binary messages do not reach a line PLC in the same room; a browser gets them", async () => {
    const raw = await addListener({ framing: 'raw', room: 'shop' });
    const line = await addListener({ framing: 'line', room: 'shop' });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('shop-operator', { room: 'shop' });
    const plc = await RawSocket.connect(line.port);
    const sensor = await RawSocket.connect(raw.port);
    await browser.next('presence', (p) => p.event === 'join' && p.member.name === `127.0.0.1:${sensor.socket.localPort}`);
    sensor.write(Buffer.of(0x01, 0xff, 0x00, 0x7e));
    await browser.next('message', (m) => m.data === Buffer.of(0x01, 0xff, 0x00, 0x7e).toString('base64'));
    browser.send({ type: 'message', text: 'END' });
    expect((await plc.until('END\n')).toString('latin1')).toBe('END\n');
    expect((await sensor.until('END')).toString('latin1')).toBe('END');
    plc.destroy();
    sensor.destroy();
    browser.destroy();
  });

  it('with hears "addressed" a device gets private words only, never the room', async () => {
    const listener = await addListener({ framing: 'line', room: 'quiet', hears: 'addressed' });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('quiet-operator', { room: 'quiet' });
    const device = await RawSocket.connect(listener.port);
    const name = `127.0.0.1:${device.socket.localPort}`;
    await browser.next('presence', (p) => p.event === 'join' && p.member.name === name);
    browser.send({ type: 'message', text: 'to the room' });
    browser.send({ type: 'private', to: name, text: 'to you' });
    expect((await device.until('\n')).toString()).toBe('to you\n');
    device.destroy();
    browser.destroy();
  });
});

describe('no gateway chatter in device streams', () => {
  it('a line device gets no presence, notices or error lines unless its listener asks for them', async () => {
    const quiet = await addListener({ framing: 'line', room: 'plc', maxLineBytes: 8 });
    const chatty = await addListener({ framing: 'line', room: 'plc', notices: true });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('plc-operator', { room: 'plc' });
    const device = await RawSocket.connect(quiet.port);
    await browser.next('presence', (p) => p.event === 'join' && p.member.name === `127.0.0.1:${device.socket.localPort}`);
    const watcher = await RawSocket.connect(chatty.port);
    await browser.next('presence', (p) => p.event === 'join' && p.member.name === `127.0.0.1:${watcher.socket.localPort}`);
    const other = await Peer.ws(gateway.wsUrl);
    await other.hello('passer-by', { room: 'plc' });
    other.destroy();
    await browser.next('presence', (p) => p.event === 'leave' && p.member.name === 'passer-by');
    expect((await api(gateway, 'POST', '/api/broadcast', { text: 'maintenance at noon', room: 'plc' })).status).toBe(200);
    device.write('0123456789ABCDEF\n'); // over maxLineBytes: cut, and (asked for) an ERROR line
    await browser.next('message', (m) => m.text === '01234567');
    browser.send({ type: 'message', text: 'END' });
    expect((await device.until('END\n')).toString()).toBe('END\n');
    // The listener that asked for notices gets them, in its own framing.
    const heard = (await watcher.until('END\n')).toString();
    expect(heard).toBe(['[plc] * passer-by joined', '[plc] * passer-by left (quit)', '* server: maintenance at noon', 'END', ''].join('\n'));
    device.destroy();
    watcher.destroy();
    browser.destroy();
  });

  it('a plain framed device (no hello) gets room text only: no presence, no server lines', async () => {
    const device = await RawSocket.connect(gateway.tcpPort);
    const name = `127.0.0.1:${device.socket.localPort}`;
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('erin');
    await browser.next('presence', (p) => p.event === 'join' && p.member.name === name, 5000); // it became a plain device
    const other = await Peer.ws(gateway.wsUrl);
    await other.hello('passer');
    other.destroy();
    await browser.next('presence', (p) => p.event === 'leave' && p.member.name === 'passer');
    await api(gateway, 'POST', '/api/broadcast', { text: 'to everyone' });
    await api(gateway, 'POST', '/api/broadcast', { text: 'to lobby', room: 'lobby' });
    const clients = (await api(gateway, 'GET', '/api/clients')).body.clients as { id: string; name: string }[];
    const id = clients.find((c) => c.name === name)!.id;
    // What the console sends a plain device: the text alone, as a type-0 line.
    expect((await api(gateway, 'POST', `/api/clients/${id}/messages`, { text: 'direct' })).status).toBe(200);
    browser.send({ type: 'message', text: 'END' });
    const expected = Buffer.concat([encodeMessage({ type: 'text', text: 'direct' }), encodeMessage({ type: 'text', text: 'erin: END' })]);
    expect((await device.until(encodeMessage({ type: 'text', text: 'erin: END' }))).toString('hex')).toBe(expected.toString('hex'));
    device.destroy();
    browser.destroy();
  });
});

describe('devices are throttled, not cut', () => {
  it('a line device that sends 3,000 lines at once: all 3,000 in history, still connected, no ERROR bytes', async () => {
    const listener = await addListener({ framing: 'line', room: 'burst' });
    const device = await RawSocket.connect(listener.port);
    const lines = Array.from({ length: 3000 }, (_, i) => `reading ${i}`);
    device.write(lines.map((l) => `${l}\n`).join(''));
    const deadline = Date.now() + 25_000;
    let got: string[] = [];
    for (;;) {
      const page = await api(gateway, 'GET', '/api/history?room=burst&limit=500');
      const newest = page.body.entries.at(-1)?.text;
      if (newest === 'reading 2999') break;
      if (Date.now() > deadline) throw new Error(`history stopped at ${newest}`);
      await sleep(200);
    }
    // Every line, in order: read the room's history back in pages.
    let before: number | undefined;
    for (;;) {
      const page = await api(gateway, 'GET', `/api/history?room=burst&limit=500${before === undefined ? '' : `&before=${before}`}`);
      const entries = page.body.entries as { id: number; text: string }[];
      got = [...entries.map((e) => e.text), ...got];
      if (!page.body.more || entries.length === 0) break;
      before = entries[0]!.id;
    }
    expect(got).toEqual(lines);
    expect(device.closed).toBe(false);
    expect(device.received.toString()).toBe('');
    const clients = (await api(gateway, 'GET', '/api/clients')).body.clients as { name: string }[];
    expect(clients.some((c) => c.name === `127.0.0.1:${device.socket.localPort}`)).toBe(true);
    device.destroy();
  });
});

describe('the raw pipe', () => {
  it('1,000 pipe connections in a row leave the device socket with the listeners it had, and no warning', async () => {
    const listener = await addListener({ framing: 'raw', room: 'piped' });
    const device = await RawSocket.connect(listener.port);
    const name = `127.0.0.1:${device.socket.localPort}`;
    let id: string | undefined;
    for (let i = 0; i < 50 && id === undefined; i++) {
      id = ((await api(gateway, 'GET', '/api/clients')).body.clients as { id: string; name: string }[]).find((c) => c.name === name)?.id;
      if (id === undefined) await sleep(20);
    }
    const link = gateway.app.deviceLinks.findLink(id!)!;
    const socket = (link as unknown as { socket: net.Socket }).socket;
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const before = socket.listenerCount('close');
    const url = `${gateway.wsUrl}/devices/${id}`;
    for (let i = 0; i < 1000; i++) {
      const pipe = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        pipe.once('open', () => resolve());
        pipe.once('error', reject);
      });
      const closed = new Promise<void>((resolve) => pipe.once('close', () => resolve()));
      pipe.close();
      await closed;
    }
    // The gateway's side of the last pipe closes after ours: give it a moment.
    await until(() => socket.listenerCount('close') === before, `close listeners back to ${before} (now ${socket.listenerCount('close')})`, 5000);
    process.off('warning', onWarning);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
    device.destroy();
  }, 120_000);
});

describe('rules bound to what lasts', () => {
  /** A device that is a TCP server, keeping what it received; it may be stopped and started again on the same port. */
  async function deviceServer(
    port = 0,
  ): Promise<{ port: number; received: () => string; say(text: string): void; connected: () => boolean; close(): Promise<void> }> {
    let received = '';
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('data', (chunk) => (received += chunk.toString('latin1')));
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return {
      port: (server.address() as net.AddressInfo).port,
      received: () => received,
      say: (text) => sockets.forEach((s) => s.write(text)),
      connected: () => sockets.size > 0,
      close: () => {
        for (const socket of sockets) socket.destroy();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    };
  }

  it('a rule made for a PLC answers only the PLC after a restart with the devices reconnecting in reverse order; one stored with a member id is refused', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-rules-'));
    let plc = await deviceServer();
    const robot = await deviceServer();
    const first = await startGateway({ devices }, { keepDataDir: dataDir });
    const linkState = async (gw: RunningGateway, id: string) =>
      ((await api(gw, 'GET', '/api/devices')).body.devices as { id: string; state: string; memberId: string | null }[]).find((d) => d.id === id)!;
    const connected = async (gw: RunningGateway, id: string) => {
      for (let i = 0; i < 400; i++) {
        const state = await linkState(gw, id);
        if (state.state === 'connected') return state.memberId!;
        await sleep(25);
      }
      throw new Error(`link ${id} did not connect`);
    };
    try {
      const add = async (name: string, port: number) =>
        (await api(first, 'POST', '/api/devices', { name, host: '127.0.0.1', port, framing: 'line', room: 'cell' })).body.id as string;
      const plcLink = await add('plc', plc.port);
      const plcMember = await connected(first, plcLink);
      const robotLink = await add('robot1', robot.port);
      await connected(first, robotLink);
      // The console makes a rule for the device it shows: the gateway stores it against the link.
      const rule = await api(first, 'POST', '/api/rules', { scope: { client: plcMember }, match: { equals: 'STATUS' }, reply: 'ACK' });
      expect(rule.status, JSON.stringify(rule.body)).toBe(201);
      expect(rule.body.scope).toEqual({ link: plcLink });
      plc.say('STATUS\n');
      await until(() => plc.received() === 'ACK\n', 'the first ACK');
    } finally {
      await first.close();
    }
    // Rules stored by an earlier version against client ids: a link's id is kept, a member's refused.
    const file = join(dataDir, 'rules.json');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as object[];
    stored.push({ id: 'r7', scope: { client: 'm1' }, match: { equals: 'STATUS' }, reply: 'WRONG', delayMs: 0, enabled: true });
    writeFileSync(file, JSON.stringify(stored));

    // The PLC is down at the restart: the robot connects first and gets the first member id.
    await plc.close();
    const logLines: string[] = [];
    const second = await startGateway({ devices, logLevel: 'warn' }, { keepDataDir: dataDir, logLines });
    try {
      const robotMember = await connected(second, 'd2');
      expect(robotMember).toBe('m1');
      plc = await deviceServer(plc.port);
      await connected(second, 'd1');
      await until(() => plc.connected() && robot.connected(), 'both devices connected');
      robot.say('STATUS\n');
      plc.say('STATUS\n');
      await until(() => plc.received() === 'ACK\n', 'the PLC to be answered');
      // The robot said the same: no rule is its; the operator's word to it is all it gets.
      expect((await api(second, 'POST', `/api/clients/${robotMember}/messages`, { text: 'END' })).status).toBe(200);
      await until(() => robot.received().endsWith('END\n'), 'END at the robot');
      expect(robot.received()).toBe('END\n');
      expect(plc.received()).toBe('ACK\n');
      expect((await api(second, 'GET', '/api/rules')).body.rules).toEqual([expect.objectContaining({ id: 'r1', scope: { link: 'd1' } })]);
      expect(logLines.some((l) => l.includes('auto-reply rule r7 is not run') && l.includes('client m1'))).toBe(true);
      // The refused rule stays in the file for an operator to fix; new rules never take its id.
      expect(JSON.parse(readFileSync(file, 'utf8'))).toContainEqual(expect.objectContaining({ id: 'r7', scope: { client: 'm1' } }));
      expect((await api(second, 'POST', '/api/rules', { scope: 'all', match: { equals: 'x' }, reply: 'y' })).body.id).toBe('r8');
    } finally {
      await second.close();
      await plc.close();
      await robot.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a SIGTERM', () => {
  it('closes a line device and a device link with no gateway words on their sockets', async () => {
    const robot = await new Promise<{ server: net.Server; port: number; socket: Promise<RawSocket> }>((resolve) => {
      let accepted!: (socket: RawSocket) => void;
      const socket = new Promise<RawSocket>((r) => (accepted = r));
      const server = net.createServer((s) => accepted(RawSocket.of(s)));
      server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, socket }));
    });
    const child = await spawnGateway(['--listen', 'line://127.0.0.1:0?room=plc&id=plc', '--drain-ms', '0']);
    try {
      const listeners = (await api(child, 'GET', '/api/listeners')).body.listeners as { id: string; port: number }[];
      const device = await RawSocket.connect(listeners.find((l) => l.id === 'plc')!.port);
      const name = `127.0.0.1:${device.socket.localPort}`;
      const added = await api(child, 'POST', '/api/devices', {
        name: 'robot1',
        host: '127.0.0.1',
        port: robot.port,
        framing: 'line',
        delimiter: '#',
        room: 'plc',
      });
      expect(added.status, JSON.stringify(added.body)).toBe(201);
      const robotSocket = await robot.socket;
      for (let i = 0; i < 200; i++) {
        const clients = (await api(child, 'GET', '/api/clients')).body.clients as { name: string }[];
        if (clients.some((c) => c.name === name) && clients.some((c) => c.name === 'robot1')) break;
        await sleep(25);
      }
      expect(await child.stop('SIGTERM')).toBe(0);
      for (const socket of [device, robotSocket]) {
        await until(() => socket.closed, 'the gateway to close the device');
        // Not "* server: The gateway is shutting down…" taken as a command: nothing at all.
        expect(socket.received.toString('latin1')).toBe('');
      }
    } finally {
      await child.stop('SIGKILL');
      robot.server.close();
    }
  });
});
