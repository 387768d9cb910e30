import { createHash } from 'node:crypto';
import { encodeMessage, type ClientMessage, type ServerMessage } from '@switchboard/protocol';
import { describe, expect, it } from 'vitest';
import { keySlot } from '../../apps/gateway/src/cluster/key-slot.js';
import type { ClusterNodeProcess } from '../helpers/cluster-node.js';
import { errorsSent } from '../helpers/bus-metrics.js';
import { api } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';
import { Peer, sleep } from '../helpers/peer.js';
import type { ClusterNodeProcess as RedisClusterNode } from '../helpers/redis-cluster.js';
import { useRedisCluster } from '../helpers/redis-cluster-suite.js';

/**
 * History sharded by room on a real Redis Cluster (issue 25): each room's id counter and stream
 * live in the room's own slot, on the master that serves it, so the master of the shared state
 * (`{shared}`) does nothing per chat message; ids are `sequence × 16384 + slot`, increasing within
 * a room. A member that reconnects with `since` (and asks `history {room, after}` for another room)
 * across a `kill -9` of its rooms' master gets exactly what it missed. Every wait is bounded.
 */
type Of<K extends ServerMessage['type']> = Extract<ServerMessage, { type: K }>;

const SHARED_KEY = 'switchboard:{shared}:nodes';
const streamOf = (room: string): string => `switchboard:{room:${room}}:log`;
/** As docs/several-gateways.md says: the counter of slot s is `switchboard:{ids-<n>}:message-id`, n the least whose tag `ids-<n>` is in slot s. */
function counterOf(room: string): string {
  const slot = keySlot(streamOf(room));
  let n = 0;
  while (keySlot(`ids-${n}`) !== slot) n++;
  return `switchboard:{ids-${n}}:message-id`;
}
/** As PROTOCOL.md says: on a Redis Cluster an id is `sequence × 16384 + slot`. */
const splitId = (id: number): { slot: number; sequence: number } => ({ slot: id % 16384, sequence: Math.floor(id / 16384) });

const suite = useRedisCluster(['--redis-wait-replicas', '1']);

const node = (id: string): Promise<ClusterNodeProcess> => suite.gateway(id);

/** A member in `rooms` (the first is its hello's), joined once each room's roster came. */
async function member(gateway: ClusterNodeProcess, name: string, rooms: string[]): Promise<Peer> {
  const peer = await suite.tcpPeer(gateway.tcpPort);
  await peer.hello(name, { room: rooms[0]! });
  await peer.find('roster', (r) => r.room === rooms[0], 10_000);
  for (const room of rooms.slice(1)) {
    peer.send({ type: 'join', room, ref: `join-${room}` });
    await peer.find('roster', (r) => r.ref === `join-${room}`, 10_000);
  }
  return peer;
}

/** The acknowledgement (the message with its id) or the error that answers `ref`, waited for (bounded) in what `peer` received. */
async function answerTo(peer: Peer, ref: string): Promise<Of<'message'> | Of<'error'>> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(10)) {
    const reply = peer.received.find((m): m is Of<'message'> | Of<'error'> => (m.type === 'message' || m.type === 'error') && m.ref === ref);
    if (reply !== undefined) return reply;
  }
  throw new Error(`no answer to ${ref}; got ${peer.describe()}`);
}

/** Says `text` in `room`, asking again (a new ref each time) while it is refused; its acknowledged id. */
async function say(peer: Peer, room: string, text: string): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (let attempt = 0; ; attempt++) {
    const ref = `${text}#${attempt}`;
    peer.send({ type: 'message', room, text, ref });
    const reply = await answerTo(peer, ref);
    if (reply.type === 'message') return reply.id;
    if (reply.code !== 'CLUSTER_UNAVAILABLE' || Date.now() > deadline) throw new Error(`${text} refused: ${reply.code}`);
    await sleep(200);
  }
}

