import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer, sleep } from '../helpers/peer.js';
import { RawSocket } from '../helpers/raw-socket.js';

// Issue 10 against a running gateway: devices as they are (line and raw listeners, outbound
// links to devices that are servers, a raw WebSocket pipe), over real sockets.

const devices = { listen: [], targets: '127.0.0.1', backoffMaxMs: 400 };
let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({ devices, limits: { ratePerSecond: 1000, rateBurst: 1000 } });
});
afterAll(async () => {
  await gateway.close();
});

/**
 * A room with devices in it is open to operators only until an operator says otherwise
 * (security-rooms.test.ts tests that); these tests are about framing, with guests in the room.
 */
async function openRoom(room: string): Promise<void> {
  expect((await api(gateway, 'PUT', `/api/rooms/${room}`, { access: 'anyone' })).status).toBe(200);
}

async function addListener(body: object): Promise<{ id: string; port: number }> {
  const response = await api(gateway, 'POST', '/api/listeners', { port: 0, ...body });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  expect(response.body.listening).toBe(true);
  await openRoom(response.body.room);
  return response.body;
}

const bytesOf = (base64: string | undefined) => [...Buffer.from(base64 ?? '', 'base64')];

describe('a line listener', () => {
  it('lets a netcat-style client with CR LF chat with a browser both ways', async () => {
    const listener = await addListener({ framing: 'line', delimiter: '\\r\\n', senderPrefix: true, room: 'plc' });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('web', { room: 'plc' });
    const nc = await RawSocket.connect(listener.port);
    await browser.next('presence', (p) => p.event === 'join' && p.member.name.startsWith('127.0.0.1:'));
    nc.write('hello from nc\r\nsecond line\r\n');
    await expect(browser.next('message', (m) => m.text === 'hello from nc')).resolves.toMatchObject({ room: 'plc', transport: 'tcp' });
    await browser.next('message', (m) => m.text === 'second line');
    browser.send({ type: 'message', text: 'hi nc' });
    expect((await nc.until('\r\n')).toString()).toBe('[plc] web: hi nc\r\n');

    const clients = await api(gateway, 'GET', '/api/clients');
    expect(clients.body.clients).toContainEqual(expect.objectContaining({ framing: 'line', listener: listener.id, rooms: ['plc'] }));
    nc.destroy();
    browser.destroy();
  });

  it('cuts a line longer than maxLineBytes, tells the device (it asked for notices), and goes on', async () => {
    const listener = await addListener({ framing: 'line', maxLineBytes: 8, notices: true });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('cutter-web', { room: 'devices' });
    const device = await RawSocket.connect(listener.port);
    await sleep(50);
    device.write('0123456789ABCDEF\nok\n');
    await browser.next('message', (m) => m.text === '01234567');
    await browser.next('message', (m) => m.text === 'ok');
    expect((await device.until('\n')).toString()).toMatch(/^ERROR LINE_TOO_LONG: /);
    device.destroy();
    browser.destroy();
  });
});

describe('who is a device', () => {
  it('marks a line listener device `device: true` in presence and roster; a member that said hello is neither device nor legacy', async () => {
    const listener = await addListener({ framing: 'line', room: 'bench' });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('watcher', { room: 'bench' });
    const tcp = await Peer.tcp(gateway.tcpPort);
    await tcp.hello('helper', { room: 'bench' });
    const nc = await RawSocket.connect(listener.port);
    const joined = await browser.next('presence', (p) => p.event === 'join' && p.member.name.startsWith('127.0.0.1:'));
    expect(joined.member.device).toBe(true);
    expect(joined.member.legacy).toBeUndefined();
    browser.send({ type: 'roster', room: 'bench' });
    const roster = await browser.next('roster', (r) => r.room === 'bench' && r.members.length === 3);
    const byName = new Map(roster.members.map((m) => [m.name, m]));
    expect(byName.get(joined.member.name)?.device).toBe(true);
    for (const name of ['watcher', 'helper']) {
      expect(byName.get(name)?.device, name).toBeUndefined();
      expect(byName.get(name)?.legacy, name).toBeUndefined();
    }
    nc.destroy();
    tcp.destroy();
    browser.destroy();
  });
});

