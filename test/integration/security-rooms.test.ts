import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startRedisCluster } from '../helpers/cluster-node.js';
import { spawnGateway } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { untilRoom } from '../helpers/rooms.js';
import { until } from '../helpers/until.js';

// Issue 22 from an attacker's view, rooms and devices: who may command a machine, and what a
// device's connection may hold or inherit. Real sockets, a real gateway.

const TOKEN = 'rooms-admin-token';
const admin = { authorization: `Bearer ${TOKEN}` };

/** A device that is a TCP server (a robot controller): every byte it is sent, and how many connections it took. */
async function robotController(port = 0): Promise<{ server: net.Server; port: number; connections: RawSocket[]; accepted: () => number }> {
  const connections: RawSocket[] = [];
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    connections.push(RawSocket.of(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, connections, accepted: () => accepted };
}

async function linkState(gateway: RunningGateway, id: string): Promise<{ state: string; lastError: { code: string } | null }> {
  const listed = await api(gateway, 'GET', '/api/devices', undefined, admin);
  return listed.body.devices.find((d: { id: string }) => d.id === id);
}

async function account(gateway: RunningGateway, name: string, role: 'user' | 'admin' = 'user'): Promise<void> {
  const created = await api(gateway, 'POST', '/api/accounts', { name, password: 'correct horse battery', role }, admin);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
}

describe('room access control: who may command a device', () => {
  let gateway: RunningGateway;
  let robot: Awaited<ReturnType<typeof robotController>>;
  let linkId: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-rooms-'));

  beforeAll(async () => {
    gateway = await startGateway({ security: { adminToken: TOKEN }, devices: { targets: '127.0.0.1', backoffMaxMs: 400 } }, { keepDataDir: dataDir });
    robot = await robotController();
    const created = await api(
      gateway,
      'POST',
      '/api/devices',
      { name: 'robot1', host: '127.0.0.1', port: robot.port, framing: 'line', delimiter: '\\r\\n', room: 'cell1' },
      admin,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    linkId = created.body.id;
    await until('the robot link', async () => ((await linkState(gateway, linkId)).state === 'connected' ? true : undefined));
    await account(gateway, 'opal', 'admin');
    await account(gateway, 'alice');
    await account(gateway, 'bob');
  });
  afterAll(async () => {
    await gateway.close();
    robot.connections.forEach((c) => c.destroy());
    robot.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("an anonymous browser cannot join a device room, read it, address its device or say anything to it; an operator can, and the robot gets exactly the operator's bytes", async () => {
    const mallory = await Peer.ws(gateway.wsUrl);
    // A hello straight into the device room is refused, and the connection may try again elsewhere.
    mallory.send({ type: 'hello', v: 1, name: 'mallory', room: 'cell1', ref: 'h1' });
    expect(await mallory.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'h1' });
    await mallory.hello('mallory');
    mallory.send({ type: 'join', room: 'cell1', ref: 'j1' });
    expect(await mallory.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'j1' });
    mallory.send({ type: 'private', to: 'robot1', text: 'MoveJ evil', ref: 'p1' });
    expect(await mallory.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'p1' });
    mallory.send({ type: 'private', to: 'ROBOT1', text: '', data: Buffer.from('STOP\r\n').toString('base64'), ref: 'p2' });
    expect(await mallory.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'p2' });
    mallory.send({ type: 'file-offer', transfer: 1, name: 'prog.mod', size: 4, to: 'robot1', ref: 'f1' });
    expect(await mallory.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'f1' });
    mallory.send({ type: 'message', room: 'cell1', text: 'MoveJ evil', ref: 'm1' });
    expect(await mallory.next('error')).toMatchObject({ code: 'NOT_IN_ROOM', ref: 'm1' });
    mallory.send({ type: 'history', room: 'cell1', ref: 'y1' });
    expect(await mallory.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'y1' });
    mallory.send({ type: 'roster', room: 'cell1', ref: 'r1' });
    expect(await mallory.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'r1' });
    // Over REST: the room's history needs someone the room admits.
    expect(await api(gateway, 'GET', '/api/history?room=cell1')).toMatchObject({ status: 403, body: { code: 'ROOM_FORBIDDEN' } });
    expect((await api(gateway, 'GET', '/api/history?room=cell1', undefined, admin)).status).toBe(200);
    // The restriction is visible, and only an operator changes it.
    const rooms = (await api(gateway, 'GET', '/api/rooms')).body.rooms;
    expect(rooms).toContainEqual({ name: 'cell1', members: 1, access: 'operators', history: { mode: 'durable' } });
    expect(rooms).toContainEqual(expect.objectContaining({ name: 'lobby', access: 'anyone' }));
    expect(await api(gateway, 'PUT', '/api/rooms/cell1', { access: 'anyone' })).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });

    // A signed-in user who is not an operator is refused too.
    const bob = await Peer.ws(gateway.wsUrl);
    await bob.hello('bob', { password: 'correct horse battery' });
    bob.send({ type: 'join', room: 'cell1', ref: 'j2' });
    expect(await bob.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'j2' });

    const opal = await Peer.ws(gateway.wsUrl);
    await opal.hello('opal', { password: 'correct horse battery', room: 'cell1' });
    opal.send({ type: 'message', text: 'MoveJ p10', ref: 'o1' });
    await opal.next('message', (m) => m.ref === 'o1');
    opal.send({ type: 'private', to: 'robot1', text: 'STOP', ref: 'o2' });
    await opal.next('private', (m) => m.ref === 'o2');
    // Exactly the operator's two commands, in order, and nothing of mallory's or bob's before them.
    expect((await robot.connections[0]!.take('MoveJ p10\r\nSTOP\r\n'.length)).toString()).toBe('MoveJ p10\r\nSTOP\r\n');
    await sleep(100);
    expect(robot.connections[0]!.received.length).toBe(0);
    for (const peer of [mallory, bob, opal]) peer.destroy();
  });

  it('named accounts: the room admits them and operators; a change takes out members it no longer admits; the setting survives a restart', async () => {
    expect(await api(gateway, 'PUT', '/api/rooms/cell1', { access: 'named' }, admin)).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    expect(await api(gateway, 'PUT', '/api/rooms/cell1', { access: 'everyone' }, admin)).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
    const set = await api(gateway, 'PUT', '/api/rooms/cell1', { access: 'named', accounts: ['Alice'] }, admin);
    expect(set).toMatchObject({ status: 200, body: { name: 'cell1', access: 'named', accounts: ['alice'] } });

    const alice = await Peer.ws(gateway.wsUrl);
    await alice.hello('alice', { password: 'correct horse battery', room: 'cell1' });
    const bob = await Peer.ws(gateway.wsUrl);
    await bob.hello('bob', { password: 'correct horse battery' });
    bob.send({ type: 'join', room: 'cell1', ref: 'j' });
    expect(await bob.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'j' });
    bob.send({ type: 'private', to: 'robot1', text: 'HOME' });
    await bob.next('error', (e) => e.code === 'ROOM_FORBIDDEN');
    alice.send({ type: 'message', text: 'MoveL p20', ref: 'a' });
    await alice.next('message', (m) => m.ref === 'a');
    expect((await robot.connections[0]!.until('MoveL p20\r\n')).toString()).toBe('MoveL p20\r\n');

    // Alice is no longer named: she is taken out at once, and cannot speak there any more.
    await api(gateway, 'PUT', '/api/rooms/cell1', { access: 'operators' }, admin);
    expect(await alice.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN' });
    expect(await alice.next('presence', (p) => p.member.name === 'alice')).toMatchObject({ event: 'leave', reason: 'kicked', room: 'cell1' });
    alice.send({ type: 'message', room: 'cell1', text: 'MoveL p30', ref: 'b' });
    expect(await alice.next('error', (e) => e.ref === 'b')).toMatchObject({ code: 'NOT_IN_ROOM' });
    await api(gateway, 'PUT', '/api/rooms/cell1', { access: 'named', accounts: ['alice'] }, admin);
    await sleep(100);
    expect(robot.connections[0]!.received.length).toBe(0);
    alice.destroy();
    bob.destroy();

    // A restart keeps it (identity.sqlite), and GET /api/rooms shows it before anyone joins.
    await gateway.close();
    gateway = await startGateway({ security: { adminToken: TOKEN }, devices: { targets: '127.0.0.1', backoffMaxMs: 400 } }, { keepDataDir: dataDir });
    expect((await api(gateway, 'GET', '/api/rooms')).body.rooms).toContainEqual(
      expect.objectContaining({ name: 'cell1', access: 'named', accounts: ['alice'] }),
    );
    const guest = await Peer.ws(gateway.wsUrl);
    await guest.hello('guest');
    guest.send({ type: 'join', room: 'cell1', ref: 'g' });
    expect(await guest.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'g' });
    guest.destroy();
  });

  it('accounts: any signed-in account, not a guest; a plain TCP client is refused the same way', async () => {
    await api(gateway, 'PUT', '/api/rooms/ops', { access: 'accounts' }, admin);
    const guest = await Peer.tcp(gateway.tcpPort);
    await guest.hello('tcp-guest');
    guest.send({ type: 'join', room: 'ops', ref: 'g' });
    expect(await guest.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'g' });
    const bob = await Peer.tcp(gateway.tcpPort);
    await bob.hello('bob', { password: 'correct horse battery', room: 'ops' });
    guest.destroy();
    bob.destroy();
  });
});

