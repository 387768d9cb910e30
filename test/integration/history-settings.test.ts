import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../apps/gateway/src/config.js';
import { startRedisCluster } from '../helpers/cluster-node.js';
import { api, startGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { untilRoom, type RoomRow } from '../helpers/rooms.js';
import { until } from '../helpers/until.js';

const TOKEN = 'history-settings-token';
const admin = { authorization: `Bearer ${TOKEN}` };
const security = { adminToken: TOKEN };
const scratch = mkdtempSync(join(tmpdir(), 'switchboard-history-settings-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const texts = (entries: { kind: string; text?: string }[]): (string | undefined)[] => entries.map((e) => e.text);

describe('a room set to none', () => {
  it('delivers live and acknowledges, but keeps nothing: empty history, nothing found; ids still increase', async () => {
    const gateway = await startGateway({ security });
    try {
      const set = await api(gateway, 'PUT', '/api/rooms/quiet/history', { mode: 'none' }, admin);
      expect(set.status).toBe(200);
      expect(set.body).toEqual({ name: 'quiet', members: 0, access: 'anyone', history: { mode: 'none' } });
      const a = await Peer.tcp(gateway.tcpPort);
      const b = await Peer.ws(gateway.wsUrl);
      await a.hello('none-a');
      a.send({ type: 'join', room: 'quiet' });
      await a.next('roster', (r) => r.room === 'quiet');
      await b.hello('none-b', { room: 'quiet' });
      a.send({ type: 'message', room: 'lobby', text: 'before zebra', ref: 'l1' });
      const before = await a.next('message', (m) => m.ref === 'l1');
      a.send({ type: 'message', room: 'quiet', text: 'quiet zebra', ref: 'q1' });
      const ack = await a.next('message', (m) => m.ref === 'q1');
      expect(ack.id).toBeGreaterThan(before.id);
      expect(await b.next('message', (m) => m.text === 'quiet zebra')).toMatchObject({ id: ack.id, room: 'quiet', from: 'none-a' });

      b.send({ type: 'history', room: 'quiet', ref: 'h' });
      expect(await b.next('history', (h) => h.ref === 'h')).toMatchObject({ room: 'quiet', entries: [], more: false });
      expect((await api(gateway, 'GET', '/api/history?room=quiet')).body).toEqual({ entries: [], more: false });
      b.send({ type: 'history', ref: 'all' });
      expect(texts((await b.next('history', (h) => h.ref === 'all')).entries)).not.toContain('quiet zebra');
      b.send({ type: 'search', q: 'zebra', ref: 's' });
      expect(texts((await b.next('search', (s) => s.ref === 's')).entries)).toEqual(['before zebra']);
      // Joining later: the room's first history is empty too.
      const c = await Peer.tcp(gateway.tcpPort);
      await c.hello('none-c', { room: 'quiet', since: 0 });
      expect((await c.next('history', (h) => h.room === 'quiet')).entries).toEqual([]);
      expect((await api(gateway, 'GET', '/api/rooms')).body.rooms).toContainEqual({ name: 'quiet', members: 3, access: 'anyone', history: { mode: 'none' } });
      a.end();
      b.end();
      c.end();
    } finally {
      await gateway.close();
    }
  });
});

describe('a room set to memory', () => {
  it('keeps the last `size` entries, drops them past `ttlSeconds`, forgets them on restart; a durable room keeps its own', async () => {
    const dataDir = join(scratch, 'memory');
    const first = await startGateway({ security }, { keepDataDir: dataDir });
    let lastId: number;
    try {
      const set = await api(first, 'PUT', '/api/rooms/ring/history', { mode: 'memory', size: 3, ttlSeconds: 2 }, admin);
      expect(set.body.history).toEqual({ mode: 'memory', size: 3, ttlSeconds: 2 });
      const a = await Peer.tcp(first.tcpPort);
      await a.hello('mem-a');
      a.send({ type: 'join', room: 'ring' });
      await a.next('roster', (r) => r.room === 'ring');
      for (let i = 0; i < 5; i++) a.send({ type: 'message', room: 'ring', text: `ring ${i}`, ref: `r${i}` });
      lastId = (await a.next('message', (m) => m.ref === 'r4')).id;
      a.send({ type: 'message', room: 'lobby', text: 'kept for good', ref: 'd' });
      await a.next('message', (m) => m.ref === 'd');
      a.send({ type: 'history', room: 'ring', ref: 'h' });
      const page = await a.next('history', (h) => h.ref === 'h');
      expect(texts(page.entries)).toEqual(['ring 2', 'ring 3', 'ring 4']);
      expect(page.entries.at(-1)!.id).toBe(lastId);
      // Paging within the ring, and everything a member sees (rooms from both stores, in id order).
      a.send({ type: 'history', room: 'ring', before: lastId, limit: 1, ref: 'b' });
      expect(await a.next('history', (h) => h.ref === 'b')).toMatchObject({ entries: [expect.objectContaining({ text: 'ring 3' })], more: true });
      a.send({ type: 'history', ref: 'all' });
      expect(texts((await a.next('history', (h) => h.ref === 'all')).entries)).toEqual(['ring 2', 'ring 3', 'ring 4', 'kept for good']);
      // Search reads the database only.
      a.send({ type: 'search', q: 'ring', ref: 's' });
      expect((await a.next('search', (s) => s.ref === 's')).entries).toEqual([]);
      // Past the TTL the ring is empty.
      await until('the ring to expire', async () => ((await api(first, 'GET', '/api/history?room=ring')).body.entries.length === 0 ? true : undefined));
      a.send({ type: 'message', room: 'ring', text: 'after expiry', ref: 'x' });
      // The newest id went to the ring, not the database: a restart must still go on above it.
      lastId = (await a.next('message', (m) => m.ref === 'x')).id;
      expect(texts((await api(first, 'GET', '/api/history?room=ring')).body.entries)).toEqual(['after expiry']);
      a.end();
    } finally {
      await first.close();
    }
    const second = await startGateway({ security }, { keepDataDir: dataDir });
    try {
      // The setting stays; the ring does not. The durable room keeps what it had.
      expect((await api(second, 'GET', '/api/rooms')).body.rooms).toContainEqual(
        expect.objectContaining({ name: 'ring', history: { mode: 'memory', size: 3, ttlSeconds: 2 } }),
      );
      expect((await api(second, 'GET', '/api/history?room=ring')).body.entries).toEqual([]);
      expect(texts((await api(second, 'GET', '/api/history?room=lobby')).body.entries)).toEqual(['kept for good']);
      const b = await Peer.ws(second.wsUrl);
      await b.hello('mem-b', { room: 'ring' });
      b.send({ type: 'message', room: 'ring', text: 'new life', ref: 'n' });
      expect((await b.next('message', (m) => m.ref === 'n')).id).toBeGreaterThan(lastId);
      b.end();
    } finally {
      await second.close();
    }
  });
});

describe('the history setting over REST', () => {
  it('is refused with a stable code for bad values, admin only, and shown with defaults filled in', async () => {
    const gateway = await startGateway({ security, history: { memorySize: 7, memoryTtlSeconds: 60 } });
    try {
      const put = (name: string, body: unknown, headers: Record<string, string> = admin) => api(gateway, 'PUT', `/api/rooms/${name}/history`, body, headers);
      expect((await put('lab', { mode: 'forever' })).body.code).toBe('VALIDATION_FAILED');
      expect((await put('lab', { mode: 'memory', size: 0 })).body.code).toBe('VALIDATION_FAILED');
      expect((await put('lab', { mode: 'memory', ttlSeconds: 1.5 })).body.code).toBe('VALIDATION_FAILED');
      const sized = await put('lab', { mode: 'none', size: 5 });
      expect(sized).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
      expect((await put('bad%20room', { mode: 'none' })).body.code).toBe('ROOM_INVALID');
      expect((await put('lab', { mode: 'none' }, {})).status).toBe(401);
      // A default room shows durable; memory without size and TTL takes the flags'.
      const rooms = await api(gateway, 'GET', '/api/rooms');
      expect(rooms.body.rooms).toContainEqual({ name: 'lobby', members: 0, access: 'anyone', history: { mode: 'durable' } });
      expect((await put('lab', { mode: 'memory' })).body).toEqual({
        name: 'lab',
        members: 0,
        access: 'anyone',
        history: { mode: 'memory', size: 7, ttlSeconds: 60 },
      });
      // Access set afterwards keeps the history setting, and the other way round.
      const access = await api(gateway, 'PUT', '/api/rooms/lab', { access: 'accounts' }, admin);
      expect(access.body).toEqual({ name: 'lab', members: 0, access: 'accounts', history: { mode: 'memory', size: 7, ttlSeconds: 60 } });
    } finally {
      await gateway.close();
    }
  });
});

describe('the history setting in a config file and flags', () => {
  it('sets rooms from the file, refuses bad values with the field named, and --private-history sets private conversations', async () => {
    const file = join(scratch, 'switchboard.json');
    writeFileSync(
      file,
      JSON.stringify({ 'private-history': 'none', rooms: { telemetry: { history: { mode: 'memory', size: 2 } }, ops: { access: 'accounts' } } }),
    );
    const { config } = loadConfig(['--config', file], {});
    expect(config.history.privateHistory).toBe('none');
    const bad = join(scratch, 'bad.json');
    writeFileSync(bad, JSON.stringify({ rooms: { telemetry: { history: { mode: 'sometimes' } } } }));
    expect(() => loadConfig(['--config', bad], {})).toThrow(/rooms\.telemetry\.history\.mode/);
    writeFileSync(bad, JSON.stringify({ rooms: { telemetry: { history: { mode: 'durable', ttlSeconds: 5 } } } }));
    expect(() => loadConfig(['--config', bad], {})).toThrow(/rooms\.telemetry\.history: `size` and `ttlSeconds` go with mode "memory" only/);
    expect(() => loadConfig(['--private-history', 'sometimes'], {})).toThrow(/--private-history must be durable, memory or none/);
    expect(() => loadConfig(['--history-sync', 'always'], {})).toThrow(/--history-sync must be normal or full/);
    expect(loadConfig(['--history-sync', 'full'], {}).config.history.sync).toBe('full');

    const gateway = await startGateway({ security, rooms: config.rooms, history: config.history });
    try {
      const rooms = (await api(gateway, 'GET', '/api/rooms')).body.rooms;
      expect(rooms).toContainEqual({ name: 'telemetry', members: 0, access: 'anyone', history: { mode: 'memory', size: 2, ttlSeconds: 3600 } });
      expect(rooms).toContainEqual({ name: 'ops', members: 0, access: 'accounts', history: { mode: 'durable' } });
      const a = await Peer.tcp(gateway.tcpPort);
      const b = await Peer.ws(gateway.wsUrl);
      await a.hello('priv-a');
      await b.hello('priv-b');
      a.send({ type: 'private', to: 'priv-b', text: 'unkept secret', ref: 'p' });
      await a.next('private', (m) => m.ref === 'p');
      expect(await b.next('private')).toMatchObject({ text: 'unkept secret', from: 'priv-a' });
      b.send({ type: 'history', private: true, ref: 'h' });
      expect((await b.next('history', (h) => h.ref === 'h')).entries).toEqual([]);
      expect((await api(gateway, 'GET', '/api/history', undefined, admin)).body.entries.filter((e: { kind: string }) => e.kind === 'private')).toEqual([]);
      a.end();
      b.end();
    } finally {
      await gateway.close();
    }
  });

  it('--private-history memory keeps each conversation in a ring its two sides read', async () => {
    const gateway = await startGateway({ security, history: { privateHistory: 'memory', memorySize: 2 } });
    try {
      const a = await Peer.tcp(gateway.tcpPort);
      const b = await Peer.ws(gateway.wsUrl);
      const c = await Peer.ws(gateway.wsUrl);
      await a.hello('ring-a');
      await b.hello('ring-b');
      await c.hello('ring-c');
      for (let i = 0; i < 3; i++) a.send({ type: 'private', to: 'ring-b', text: `p${i}`, ref: `p${i}` });
      a.send({ type: 'private', to: 'ring-c', text: 'to c', ref: 'c' });
      await a.next('private', (m) => m.ref === 'c');
      b.send({ type: 'history', with: 'ring-a', ref: 'h' });
      expect(texts((await b.next('history', (h) => h.ref === 'h')).entries)).toEqual(['p1', 'p2']);
      c.send({ type: 'history', private: true, ref: 'h' });
      expect(texts((await c.next('history', (h) => h.ref === 'h')).entries)).toEqual(['to c']);
      a.send({ type: 'history', with: 'ring-c', ref: 'h' });
      expect(texts((await a.next('history', (h) => h.ref === 'h')).entries)).toEqual(['to c']);
      a.end();
      b.end();
      c.end();
    } finally {
      await gateway.close();
    }
  });
});

describe('the history setting across a cluster', () => {
  it('set on one gateway holds on the others, for messages sent there too, and a gateway that joins later has it', async () => {
    const cluster = await startRedisCluster();
    const quiet = (room: RoomRow) => room.history.mode === 'none';
    try {
      const a = await cluster.node('a');
      const b = await cluster.node('b');
      expect((await api(a, 'PUT', '/api/rooms/quiet/history', { mode: 'none' })).status).toBe(200);
      await untilRoom('b to know', b, 'quiet', quiet);
      const onA = await Peer.ws(a.wsUrl);
      const onB = await Peer.ws(b.wsUrl);
      cluster.peers.push(onA, onB);
      await onA.hello('cluster-a', { room: 'quiet' });
      await onB.hello('cluster-b', { room: 'quiet' });
      onB.send({ type: 'message', text: 'not kept anywhere', ref: 'm' });
      await onB.next('message', (m) => m.ref === 'm');
      await onA.next('message', (m) => m.text === 'not kept anywhere');
      for (const gateway of [a, b]) expect((await api(gateway, 'GET', '/api/history?room=quiet')).body.entries).toEqual([]);
      const c = await cluster.node('c');
      await untilRoom('c to have it', c, 'quiet', quiet);
    } finally {
      await cluster.close();
    }
  }, 90_000);
});