describe('a raw listener', () => {
  it('with typeByte, a WinForms-style client chats and its 1-typed send reaches a browser as a file with the same bytes', async () => {
    const listener = await addListener({ framing: 'raw', typeByte: true, room: 'shop' });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('shop-web', { room: 'shop' });
    const winforms = await RawSocket.connect(listener.port);
    await browser.next('presence', (p) => p.event === 'join' && p.member.name.startsWith('127.0.0.1:'));
    winforms.write(Buffer.concat([Buffer.of(0), Buffer.from('hello from WinForms')])); // one Send(), no length
    await browser.next('message', (m) => m.text === 'hello from WinForms');
    browser.send({ type: 'message', text: 'hi WinForms' });
    expect([...(await winforms.take(12))]).toEqual([0, ...Buffer.from('hi WinForms')]);

    const file = randomBytes(150_000);
    winforms.write(Buffer.concat([Buffer.of(1), file]));
    const offer = await browser.next('file-offer');
    expect(offer.size).toBe(file.length);
    const end = await browser.next('file-end', (e) => e.transfer === offer.transfer);
    const chunks = browser.received.filter((m) => m.type === 'file-data' && m.transfer === offer.transfer) as { data: Uint8Array }[];
    const got = Buffer.concat(chunks.map((c) => c.data));
    expect(got.equals(file)).toBe(true);
    expect(end.sha256).toBe(createHash('sha256').update(file).digest('hex'));
    winforms.destroy();
    browser.destroy();
  });

  it('decodes a message that came in several reads, a character split between two, and keeps bytes that are not text exact', async () => {
    // Each write arrives as a read of its own (30 ms apart, under the 300 ms idle gap that ends a message).
    const listener = await addListener({ framing: 'raw', idleMs: 300 });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('reads-web', { room: 'devices' });
    const device = await RawSocket.connect(listener.port);
    await browser.next('presence', (p) => p.event === 'join' && p.member.name.startsWith('127.0.0.1:'));
    const writeApart = async (...reads: number[][]) => {
      for (const read of reads) {
        device.write(Buffer.from(read));
        await sleep(30);
      }
    };
    await writeApart([0x68, 0xc3], [0xa9, 0x6c], [0x6c, 0x6f]); // "h", é split as c3 | a9, "llo"
    expect((await browser.next('message', (m) => m.from.startsWith('127.0.0.1:'))).text).toBe('héllo');
    await sleep(350);
    await writeApart([0xc3], [0x28]); // a lead byte, then no continuation: not UTF-8
    expect(bytesOf((await browser.next('message', (m) => m.from.startsWith('127.0.0.1:'))).data)).toEqual([0xc3, 0x28]);
    await sleep(350);
    // Nothing of the failed decode is carried into the next message.
    await writeApart([0x41], [0x42]);
    expect((await browser.next('message', (m) => m.from.startsWith('127.0.0.1:'))).text).toBe('AB');
    device.destroy();
    browser.destroy();
  });

  it('carries bytes that are not UTF-8 from device to browser and back unchanged', async () => {
    const listener = await addListener({ framing: 'raw' });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('hex-web', { room: 'devices' });
    const device = await RawSocket.connect(listener.port);
    await browser.next('presence', (p) => p.event === 'join' && p.member.name.startsWith('127.0.0.1:'));
    device.write(Buffer.of(0x00, 0x01, 0x02, 0xff, 0x41, 0x42));
    const message = await browser.next('message', (m) => m.data !== undefined);
    expect(bytesOf(message.data)).toEqual([0x00, 0x01, 0x02, 0xff, 0x41, 0x42]);
    browser.send({ type: 'message', text: '', data: message.data! });
    expect([...(await device.take(6))]).toEqual([0x00, 0x01, 0x02, 0xff, 0x41, 0x42]);
    // And a private message to the device, as bytes.
    browser.send({ type: 'private', to: message.from, text: '', data: Buffer.of(0xfe, 0x00).toString('base64') });
    expect([...(await device.take(2))]).toEqual([0xfe, 0x00]);

    // Its counters are what crossed its socket: 6 bytes in; 6 + 2 bytes out in two writes.
    const counted = (await api(gateway, 'GET', '/api/clients')).body.clients.find((c: { name: string }) => c.name === message.from);
    expect(counted).toMatchObject({ bytesIn: 6, messagesIn: 1, bytesOut: 8, messagesOut: 2 });
    // A raw WebSocket pipe to the same device: its bytes, both ways, no chat semantics.
    const member = (await api(gateway, 'GET', '/api/clients')).body.clients.find((c: { name: string }) => c.name === message.from);
    const pipe = new WebSocket(`${gateway.wsUrl.replace('/ws', '')}/ws/devices/${member.id}`);
    await new Promise((resolve, reject) => pipe.once('open', resolve).once('error', reject));
    const fromPipe = new Promise<Buffer>((resolve) => pipe.once('message', (data: Buffer) => resolve(data)));
    device.write(Buffer.of(0xde, 0xad, 0xbe, 0xef));
    expect([...(await fromPipe)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    pipe.send(Buffer.of(0x10, 0x20, 0xff));
    expect([...(await device.take(3))]).toEqual([0x10, 0x20, 0xff]);
    pipe.close();
    device.destroy();
    browser.destroy();
  });
});

describe('the raw pipe', () => {
  it('carries a device stream byte-exact in binary messages of every header size, and the device gets what the pipe sends', async () => {
    const listener = await addListener({ framing: 'raw', room: 'piped' });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('pipe-watch', { room: 'piped' });
    const device = await RawSocket.connect(listener.port);
    let id: string | undefined;
    for (let i = 0; i < 50 && id === undefined; i++) {
      id = (await api(gateway, 'GET', '/api/clients')).body.clients.find((c: { listener?: string }) => c.listener === listener.id)?.id;
      if (id === undefined) await sleep(20);
    }
    const pipe = new WebSocket(`${gateway.wsUrl.replace('/ws', '')}/ws/devices/${id}`);
    await new Promise((resolve, reject) => pipe.once('open', resolve).once('error', reject));
    const received: Buffer[] = [];
    let binary = true;
    pipe.on('message', (data: Buffer, isBinary: boolean) => {
      received.push(data);
      binary &&= isBinary;
    });
    // Small reads (7-bit length), a 20 KB one (16-bit length) and 300 KB in one write (reads of
    // up to 64 KiB, some past 65,535 bytes need the 64-bit length).
    const stream = [Buffer.from('hi'), randomBytes(20_000), randomBytes(300_000)];
    for (const part of stream) {
      device.write(part);
      await sleep(30);
    }
    const total = stream.reduce((n, b) => n + b.length, 0);
    for (let i = 0; i < 200 && received.reduce((n, b) => n + b.length, 0) < total; i++) await sleep(20);
    expect(binary).toBe(true);
    expect(Buffer.concat(received).equals(Buffer.concat(stream))).toBe(true);
    // The room got the same bytes: 64 KiB messages of bytes that are not UTF-8 are not "text too long".
    const total2 = stream.reduce((n, b) => n + b.length, 0);
    const roomSaw = () => browser.received.filter((m) => m.type === 'message').map((m) => m as { text: string; data?: string | undefined });
    for (
      let i = 0;
      i < 100 && Buffer.concat(roomSaw().map((m) => (m.data !== undefined ? Buffer.from(m.data, 'base64') : Buffer.from(m.text)))).length < total2;
      i++
    )
      await sleep(20);
    const said = Buffer.concat(roomSaw().map((m) => (m.data !== undefined ? Buffer.from(m.data, 'base64') : Buffer.from(m.text))));
    expect(said.equals(Buffer.concat(stream))).toBe(true);
    expect(device.received.toString('latin1')).toBe(''); // no ERROR line
    const out = randomBytes(70_000);
    pipe.send(out);
    expect((await device.take(out.length)).equals(out)).toBe(true);
    pipe.close();
    device.destroy();
    browser.destroy();
  });
});

describe('listener settings', () => {
  it('refuses bad settings with a code, and a taken port with 409', async () => {
    const bad = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'line', delimiter: '\\q' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    const unknown = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'morse' });
    expect(unknown.status).toBe(400);
    const taken = await api(gateway, 'POST', '/api/listeners', { port: gateway.tcpPort, framing: 'line' });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('ADDRESS_IN_USE');
    expect((await api(gateway, 'DELETE', '/api/listeners/default')).body.code).toBe('LISTENER_IS_DEFAULT');
    expect((await api(gateway, 'POST', '/api/listeners/nope/stop')).status).toBe(404);
  });
});