describe('named accounts and a deleted account', () => {
  it("whoever registers a deleted account's name next is not admitted where the account was named", async () => {
    const gateway = await startGateway({ security: { adminToken: TOKEN } });
    try {
      await account(gateway, 'carol');
      await account(gateway, 'dave');
      expect((await api(gateway, 'PUT', '/api/rooms/vault', { access: 'named', accounts: ['carol', 'dave'] }, admin)).status).toBe(200);
      expect((await api(gateway, 'DELETE', '/api/accounts/carol', undefined, admin)).status).toBe(204);
      expect((await api(gateway, 'POST', '/api/accounts', { name: 'Carol', password: 'another horse battery' })).status).toBe(201);
      const newcomer = await Peer.ws(gateway.wsUrl);
      await newcomer.hello('Carol', { password: 'another horse battery' });
      newcomer.send({ type: 'join', room: 'vault', ref: 'j' });
      expect(await newcomer.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'j' });
      expect((await api(gateway, 'GET', '/api/rooms')).body.rooms).toContainEqual({
        name: 'vault',
        members: 0,
        access: 'named',
        accounts: ['dave'],
        history: { mode: 'durable' },
      });
      newcomer.destroy();
    } finally {
      await gateway.close();
    }
  });
});

describe('device rooms by default', () => {
  it('a line listener without a room puts its devices in "devices", open to operators only; a config file can open a room', async () => {
    const gateway = await startGateway({ security: { adminToken: TOKEN }, rooms: { lab: { access: 'anyone' } } as never });
    try {
      const listener = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'line' }, admin);
      expect(listener.body.room).toBe('devices');
      const lab = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'line', room: 'lab' }, admin);
      const plc = await RawSocket.connect(listener.body.port);
      const labDevice = await RawSocket.connect(lab.body.port);
      const rooms = () => api(gateway, 'GET', '/api/rooms').then((r) => r.body.rooms as { name: string; members: number; access: string }[]);
      await until('both devices', async () =>
        (await rooms()).filter((r) => (r.name === 'devices' || r.name === 'lab') && r.members === 1).length === 2 ? true : undefined,
      );
      expect(await rooms()).toContainEqual({ name: 'devices', members: 1, access: 'operators', history: { mode: 'durable' } });
      expect(await rooms()).toContainEqual({ name: 'lab', members: 1, access: 'anyone', history: { mode: 'durable' } });

      const guest = await Peer.ws(gateway.wsUrl);
      await guest.hello('guest');
      guest.send({ type: 'join', room: 'devices', ref: 'd' });
      expect(await guest.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'd' });
      // The room the config file opened: the guest's words reach that device, exactly.
      guest.send({ type: 'join', room: 'lab' });
      await guest.next('roster', (r) => r.room === 'lab');
      guest.send({ type: 'message', text: 'MEASURE', ref: 'm' });
      await guest.next('message', (m) => m.ref === 'm');
      expect((await labDevice.until('\n')).toString()).toBe('MEASURE\n');
      await sleep(100);
      expect(plc.received.length).toBe(0);
      guest.destroy();
      plc.destroy();
      labDevice.destroy();
    } finally {
      await gateway.close();
    }
  });
});

