import { afterEach, describe, expect, it } from 'vitest';
import type { ServerMessage } from '@switchboard/protocol';
import { api } from '../helpers/gateway.js';
import { spawnClusterNode, type ClusterNodeProcess } from '../helpers/cluster-node.js';
import { busIn } from '../helpers/bus-metrics.js';
import { Peer, sleep } from '../helpers/peer.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

/**
 * History by room (issue 25) with real gateway processes on a real redis-server: each room's
 * messages in a stream of its own, and a gateway reads into its SQLite only the rooms it serves,
 * reading a room's earlier history when it starts serving it. Loopback only; every wait is bounded.
 */
let redis: RedisProcess | undefined;
const gateways: ClusterNodeProcess[] = [];
const peers: Peer[] = [];

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(gateways.splice(0).map((g) => g.dispose()));
  await redis?.close();
  redis = undefined;
});

type Of<K extends ServerMessage['type']> = Extract<ServerMessage, { type: K }>;

async function node(id: string): Promise<ClusterNodeProcess> {
  const gateway = await spawnClusterNode(redis!.url, id, { args: ['--metrics-public'] });
  gateways.push(gateway);
  return gateway;
}

async function member(gateway: ClusterNodeProcess, name: string, extra: { room?: string; since?: number } = {}): Promise<Peer> {
  const peer = await Peer.tcp(gateway.tcpPort);
  peers.push(peer);
  await peer.hello(name, extra);
  return peer;
}

/** Sends `count` messages to `room` one after the other, each waiting for its acknowledgement: their ids. */
async function say(peer: Peer, room: string, prefix: string, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    peer.send({ type: 'message', room, text: `${prefix}${i}`, ref: `${prefix}${i}` });
    ids.push((await peer.next('message', (m) => m.ref === `${prefix}${i}`, 10_000)).id);
  }
  return ids;
}

/** Ids of a room's history as `gateway`'s REST API answers it. */
async function restHistory(gateway: ClusterNodeProcess, room: string): Promise<number[]> {
  const { status, body } = await api<{ entries: { id: number }[] }>(gateway, 'GET', `/api/history?room=${room}&limit=500`);
  expect(status).toBe(200);
  return body.entries.map((entry) => entry.id);
}

/** Ids of a room's entries in what `gateway` keeps (the operator's view across rooms: read from its own history only). */
async function keptHere(gateway: ClusterNodeProcess, room: string): Promise<number[]> {
  const { status, body } = await api<{ entries: { id: number; room?: string }[] }>(gateway, 'GET', '/api/history?limit=500');
  expect(status).toBe(200);
  return body.entries.filter((entry) => entry.room === room).map((entry) => entry.id);
}

/** Ids of the private entries `gateway` keeps. */
async function keptPrivate(gateway: ClusterNodeProcess): Promise<number[]> {
  const { body } = await api<{ entries: { id: number; kind: string }[] }>(gateway, 'GET', '/api/history?limit=500');
  return body.entries.filter((entry) => entry.kind === 'private').map((entry) => entry.id);
}

/** The ids of the replay (`hello {since}`) or history reply `peer` got for `room`. */
async function historyIds(peer: Peer, room: string, predicate: (h: Of<'history'>) => boolean = () => true): Promise<number[]> {
  const reply = await peer.next('history', (h) => h.room === room && predicate(h), 10_000);
  expect(reply.more).toBe(false);
  return reply.entries.map((entry) => entry.id);
}