/** Rooms by the master of their stream's slot, none on the shared state's master: `count` rooms on each of two other masters. */
async function roomsOffShared(prefix: string, count: number): Promise<{ masters: RedisClusterNode[]; rooms: string[][] }> {
  const shared = await suite.cluster.masterOf(SHARED_KEY);
  const byMaster = new Map<number, { master: RedisClusterNode; rooms: string[] }>();
  for (let i = 0; i < 2000; i++) {
    const room = `${prefix}${i}`;
    const master = await suite.cluster.masterOf(keySlot(streamOf(room)));
    if (master.port === shared.port) continue;
    const group = byMaster.get(master.port) ?? { master, rooms: [] };
    byMaster.set(master.port, group);
    if (group.rooms.length < count) group.rooms.push(room);
    if (byMaster.size === 2 && [...byMaster.values()].every((g) => g.rooms.length === count)) break;
  }
  const groups = [...byMaster.values()];
  return { masters: groups.map((g) => g.master), rooms: groups.map((g) => g.rooms) };
}

/** One room off the shared state's master, alice in it on gateway a and bob on gateway b, alice having seen bob join. */
async function aliceAndBobIn(prefix: string): Promise<{ room: string; master: RedisClusterNode; alice: Peer; bob: Peer }> {
  const { masters, rooms } = await roomsOffShared(prefix, 1);
  const room = rooms[0]![0]!;
  const [a, b] = [await node('a'), await node('b')];
  const alice = await member(a, 'alice', [room]);
  const bob = await member(b, 'bob', [room]);
  await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'bob', 10_000);
  return { room, master: masters[0]!, alice, bob };
}

/** A room whose stream's master is not the shared state's and has a replica (a master killed earlier in this file may have none). */
async function roomWithReplica(prefix: string): Promise<string> {
  const shared = await suite.cluster.masterOf(SHARED_KEY);
  for (let i = 0; i < 2000; i++) {
    const room = `${prefix}${i}`;
    const master = await suite.cluster.masterOf(keySlot(streamOf(room)));
    if (master.port !== shared.port && (await suite.cluster.replicasOf(master)).length > 0) return room;
  }
  throw new Error('no master other than the shared one has a replica');
}

/** The calls so far once EVAL has held still for 2.5 s (a heartbeat and more): every periodic script loaded. Bounded: 20 s. */
async function settledCalls(node: RedisClusterNode): Promise<Map<string, number>> {
  let calls = await commandCalls(node);
  for (let tries = 0; tries < 8; tries++) {
    await sleep(2500);
    const now = await commandCalls(node);
    if (now.get('eval') === calls.get('eval')) return now;
    calls = now;
  }
  throw new Error('the shared master kept receiving EVAL for 20 s without chat');
}

/** Calls of every command so far on one node (INFO commandstats), by command name. */
async function commandCalls(node: RedisClusterNode): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await suite.cluster.cli(node, ['INFO', 'commandstats'])).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match !== null) calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