describe('an outbound device link', () => {
  /** A fake robot controller: a TCP server that says READY (no terminator) to whoever connects. */
  function robotController(port = 0): Promise<{ server: net.Server; port: number; connections: RawSocket[] }> {
    const connections: RawSocket[] = [];
    const server = net.createServer((socket) => {
      const raw = RawSocket.of(socket);
      connections.push(raw);
      raw.write('READY');
    });
    return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, connections })));
  }

  it('dials a robot, relays both ways, and dials it again after it was killed and restarted', async () => {
    const robot = await robotController();
    await openRoom('cell1');
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('operator', { room: 'cell1' });
    const created = await api(gateway, 'POST', '/api/devices', {
      name: 'robot1',
      host: '127.0.0.1',
      port: robot.port,
      framing: 'line',
      delimiter: '\\r\\n',
      idleFlushMs: 100,
      room: 'cell1',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), name: 'robot1', state: expect.stringMatching(/connecting|connected/) });
    await expect(browser.next('message', (m) => m.from === 'robot1')).resolves.toMatchObject({ text: 'READY', room: 'cell1' });
    browser.send({ type: 'message', text: 'MoveJ p10' });
    expect((await robot.connections[0]!.until('\r\n')).toString()).toBe('MoveJ p10\r\n');
    const listed = await api(gateway, 'GET', '/api/devices');
    expect(listed.body.devices).toContainEqual(expect.objectContaining({ id: created.body.id, state: 'connected', memberId: expect.any(String) }));
    const clients = await api(gateway, 'GET', '/api/clients');
    expect(clients.body.clients).toContainEqual(expect.objectContaining({ name: 'robot1', transport: 'tcp', outbound: created.body.id }));

    // Killed: the server and its connection go away; the gateway backs off and dials again.
    robot.connections[0]!.destroy();
    await new Promise((resolve) => robot.server.close(resolve));
    await browser.next('presence', (p) => p.event === 'leave' && p.member.name === 'robot1');
    await sleep(300);
    expect((await api(gateway, 'GET', '/api/devices')).body.devices[0].state).toMatch(/backoff|connecting/);
    const again = await robotController(robot.port);
    await browser.next('message', (m) => m.from === 'robot1' && m.text === 'READY', 8000);
    browser.send({ type: 'message', text: 'MoveL p20' });
    expect((await again.connections[0]!.until('\r\n')).toString()).toBe('MoveL p20\r\n');

    expect((await api(gateway, 'DELETE', `/api/devices/${created.body.id}`)).status).toBe(204);
    again.connections.forEach((c) => c.destroy());
    again.server.close();
    browser.destroy();
  });

  it('never dials outside --device-targets: 403 before any connection', async () => {
    let dialed = false;
    const bystander = net.createServer(() => (dialed = true));
    await new Promise<void>((resolve) => bystander.listen(0, '127.0.0.2', resolve));
    const port = (bystander.address() as net.AddressInfo).port;
    const refused = await api(gateway, 'POST', '/api/devices', { name: 'outside', host: '127.0.0.2', port, framing: 'line' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('TARGET_NOT_ALLOWED');
    await sleep(100);
    expect(dialed).toBe(false);
    bystander.close();
  });
});