describe("a plain device's private history", () => {
  it('does not pass to the next connection from the same address and port', async () => {
    const gateway = await startGateway();
    try {
      const first = await Peer.tcp(gateway.tcpPort);
      const port = first.socket!.localPort!;
      const address = `127.0.0.1:${port}`;
      // A text frame first, no hello: a plain device named by its address.
      first.send({ type: 'text', text: 'hello from the plain device' });
      const alice = await Peer.ws(gateway.wsUrl);
      await alice.hello('alice');
      await until('the plain device', async () =>
        (await api(gateway, 'GET', '/api/clients')).body.clients.some((c: { name: string }) => c.name === address) ? true : undefined,
      );
      alice.send({ type: 'private', to: address, text: 'the door code is 4711', ref: 'p' });
      await alice.next('private', (m) => m.ref === 'p');
      await first.waitForLine((line) => line.includes('4711'));
      // The server closes it (a kick), so the address and port are free to take again at once.
      const id = (await api(gateway, 'GET', '/api/clients')).body.clients.find((c: { name: string }) => c.name === address).id;
      expect((await api(gateway, 'POST', `/api/clients/${id}/kick`, {})).status).toBe(200);
      await first.waitClosed();
      await until('the name freed', async () =>
        (await api(gateway, 'GET', '/api/clients')).body.clients.some((c: { name: string }) => c.name === address) ? undefined : true,
      );

      const second = await Peer.tcp(gateway.tcpPort, '127.0.0.1', undefined, port);
      expect(second.socket!.localPort).toBe(port);
      // Its first frame asks for "its" private history: it is a new device, with none.
      second.send({ type: 'history', private: true, ref: 'h' });
      const page = await second.next('history', (h) => h.ref === 'h');
      expect(page.entries).toEqual([]);
      second.send({ type: 'history', with: 'alice', ref: 'w' });
      expect((await second.next('history', (h) => h.ref === 'w')).entries).toEqual([]);
      second.destroy();
      alice.destroy();
    } finally {
      await gateway.close();
    }
  });
});