describe('several gateways on one Redis: history by room', () => {
  it('a gateway with no member in a room stores none of its messages; a member joining it there gets the earlier history (hello {since}, join, history)', async () => {
    redis = await startRedis();
    const [a, c] = [await node('a'), await node('c')];
    const alice = await member(a, 'alice', { room: 'kitchen' });
    const carol = await member(c, 'carol');
    const quiet = await busIn(c);
    const said = await say(alice, 'kitchen', 'k', 30);
    await sleep(500); // what c would have read has long arrived by now
    expect(await keptHere(c, 'kitchen')).toEqual([]);
    expect(await busIn(c)).toBe(quiet);
    expect(await restHistory(a, 'kitchen')).toEqual(said);

    // hello {since} on the gateway that never served the room: everything after `since`, once.
    const dave = await member(c, 'dave', { room: 'kitchen', since: said[9] });
    expect(await historyIds(dave, 'kitchen')).toEqual(said.slice(10));
    // A join there (c serves the room now): the newest on join, then the whole room on request.
    carol.send({ type: 'join', room: 'kitchen', ref: 'j' });
    expect(await historyIds(carol, 'kitchen', (h) => h.ref === 'j')).toEqual(said);
    alice.send({ type: 'message', room: 'kitchen', text: 'live', ref: 'live' });
    const live = await alice.next('message', (m) => m.ref === 'live');
    await carol.next('message', (m) => m.id === live.id);
    carol.send({ type: 'history', room: 'kitchen', limit: 100, ref: 'h' });
    expect(await historyIds(carol, 'kitchen', (h) => h.ref === 'h')).toEqual([...said, live.id]);
    expect(await keptHere(c, 'kitchen')).toEqual([...said, live.id]);
  }, 60_000);

  it('history of a room read on a gateway that does not serve it (GET /api/history?room=, history {room} by a member not in it) reads the room up first', async () => {
    redis = await startRedis();
    const [a, c] = [await node('a'), await node('c')];
    const alice = await member(a, 'alice', { room: 'pantry' });
    const carol = await member(c, 'carol');
    const first = await say(alice, 'pantry', 'p', 5);
    await sleep(300);
    expect(await keptHere(c, 'pantry')).toEqual([]);
    expect(await restHistory(c, 'pantry')).toEqual(first);
    const more = await say(alice, 'pantry', 'q', 5);
    carol.send({ type: 'history', room: 'pantry', ref: 'h' });
    expect(await historyIds(carol, 'pantry', (h) => h.ref === 'h')).toEqual([...first, ...more]);
    const last = await say(alice, 'pantry', 'r', 2);
    expect(await restHistory(c, 'pantry')).toEqual([...first, ...more, ...last]);
  }, 60_000);

  it('a gateway added under load serves its room complete (no gap, no duplicate) and stores nothing of the rooms it does not serve', async () => {
    redis = await startRedis();
    const [a, b] = [await node('a'), await node('b')];
    const alice = await member(a, 'alice', { room: 'busy' });
    const bob = await member(b, 'bob', { room: 'busy' });
    await alice.next('presence', (p) => p.event === 'join' && p.member.name === 'bob');
    alice.send({ type: 'join', room: 'elsewhere', ref: 'e' });
    await alice.next('roster', (r) => r.ref === 'e');

    // Messages flow in both rooms while c starts and a member joins "busy" there.
    const flow = { stop: false };
    const flowing = (async () => {
      const ids: number[] = [];
      // Paced, so that the flow outlasts c's start on a busy machine and c's history (at most 500 read back) holds it all.
      for (let round = 0; !flow.stop && round < 240; round++) {
        ids.push(...(await say(alice, 'busy', `a${round}-`, 1)), ...(await say(bob, 'busy', `b${round}-`, 1)));
        await say(alice, 'elsewhere', `e${round}-`, 1);
        await sleep(25);
      }
      return ids;
    })();
    await sleep(300);
    const c = await node('c');
    const carol = await member(c, 'carol', { room: 'busy' });
    // Still flowing after the join: carol hears the flow live.
    await carol.next('message', (m) => m.room === 'busy', 10_000);
    flow.stop = true;
    const said = await flowing;
    said.push(...(await say(alice, 'busy', 'final', 1)));
    await carol.next('message', (m) => m.id === said.at(-1), 10_000);
    const stored = await keptHere(c, 'busy');
    expect(stored).toEqual(said);
    carol.send({ type: 'history', room: 'busy', limit: 500, ref: 'h' });
    expect(await historyIds(carol, 'busy', (h) => h.ref === 'h')).toEqual(said);
    expect(await keptHere(c, 'elsewhere')).toEqual([]);
  }, 90_000);

  it('a private conversation is kept by the gateways of its two sides only; its member signing in again on a third gets it before anything it asks', async () => {
    redis = await startRedis();
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const alice = await member(a, 'alice');
    const bob = await Peer.tcp(b.tcpPort);
    peers.push(bob);
    const { token } = await bob.hello('bob');
    await member(c, 'carol');
    await alice.next('presence', (p) => p.event === 'join' && p.member.name === 'carol');
    const sent: number[] = [];
    for (let i = 0; i < 5; i++) {
      alice.send({ type: 'private', to: 'bob', text: `psst ${i}`, ref: `p${i}` });
      sent.push((await alice.next('private', (m) => m.ref === `p${i}`)).id);
    }
    await bob.next('private', (m) => m.id === sent.at(-1));
    await sleep(500);
    expect(await keptPrivate(b)).toEqual(sent);
    expect(await keptPrivate(c)).toEqual([]);

    // Bob signs in on c with his token (his session on b gives way): c never kept a word of it.
    // (b frees the name a moment after it gives way: a hello in that moment is NAME_TAKEN, and is made again.)
    let reply: Of<'history'> | undefined;
    for (let attempt = 0; reply === undefined && attempt < 20; attempt++) {
      const back = await Peer.tcp(c.tcpPort);
      peers.push(back);
      back.send({ type: 'hello', v: 1, name: 'bob', token });
      back.send({ type: 'history', private: true, ref: 'h' });
      let answer: ServerMessage | undefined;
      for (const deadline = Date.now() + 5_000; answer === undefined && Date.now() < deadline; await sleep(20))
        answer = back.received.find((m) => m.type === 'welcome' || (m.type === 'error' && m.code === 'NAME_TAKEN'));
      if (answer?.type === 'welcome') reply = await back.next('history', (h) => h.ref === 'h');
      else await sleep(200);
    }
    if (reply === undefined) throw new Error('bob could not sign in again on c');
    expect(reply.entries.map((entry) => entry.id)).toEqual(sent);
  }, 60_000);

  it('reconnect with since after a gateway is killed: every message after since exactly once, from a gateway that never served the room', async () => {
    redis = await startRedis();
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const alice = await member(a, 'alice', { room: 'ops' });
    const bob = await member(b, 'bob', { room: 'ops' });
    await alice.next('presence', (p) => p.event === 'join' && p.member.name === 'bob');
    const before = await say(alice, 'ops', 'x', 10);
    await bob.next('message', (m) => m.id === before.at(-1));
    const since = before[4]!;
    await b.stop('SIGKILL');
    const after = await say(alice, 'ops', 'y', 10);
    const back = await member(c, 'bob2', { room: 'ops', since });
    expect(await historyIds(back, 'ops')).toEqual([...before.slice(5), ...after]);
    alice.send({ type: 'message', room: 'ops', text: 'z', ref: 'z' });
    const z = await alice.next('message', (m) => m.ref === 'z');
    await back.next('message', (m) => m.id === z.id);
    await sleep(300);
    const seen = back.received.filter((m): m is Of<'message'> => m.type === 'message').map((m) => m.id);
    expect(seen).toEqual([z.id]);
  }, 60_000);
});