describe('history sharded by room on a Redis Cluster', () => {
  it("each room's counter and stream are on the master of its own slot; the shared state's master does nothing per chat message", async () => {
    const { masters, rooms } = await roomsOffShared('k', 1);
    const [roomA, roomB] = [rooms[0]![0]!, rooms[1]![0]!];
    const [a, b] = [await node('a'), await node('b')];
    const alice = await member(a, 'alice', [roomA, roomB]);
    const bob = await member(b, 'bob', [roomA, roomB]);
    await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'bob' && p.room === roomB, 10_000);

    const shared = await suite.cluster.masterOf(SHARED_KEY);
    // A script a gateway runs on the shared master for the first time goes by EVAL (EVALSHA answered NOSCRIPT), not one per message: counted from when those have settled.
    const sharedBefore = await settledCalls(shared);
    const ids: Record<string, number[]> = { [roomA]: [], [roomB]: [] };
    for (let i = 0; i < 30; i++) for (const room of [roomA, roomB]) ids[room]!.push(await say(i % 2 === 0 ? alice : bob, room, `${room}-${i}`));
    const sharedAfter = await commandCalls(shared);

    // 60 messages stored and acknowledged, none of it on the shared master: no append script (EVAL; the heartbeat's is EVALSHA), no stream entry, no counter there (streams followed are read there only as often as the heartbeat, whatever the traffic).
    for (const name of ['eval', 'xadd', 'incr']) {
      expect({ name, calls: (sharedAfter.get(name) ?? 0) - (sharedBefore.get(name) ?? 0) }).toEqual({ name, calls: 0 });
    }
    const sum = (calls: Map<string, number>): number => [...calls.values()].reduce((x, y) => x + y, 0);
    // What it did meanwhile is the gateways' heartbeats and presence, not one command per message.
    expect(sum(sharedAfter) - sum(sharedBefore)).toBeLessThan(60);

    for (const [i, room] of [roomA, roomB].entries()) {
      const master = masters[i]!;
      expect(await suite.cluster.masterOf(keySlot(counterOf(room)))).toMatchObject({ port: master.port });
      expect((await suite.cluster.cli(master, ['XLEN', streamOf(room)])).trim()).toBe('30');
      // Ids are `sequence × 16384 + slot`: the room's slot, its counter's sequence, increasing.
      const slot = keySlot(streamOf(room));
      expect(ids[room]!.map((id) => splitId(id).slot)).toEqual(ids[room]!.map(() => slot));
      expect(ids[room]).toEqual([...ids[room]!].sort((x, y) => x - y));
      expect(Number((await suite.cluster.cli(master, ['GET', counterOf(room)])).trim())).toBe(splitId(ids[room]!.at(-1)!).sequence);
      // The room's stream id is its message id: a reader starts at a message id.
      expect((await suite.cluster.cli(master, ['XRANGE', streamOf(room), '-', '+', 'COUNT', '1'])).split('\n')[0]).toBe(`${ids[room]![0]}-0`);
    }
    expect(masters[0]!.port).not.toBe(masters[1]!.port);
    // The two gateways' members heard every message of both rooms.
    await bob.find('message', (m) => m.id === ids[roomB]!.at(-1), 10_000);
  }, 90_000);

  it("messages sent in one write to one room are appended by one script call and published once: each acknowledged once, in order, under its own id in the room's stream", async () => {
    const { room, master, alice, bob } = await aliceAndBobIn('b');
    const first = await say(alice, room, 'before the burst'); // the room's master has run the append script once

    const count = 40;
    const before = await commandCalls(master);
    const texts = Array.from({ length: count }, (_, i) => `burst ${i}`);
    alice.sendBytes(Buffer.concat(texts.map((text, i) => encodeMessage({ type: 'message', room, text, ref: `burst-${i}` }))));
    const acks: Of<'message'>[] = [];
    for (let i = 0; i < count; i++) acks.push(await alice.find('message', (m) => m.ref === `burst-${i}`, 10_000));
    await bob.find('message', (m) => m.text === texts.at(-1), 10_000);
    const after = await commandCalls(master);
    const calls = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);

    // Every one stored (an XADD each, run by the script), by far fewer script calls and publishes than messages.
    expect(calls('xadd')).toBe(count);
    // By EVALSHA: the master has the script since the message before the burst, so its source is not sent again.
    expect(calls('eval')).toBe(0);
    expect(calls('evalsha')).toBeGreaterThan(0);
    expect(calls('evalsha')).toBeLessThan(count / 4);
    expect(calls('spublish')).toBeLessThan(count / 4);
    // Each acknowledged once, in the order sent, under increasing ids of the room's slot.
    const ids = acks.map((m) => m.id);
    expect(alice.received.filter((m) => m.type === 'message' && m.ref?.startsWith('burst-') === true)).toHaveLength(count);
    expect(acks.map((m) => m.text)).toEqual(texts);
    expect(ids).toEqual([...new Set(ids)].sort((x, y) => x - y));
    expect(ids[0]).toBeGreaterThan(first);
    expect(new Set(ids.map((id) => splitId(id).slot))).toEqual(new Set([keySlot(streamOf(room))]));
    // The stream holds each under its own id, in order; the other gateway's member heard them all, in order, once.
    const streamIds = (await suite.cluster.cli(master, ['XRANGE', streamOf(room), '-', '+'])).split('\n').filter((line) => /^\d+-\d+$/.test(line));
    expect(streamIds).toEqual([first, ...ids].map((id) => `${id}-0`));
    const heard = bob.received.filter((m): m is Of<'message'> => m.type === 'message' && m.text.startsWith('burst'));
    expect(heard.map((m) => [m.id, m.text])).toEqual(acks.map((m) => [m.id, m.text]));
  }, 60_000);

  it("a room's message carries its history entry over the bus: the other gateway's history has every message without reading the room's stream for each", async () => {
    const { room, master, alice, bob } = await aliceAndBobIn('carry');
    await say(alice, room, 'before');

    const count = 30;
    const before = await commandCalls(master);
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push(await say(alice, room, `carried ${i}`));
    await bob.find('message', (m) => m.id === ids.at(-1), 10_000);
    const after = await commandCalls(master);
    const xrange = (after.get('xrange') ?? 0) - (before.get('xrange') ?? 0);
    // One by one, each heard by b as the next entry it lacks: b reads the stream in its sweep (once per heartbeat), not per message
    // (the old code read once a message). Half a read a message at most: on a loaded machine the test runs longer, with more sweeps.
    expect(xrange).toBeLessThan(count / 2);

    // b's own history (its SQLite, read without Redis: bob is in the room) holds each once, in order, under its id.
    bob.send({ type: 'history', room, limit: 100, ref: 'h' });
    const history = await bob.find('history', (h) => h.ref === 'h', 10_000);
    const carried = history.entries.filter((e) => e.kind === 'message' && e.text.startsWith('carried '));
    expect(carried.map((e) => [e.id, e.kind === 'message' ? e.text : ''])).toEqual(ids.map((id, i) => [id, `carried ${i}`]));
  }, 60_000);

  it("two gateways' members talking at once in a room: a third gateway's history gets every message once, in id order, reading the stream far less than once a message", async () => {
    const { masters, rooms } = await roomsOffShared('both', 1);
    const room = rooms[0]![0]!;
    const master = masters[0]!;
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const alice = await member(a, 'alice', [room]);
    const carol = await member(c, 'carol', [room]);
    const bob = await member(b, 'bob', [room]);
    await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'bob', 10_000);
    await carol.find('presence', (p) => p.event === 'join' && p.member.name === 'bob', 10_000);
    await say(alice, room, 'before a');
    await say(carol, room, 'before c');

    const rounds = 40;
    const before = await commandCalls(master);
    // Each round both say one at once: their publishes may reach b in either order.
    const ids: number[] = [];
    for (let i = 0; i < rounds; i++) ids.push(...(await Promise.all([say(alice, room, `a${i}`), say(carol, room, `c${i}`)])));
    const last = Math.max(...ids);
    await bob.find('message', (m) => m.id === last, 10_000);
    const after = await commandCalls(master);
    // The old code read twice a message (161 reads for 80). Half a read a message at most: an entry that comes ahead of the one before
    // it waits 20 ms for it, and on a loaded machine (CI: 26 reads) some wait longer and the stream is read, as it should be.
    expect((after.get('xrange') ?? 0) - (before.get('xrange') ?? 0)).toBeLessThan(ids.length / 2);

    bob.send({ type: 'history', room, limit: 200, ref: 'h' });
    const history = await bob.find('history', (h) => h.ref === 'h', 10_000);
    const said = history.entries.filter((e) => e.kind === 'message' && /^[ac]\d+$/.test(e.text)).map((e) => e.id);
    expect(said).toEqual([...ids].sort((x, y) => x - y));
  }, 90_000);

  it('a private conversation takes its ids in one slot of its own, both ways, and lives in the two sides’ own streams, none under {shared}', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const alice = await member(a, 'alice', ['lobby']);
    const bob = await member(b, 'bob', ['lobby']);
    await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'bob', 10_000);
    // Each gateway's directory holds the other's member (the roster is read from it) before either addresses the other.
    await until('b to know alice', async () => {
      bob.send({ type: 'roster', room: 'lobby', ref: 'r' });
      const roster = await bob.next('roster', (r) => r.ref === 'r', 2000).catch(() => undefined);
      return roster?.members.some((m) => m.name === 'alice') ? true : undefined;
    });
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const [from, to] = i % 2 === 0 ? [alice, 'bob'] : [bob, 'alice'];
      const ref = `p${i}`;
      from.send({ type: 'private', to, text: `psst ${i}`, ref });
      const ack = await from.find('private', (m) => m.ref === ref, 10_000);
      ids.push(ack.id);
    }
    // One counter for the conversation, whichever side sends: one slot, increasing in the order sent.
    expect(new Set(ids.map((id) => splitId(id).slot)).size).toBe(1);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    const streams: string[] = [];
    // Every key with an identity in its name, on every master (a replica holds the same keys).
    for (const node of suite.cluster.nodes.filter((n) => n.alive)) {
      if (!(await suite.cluster.cli(node, ['ROLE'])).startsWith('master')) continue;
      streams.push(...(await suite.cluster.cli(node, ['--scan', '--pattern', 'switchboard:*identity:*'])).split('\n').filter((key) => key !== ''));
    }
    // Each side's stream under its own tag, holding the whole conversation; nothing under {shared}.
    expect(streams.filter((key) => key.includes('{shared}'))).toEqual([]);
    expect(streams.filter((key) => /^switchboard:\{identity:[^}]+\}:log$/.test(key))).toHaveLength(2);
    for (const key of streams) expect((await suite.cluster.cli(await suite.cluster.masterOf(key), ['XLEN', key])).trim()).toBe('6');
    // Each side reads the conversation, in id order, on its own gateway.
    bob.send({ type: 'history', with: 'alice', ref: 'h' });
    const history = await bob.find('history', (h) => h.ref === 'h', 10_000);
    expect(history.entries.map((entry) => entry.id)).toEqual(ids);
  }, 60_000);

  it('messages sent in one write to two rooms on two masters, and privately, are acknowledged in the order sent', async () => {
    const { rooms } = await roomsOffShared('order', 1);
    const [roomA, roomB] = [rooms[0]![0]!, rooms[1]![0]!];
    const [a, b] = [await node('a'), await node('b')];
    const alice = await member(a, 'alice', [roomA, roomB]);
    const bob = await member(b, 'bob', [roomA]);
    await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'bob' && p.room === roomA, 10_000);
    await say(alice, roomA, 'warm a');
    await say(alice, roomB, 'warm b');

    const count = 60;
    // Rooms on two shards answer independently: the acknowledgements still come in the order sent.
    const burst: ClientMessage[] = Array.from({ length: count }, (_, i) =>
      i % 10 === 9
        ? { type: 'private', to: 'bob', text: `p${i}`, ref: `o${i}` }
        : { type: 'message', room: i % 3 === 0 ? roomB : roomA, text: `m${i}`, ref: `o${i}` },
    );
    alice.sendBytes(Buffer.concat(burst.map((m) => encodeMessage(m))));
    await alice.find('message', (m) => m.ref === `o${count - 2}`, 10_000);
    await alice.find('private', (m) => m.ref === `o${count - 1}`, 10_000);
    const acks = alice.received.filter((m) => (m.type === 'message' || m.type === 'private') && m.ref?.startsWith('o') === true);
    expect(acks.map((m) => ('ref' in m ? m.ref : undefined))).toEqual(burst.map((m) => ('ref' in m ? m.ref : undefined)));
    await bob.find('private', (m) => m.text === `p${count - 1}`, 10_000);
  }, 60_000);

  it('a slot counter that went back (a promoted replica without the last writes, Redis without its data) gives no id twice: each gateway goes on above what it has seen', async () => {
    const { masters, rooms } = await roomsOffShared('c', 1);
    const room = rooms[0]![0]!;
    const [a, b] = [await node('a'), await node('b')];
    const alice = await member(a, 'alice', [room]);
    const bob = await member(b, 'bob', [room]);
    await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'bob', 10_000);
    const first: number[] = [];
    for (let i = 0; i < 3; i++) first.push(await say(alice, room, `first-${i}`));
    // b has read them from the room's stream into its own history.
    await until('b to hold what a stored', async () => {
      const { body } = await api<{ entries: { id: number }[] }>(b, 'GET', `/api/history?room=${room}&limit=50`);
      return body.entries.some((entry) => entry.id === first.at(-1)) ? true : undefined;
    });
    // The slot's counter loses its last writes.
    await suite.cluster.cli(masters[0]!, ['SET', counterOf(room), '0']);
    const fromB = await say(bob, room, 'from b');
    const fromA = await say(alice, room, 'from a');
    expect(fromB).toBeGreaterThan(first.at(-1)!);
    expect(fromA).toBeGreaterThan(fromB);
    expect(splitId(fromA).slot).toBe(keySlot(streamOf(room)));
    // The counter is set on from there, and the stream holds every entry once, under its id.
    expect(Number((await suite.cluster.cli(masters[0]!, ['GET', counterOf(room)])).trim())).toBe(splitId(fromA).sequence);
    const streamIds = (await suite.cluster.cli(masters[0]!, ['XRANGE', streamOf(room), '-', '+'])).split('\n').filter((line) => /^\d+-0$/.test(line));
    expect(streamIds).toEqual([...first, fromB, fromA].map((id) => `${id}-0`));
  }, 60_000);

  it("a file's checksum reaches the other gateways' history through its streams, a room's and a private one's, and the room's next message keeps its id as its stream id", async () => {
    const { masters, rooms } = await roomsOffShared('d', 1);
    const room = rooms[0]![0]!;
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const alice = await member(a, 'alice', [room]);
    const bob = await member(b, 'bob', [room]);
    await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'bob', 10_000);
    const bytes = Buffer.from('a small file, one chunk\n'.repeat(20));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    for (const [transfer, target] of [
      [1, { room }],
      [2, { to: 'bob' }],
    ] as const) {
      alice.send({ type: 'file-offer', transfer, name: `f${transfer}.txt`, size: bytes.length, ...target });
      alice.send({ type: 'file-data', transfer, data: bytes });
      alice.send({ type: 'file-end', transfer, sha256, ref: `end${transfer}` });
      await alice.find('file-end', (e) => e.ref === `end${transfer}`, 10_000);
    }
    const after = await say(alice, room, 'after the files');
    // The room's stream: the checksum after the file, then the message under its own id.
    const streamIds = (await suite.cluster.cli(masters[0]!, ['XRANGE', streamOf(room), '-', '+'])).split('\n').filter((line) => /^\d+-\d+$/.test(line));
    expect(streamIds.at(-1)).toBe(`${after}-0`);
    expect(streamIds).toHaveLength(3);

    const fileOf = (entries: Of<'history'>['entries']): unknown => entries.find((entry) => entry.kind === 'file');
    // b, which served the room and bob's conversations, and c, which reads the room up for a newcomer.
    const carol = await member(c, 'carol', [room]);
    for (const [peer, ask] of [
      [bob, { room }],
      [bob, { with: 'alice' }],
      [carol, { room }],
    ] as const) {
      const file = await until(`the checksum in ${JSON.stringify(ask)}`, async () => {
        const ref = `h${Math.random()}`;
        peer.send({ type: 'history', ...ask, ref });
        const reply = await peer.find('history', (h) => h.ref === ref, 10_000);
        const entry = fileOf(reply.entries) as { sha256?: string } | undefined;
        return entry?.sha256 === undefined ? undefined : entry;
      });
      expect(file).toMatchObject({ kind: 'file', sha256 });
    }
  }, 60_000);

  it('reconnect with since across a failover of the rooms’ master: exactly the missed messages, in order, once (hello {since} for one room, history {after} for another)', async () => {
    const { rooms } = await roomsOffShared('f', 2);
    const [roomA, roomB] = rooms[0]!;
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const alice = await member(a, 'alice', [roomA!, roomB!]);
    const bob = await member(b, 'bob', [roomA!, roomB!]);
    await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'bob' && p.room === roomB, 10_000);

    const before: Record<string, number[]> = { [roomA!]: [], [roomB!]: [] };
    for (let i = 0; i < 5; i++) for (const room of [roomA!, roomB!]) before[room]!.push(await say(alice, room, `before-${room}-${i}`));
    // Bob keeps the last id he saw in each room, then goes away.
    const last = (room: string): number => {
      const seen = bob.received.filter((m): m is Of<'message'> => m.type === 'message' && m.room === room).map((m) => m.id);
      return seen.at(-1) ?? 0;
    };
    await bob.find('message', (m) => m.id === before[roomB!]!.at(-1), 10_000);
    const [sinceA, sinceB] = [last(roomA!), last(roomB!)];
    expect([sinceA, sinceB]).toEqual([before[roomA!]!.at(-1), before[roomB!]!.at(-1)]);
    bob.destroy();

    // kill -9 of the master holding both rooms' counters and streams; its replica takes over.
    const { killed, promoted } = await suite.cluster.killMaster(keySlot(streamOf(roomA!)));
    const after: Record<string, number[]> = { [roomA!]: [], [roomB!]: [] };
    for (let i = 0; i < 5; i++) for (const room of [roomA!, roomB!]) after[room]!.push(await say(alice, room, `after-${room}-${i}`));
    console.log(`killed master :${killed.port}, promoted :${promoted.port}; ids after the failover: ${JSON.stringify(after)}`);
    // The promoted master holds the rooms' streams (what went before the kill, acknowledged once a replica had it, and what came after).
    expect((await suite.cluster.cli(promoted, ['XLEN', streamOf(roomA!)])).trim()).toBe('10');
    for (const room of [roomA!, roomB!]) expect(after[room]![0]).toBeGreaterThan(before[room]!.at(-1)!);

    // Back on a gateway that never served the rooms: the hello's room from since, the other room by history after.
    const back = await suite.tcpPeer(c.tcpPort);
    await back.hello('bob', { room: roomA!, since: sinceA });
    const replay = await back.find('history', (h) => h.room === roomA, 10_000);
    expect(replay.more).toBe(false);
    expect(replay.entries.map((entry) => entry.id)).toEqual(after[roomA!]);
    back.send({ type: 'history', room: roomB!, after: sinceB, ref: 'missed' });
    const missed = await back.find('history', (h) => h.ref === 'missed', 10_000);
    expect(missed.entries.map((entry) => entry.id)).toEqual(after[roomB!]);
    expect(missed.entries.map((entry) => ('text' in entry ? entry.text : ''))).toEqual(after[roomB!]!.map((_, i) => `after-${roomB!}-${i}`));
    // And live from here on, nothing repeated.
    const next = await say(alice, roomA!, 'live');
    await back.find('message', (m) => m.id === next, 10_000);
    await sleep(300);
    expect(back.received.filter((m): m is Of<'message'> => m.type === 'message').map((m) => m.id)).toEqual([next]);
    // Three masters with a replica each again, for the next tests.
    await suite.cluster.restartNode(killed);
  }, 120_000);
  // c reads on through the failover (its read-up is retried for three --cluster-timeout-ms), or, given 0.3 s, gives up and says so.
  // Both gateways beat at the product's default (4 s, lost after 6 s) here: with the suite's 2 s, a gateway whose
  // client waits out the failover (about 3 s here) for its heartbeat can be swept as lost by the other, which is not what this tests.
  const defaultBeat = ['--node-heartbeat-ms', '4000'];
  const title = 'hello {since} on a gateway whose read of the room’s stream meets its master being killed';
  it(
    `${title} (reads on): every missed entry, or CLUSTER_UNAVAILABLE and then every one by history {after}; never a short page`,
    () => sinceThroughFailover(defaultBeat, defaultBeat),
    120_000,
  );
  // c's first SSUBSCRIBE of the room goes to the dead master and outlives its 300 ms deadline: the retry must wait for it
  // (and, when it fails, subscribe again), not take the channel for heard; else the member hears nothing live (issue 25).
  it(
    `${title} (gives up): CLUSTER_UNAVAILABLE, then every missed entry by history {after}, then live`,
    () => sinceThroughFailover(['--cluster-timeout-ms', '300', ...defaultBeat], defaultBeat),
    120_000,
  );

  async function sinceThroughFailover(cArgs: string[], aArgs: string[]): Promise<void> {
    const room = await roomWithReplica(`g${cArgs.length}-`);
    const [a, c] = [await suite.gateway('a', aArgs), await suite.gateway('c', cArgs)];
    const alice = await member(a, 'alice', [room]);
    const said: number[] = [];
    for (let i = 0; i < 5; i++) said.push(await say(alice, room, `said-${i}`));
    const since = said[0]!;
    const missed = said.slice(1);

    // c never served the room: its hello's room is read up from the stream while the stream's master is dead (c's map of the cluster still names it).
    const master = await suite.cluster.masterOf(keySlot(streamOf(room)));
    const failover = suite.cluster.killMaster(keySlot(streamOf(room)));
    await until('the master to be killed', () => (master.alive ? undefined : true), 5_000);
    const back = await suite.tcpPeer(c.tcpPort);
    back.send({ type: 'hello', v: 1, name: 'bob', room, since, ref: 'back' });
    const replay = await until(
      'the replay, or an error',
      () => back.received.find((m): m is Of<'history'> | Of<'error'> => (m.type === 'history' || m.type === 'error') && m.ref === 'back'),
      30_000,
    );
    const { killed } = await failover;
    console.log(`the replay during the failover: ${replay.type === 'history' ? `history of ${replay.entries.length}` : `error ${replay.code}`}`);
    if (replay.type === 'history') {
      expect(replay.entries.map((entry) => entry.id)).toEqual(missed);
      expect(replay.more).toBe(false);
    } else {
      expect(replay.code).toBe('CLUSTER_UNAVAILABLE');
      // Counted as every error sent is (bob's hello is c's first request: this is its only one so far).
      expect(await errorsSent(c, 'CLUSTER_UNAVAILABLE')).toBe(1);
      // In the room all the same: its history comes whole once the promoted master answers.
      const page = await until(
        'the missed messages by history {after}',
        async () => {
          const ref = `after-${Math.random()}`;
          back.send({ type: 'history', room, after: since, ref });
          const reply = await until(
            'an answer',
            () => back.received.find((m): m is Of<'history'> | Of<'error'> => (m.type === 'history' || m.type === 'error') && m.ref === ref),
            10_000,
          );
          if (reply.type === 'error') expect(reply.code).toBe('CLUSTER_UNAVAILABLE');
          return reply.type === 'history' ? reply : undefined;
        },
        20_000,
      );
      expect(page.entries.map((entry) => entry.id)).toEqual(missed);
    }
    // Live from here on.
    const next = await say(alice, room, 'live');
    await back
      .find('message', (m) => m.id === next, 15_000)
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\ngateway c said:\n${c.output()}\ngateway a said:\n${a.output()}`);
      });
    // Three masters with a replica each again, for the next test.
    await suite.cluster.restartNode(killed);
  }
});