describe('after a restart', () => {
  it('listeners and device links added over REST come back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-devices-'));
    const robot = net.createServer((s) => s.on('error', () => {}).write('READY\n'));
    await new Promise<void>((resolve) => robot.listen(0, '127.0.0.1', resolve));
    const robotPort = (robot.address() as net.AddressInfo).port;
    try {
      const first = await startGateway({ devices }, { keepDataDir: dataDir });
      const listener = await api(first, 'POST', '/api/listeners', { id: 'plc', port: 0, framing: 'line', delimiter: '\\r\\n', room: 'plc' });
      expect(listener.status).toBe(201);
      expect((await api(first, 'POST', '/api/devices', { id: 'arm', name: 'arm', host: '127.0.0.1', port: robotPort })).status).toBe(201);
      const readiesOn = async (gateway: RunningGateway) =>
        (await api(gateway, 'GET', '/api/history?room=devices')).body.entries.filter(
          (e: { from: string; text: string }) => e.from === 'arm' && e.text === 'READY',
        );
      for (let i = 0; i < 50 && (await readiesOn(first)).length < 1; i++) await sleep(50);
      await first.close();

      const second = await startGateway({ devices }, { keepDataDir: dataDir });
      try {
        const listeners = (await api(second, 'GET', '/api/listeners')).body.listeners;
        expect(listeners).toContainEqual(expect.objectContaining({ id: 'plc', framing: 'line', delimiter: '\\r\\n', room: 'plc', listening: true }));
        for (let i = 0; i < 50 && (await api(second, 'GET', '/api/devices')).body.devices[0]?.state !== 'connected'; i++) await sleep(50);
        expect((await api(second, 'GET', '/api/devices')).body.devices).toEqual([expect.objectContaining({ id: 'arm', name: 'arm', state: 'connected' })]);
        const readies = () => readiesOn(second);
        for (let i = 0; i < 50 && (await readies()).length < 2; i++) await sleep(50);
        expect(await readies()).toHaveLength(2); // once per gateway run: dialed again after the restart
      } finally {
        await second.close();
      }
    } finally {
      robot.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