describe("a device link's name", () => {
  it("is the link's while it exists, in backoff too: an impostor gets NAME_TAKEN and commands for robot1 reach only the robot", async () => {
    const gateway = await startGateway({ devices: { targets: '127.0.0.1', backoffMaxMs: 300 } });
    let robot = await robotController();
    try {
      await api(gateway, 'PUT', '/api/rooms/cell1', { access: 'anyone' });
      const created = await api(gateway, 'POST', '/api/devices', {
        name: 'robot1',
        host: '127.0.0.1',
        port: robot.port,
        framing: 'line',
        delimiter: '#',
        room: 'cell1',
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await until('the robot link', async () => ((await linkState(gateway, created.body.id)).state === 'connected' ? true : undefined));
      // Another link (or anyone) may not take the name either.
      expect(await api(gateway, 'POST', '/api/devices', { name: 'Robot1', host: '127.0.0.1', port: robot.port, room: 'cell1' })).toMatchObject({
        status: 409,
        body: { code: 'NAME_TAKEN' },
      });

      // The robot goes down; its link backs off.
      robot.connections.forEach((c) => c.destroy());
      await new Promise((resolve) => robot.server.close(resolve));
      await until('backoff', async () => (/backoff|connecting/.test((await linkState(gateway, created.body.id)).state) ? true : undefined));

      const impostor = await Peer.tcp(gateway.tcpPort);
      impostor.send({ type: 'hello', v: 1, name: 'robot1', room: 'cell1', ref: 'h' });
      expect(await impostor.next('error')).toMatchObject({ code: 'NAME_TAKEN', ref: 'h' });
      const ws = await Peer.ws(gateway.wsUrl);
      ws.send({ type: 'hello', v: 1, name: 'ROBOT1', ref: 'h' });
      expect(await ws.next('error')).toMatchObject({ code: 'NAME_TAKEN', ref: 'h' });
      await impostor.hello('not-a-robot', { room: 'cell1' });
      impostor.send({ type: 'nick', name: 'robot1', ref: 'n' });
      expect(await impostor.next('error', (e) => e.ref === 'n')).toMatchObject({ code: 'NAME_TAKEN' });

      const operator = await Peer.ws(gateway.wsUrl);
      await operator.hello('operator', { room: 'cell1' });
      operator.send({ type: 'private', to: 'robot1', text: 'MoveJ p1', ref: 'early' });
      expect(await operator.next('error', (e) => e.ref === 'early')).toMatchObject({ code: 'NO_SUCH_MEMBER' });

      // Back on the same port: the device is robot1 again (not robot1@local), and gets exactly what is sent to robot1.
      robot = await robotController(robot.port);
      await operator.next('presence', (p) => p.event === 'join' && p.member.name === 'robot1', 8000);
      operator.send({ type: 'private', to: 'robot1', text: 'MoveJ p10', ref: 'p' });
      await operator.next('private', (m) => m.ref === 'p');
      expect((await robot.connections[0]!.until('#')).toString()).toBe('MoveJ p10#');
      expect(impostor.received.filter((m) => m.type === 'private')).toEqual([]);
      for (const peer of [impostor, ws, operator]) peer.destroy();
    } finally {
      await gateway.close();
      robot.connections.forEach((c) => c.destroy());
      robot.server.close();
    }
  });
});

describe('device links stored before a restart', () => {
  it('are checked against the --device-targets in force: outside them, refused with a code and never dialed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-targets-'));
    const robot = await robotController();
    try {
      const first = await startGateway({ devices: { targets: '127.0.0.1', backoffMaxMs: 300 } }, { keepDataDir: dataDir });
      const created = await api(first, 'POST', '/api/devices', { id: 'arm', name: 'arm', host: '127.0.0.1', port: robot.port });
      expect(created.status).toBe(201);
      await until('the first dial', () => (robot.accepted() === 1 ? true : undefined));
      await first.close();
      robot.connections.forEach((c) => c.destroy());

      const logLines: string[] = [];
      const second = await startGateway({ logLevel: 'warn', devices: { targets: '127.0.0.2/32', backoffMaxMs: 300 } }, { keepDataDir: dataDir, logLines });
      try {
        const arm = await linkState(second, 'arm');
        expect(arm).toMatchObject({ state: 'stopped', lastError: { code: 'TARGET_NOT_ALLOWED' } });
        expect(logLines.some((line) => line.includes('TARGET_NOT_ALLOWED') && line.includes('"device":"arm"'))).toBe(true);
        await sleep(700); // more than two backoffs: still nothing dialed
        expect(robot.accepted()).toBe(1);
        expect((await linkState(second, 'arm')).state).toBe('stopped');
      } finally {
        await second.close();
      }
    } finally {
      robot.server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("an auto-reply rule's pattern", () => {
  it('(a+)+$ against a line of 34 a and a b does not hold the gateway: /api/health answers, and the device gets exactly its replies', async () => {
    // Its own process: on an engine that backtracks, this line would hold the event loop for minutes.
    const gateway = await spawnGateway([]);
    try {
      const listener = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'line', room: 'plc' });
      expect(listener.status).toBe(201);
      const rule = await api(gateway, 'POST', '/api/rules', { scope: { listener: listener.body.id }, match: { regex: '(a+)+$' }, reply: 'MATCH' });
      expect(rule.status, JSON.stringify(rule.body)).toBe(201);
      const device = await RawSocket.connect(listener.body.port);
      // Lines are handled in order: the reply to the second says the first was matched (and did not match).
      device.write(`${'a'.repeat(34)}b\naaa\n`);
      expect((await device.until('MATCH\n', 10_000)).toString()).toBe('MATCH\n');
      expect((await fetch(`${gateway.httpUrl}/api/health`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
      expect(device.received.length).toBe(0);
      device.destroy();
    } finally {
      await gateway.stop('SIGKILL');
    }
  }, 30_000);

  it('a pattern RE2 cannot run in linear time (a backreference, a lookahead) is refused at creation with RULE_PATTERN_INVALID', async () => {
    const gateway = await startGateway();
    try {
      for (const regex of ['(a)\\1', 'a(?=b)', '(?<!x)y', '(']) {
        const refused = await api(gateway, 'POST', '/api/rules', { scope: 'all', match: { regex }, reply: 'x' });
        expect(refused, regex).toMatchObject({ status: 400, body: { code: 'RULE_PATTERN_INVALID' } });
      }
      expect((await api(gateway, 'GET', '/api/rules')).body.rules).toEqual([]);
      expect((await api(gateway, 'POST', '/api/rules', { scope: 'all', match: { regex: '^T(EMP|MP) [0-9.]+$' }, reply: 'OK' })).status).toBe(201);
    } finally {
      await gateway.close();
    }
  });
});

describe('a raw listener with the type byte', () => {
  it('bounds what connections streaming files may hold together: past the bound a file is refused with a code, and memory stays bounded', async () => {
    const gateway = await spawnGateway(['--rate', '100000', '--rate-burst', '100000']);
    const devices: RawSocket[] = [];
    try {
      const listener = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'raw', typeByte: true, idleMs: 20_000, room: 'shop', notices: true });
      expect(listener.status).toBe(201);
      const before = gateway.rssBytes();
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, gateway.rssBytes())), 20);
      const STREAMS = 6;
      const BYTES = 40 * 1024 * 1024;
      const piece = Buffer.alloc(1024 * 1024, 0x42);
      await Promise.all(
        Array.from({ length: STREAMS }, async () => {
          const device = await RawSocket.connect(listener.body.port);
          devices.push(device);
          // A `1`-typed send: one file of 40 MiB, as the WinForms client would stream it. The idle gap
          // that ends it (20 s) does not come before the devices close: the file is never finished.
          device.write(Buffer.of(1));
          for (let sent = 0; sent < BYTES; sent += piece.length) {
            if (!device.socket.write(piece)) await new Promise((resolve) => device.socket.once('drain', resolve));
          }
        }),
      );
      const refusal = Buffer.concat([
        Buffer.of(0),
        Buffer.from("ERROR FILE_TOO_LARGE: devices' unfinished files are at the gateway's limit; this file was refused, send it again"),
      ]);
      // 64 MiB hold at most one of these files at once: the others are told, with exactly this.
      // The listener asks for the gateway's words (notices), so a device also hears the others
      // join its room, and nothing else.
      const refusalText = refusal.toString('latin1');
      const told = (d: RawSocket) => d.received.toString('latin1').includes(refusalText);
      await until('the refusals', () => (devices.filter(told).length >= STREAMS - 1 ? true : undefined), 20_000);
      clearInterval(sampler);
      expect(devices.filter(told).length).toBeGreaterThanOrEqual(STREAMS - 1);
      for (const device of devices) {
        const rest = device.received
          .toString('latin1')
          .split(refusalText)
          .join('')
          .replace(/\x00\[shop\] \* 127\.0\.0\.1:\d+ joined/g, '');
        expect(rest, JSON.stringify(device.received.toString('latin1'))).toBe('');
      }
      // Without the bound each connection held its whole file (6 × 40 MiB); now about 64 MiB in all.
      console.log(`RSS ${Math.round(before / 2 ** 20)} MiB before, ${Math.round(peak / 2 ** 20)} MiB at most`);
      expect(peak - before).toBeLessThan(160 * 1024 * 1024);
      expect((await fetch(`${gateway.httpUrl}/api/health`)).status).toBe(200);
    } finally {
      devices.forEach((d) => d.destroy());
      await gateway.stop('SIGKILL');
    }
  }, 60_000);
});

describe('room access across a cluster', () => {
  it('a device room closed on one gateway is closed on the others, an opening reaches the device across them, and a gateway that joins later has both', async () => {
    const cluster = await startRedisCluster();
    try {
      const a = await cluster.node('a');
      const b = await cluster.node('b');
      const listener = await api(a, 'POST', '/api/listeners', { port: 0, framing: 'line', room: 'cell1' });
      expect(listener.status).toBe(201);
      const device = await RawSocket.connect(listener.body.port);
      await untilRoom('b to know', b, 'cell1', (r) => r.access === 'operators');
      const deviceName = await until(
        'the device',
        async () =>
          (await api(a, 'GET', '/api/clients')).body.clients.find((c: { listener?: string }) => c.listener === listener.body.id)?.name as string | undefined,
      );

      const guest = await Peer.ws(b.wsUrl);
      cluster.peers.push(guest);
      await guest.hello('guest-on-b');
      guest.send({ type: 'join', room: 'cell1', ref: 'j' });
      expect(await guest.next('error')).toMatchObject({ code: 'ROOM_FORBIDDEN', ref: 'j' });
      guest.send({ type: 'private', to: deviceName, text: 'STOP', ref: 'p' });
      expect(await guest.next('error', (e) => e.ref === 'p')).toMatchObject({ code: 'ROOM_FORBIDDEN' });

      expect((await api(b, 'PUT', '/api/rooms/cell1', { access: 'anyone' })).status).toBe(200);
      await untilRoom('a to know', a, 'cell1', (r) => r.access === 'anyone');
      guest.send({ type: 'join', room: 'cell1' });
      await guest.next('roster', (r) => r.room === 'cell1');
      guest.send({ type: 'message', text: 'GO', ref: 'm' });
      await guest.next('message', (m) => m.ref === 'm');
      // Exactly the message that was allowed, and nothing of the refused ones before it.
      expect((await device.until('\n')).toString()).toBe('GO\n');

      const c = await cluster.node('c');
      await untilRoom('c to have it', c, 'cell1', (r) => r.access === 'anyone');
      device.destroy();
    } finally {
      await cluster.close();
    }
  }, 60_000);
});
