import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from '../../../test/helpers/redis.js';
import { startRedisCluster, type RedisClusterProcess } from '../../../test/helpers/redis-cluster.js';
import type { ClusterNode } from '../src/cluster/cluster.js';
import { InProcessCluster } from '../src/cluster/in-process-cluster.js';
import { RedisCluster } from '../src/cluster/redis-cluster.js';
import type { Hub } from '../src/hub/hub.js';
import type { Hears } from '../src/hub/device.js';
import { MemoryLink, connect, settle as wait, testHub } from './memory-link.js';

/**
 * The cluster contract: several hubs sharing one cluster implementation behave as one chat.
 * Each implementation of the seam runs these same scenarios: it hands out one ClusterNode per
 * hub, and each hub keeps its own history store (filled through the cluster's log), as
 * separate gateway processes do.
 */
interface Implementation {
  node(id: string): Promise<ClusterNode>;
  /** A node dies without a word (kill -9). */
  lose(hub: Hub): Promise<void>;
  /** How long its traffic takes to cross nodes, at most. */
  settleMs: number;
}

let redis: RedisProcess | undefined;
/** A real Redis Cluster (three masters, three replicas): the same contract with keys and channels spread over its shards. */
let redisCluster: RedisClusterProcess | undefined;
let clusterNumber = 0;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function onRedis(url: () => string): () => Implementation {
  return () => {
    // Each test its own key prefix on the one Redis: clusters that cannot see each other.
    const prefix = `contract${++clusterNumber}:`;
    return {
      node: (id) =>
        RedisCluster.start({ url: url(), nodeId: id, heartbeatMs: 400, timeoutMs: 1000, historyRetention: 1000, lastHistoryId: 0, log: quiet, prefix }),
      // Its connections cut with no goodbye, as a killed process's would be.
      lose: async (hub) => (hub.node as RedisCluster).crash(),
      // Generous: the machine running the suite may be loaded (a fixed wait too short there fails at random).
      settleMs: 150,
    };
  };
}

const implementations: [string, () => Implementation][] = [
  [
    'in-process',
    () => {
      const cluster = new InProcessCluster();
      return { node: async (id) => cluster.node(id), lose: async (hub) => cluster.lose(hub.node.nodeId), settleMs: 5 };
    },
  ],
  ['redis', onRedis(() => redis!.url)],
  ['redis cluster', onRedis(() => redisCluster!.url)],
];

// The cluster takes several seconds to form: started alongside the single Redis.
beforeAll(async () => {
  [redis, redisCluster] = await Promise.all([startRedis({ appendfsync: 'everysec' }), startRedisCluster()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.close(), redisCluster?.stop()]);
});

describe.each(implementations)('cluster contract: %s', (_name, makeCluster) => {
  let hubs: Hub[] = [];
  let implementation: Implementation;
  afterEach(async () => {
    await Promise.all(hubs.map((h) => h.close()));
    hubs = [];
  });

  /** Traffic crosses nodes within the implementation's time (at least `ms`). */
  const settle = (ms = 0): Promise<void> => wait(Math.max(ms, implementation.settleMs));

  /** Waits until `check` holds, up to two seconds (or `ms`). */
  async function until(check: () => boolean, ms = 2000): Promise<void> {
    for (const deadline = Date.now() + ms; !check(); await wait(5)) if (Date.now() > deadline) throw new Error('timed out waiting');
  }

  /** Three nodes, one cluster, each with its own history. */
  async function threeNodes(): Promise<[Hub, Hub, Hub]> {
    implementation = makeCluster();
    const nodes = await Promise.all(['a', 'b', 'c'].map((id) => implementation.node(id)));
    hubs = nodes.map((cluster) => testHub({ cluster }));
    await settle();
    return hubs as [Hub, Hub, Hub];
  }

  it('members on three nodes chat in one room, each message once, with increasing ids', async () => {
    const [a, b, c] = await threeNodes();
    const alice = connect(a, { name: 'alice' });
    const bob = connect(b, { name: 'bob' }, 'ws');
    const device = connect(c); // a plain device: no hello
    await settle(80); // past the hello window
    alice.send({ type: 'message', text: 'hi from a', ref: 'r1' });
    // One after the other: sent at the same moment on two nodes, two messages may reach members in either order (their ids say which was stored first).
    // A fresh cluster's first append may take most of a second: wait for the message to arrive, not for a fixed time.
    await until(() => bob.link.of('message').length === 1 && alice.link.of('message').length === 1, 10_000);
    bob.send({ type: 'message', text: 'hi from b' });
    await until(() => alice.link.of('message').length === 2 && bob.link.of('message').length === 2 && device.link.lines().length >= 2, 10_000);
    await settle(); // nothing more arrives
    for (const client of [alice, bob]) expect(client.link.of('message').map((m) => m.text)).toEqual(['hi from a', 'hi from b']);
    expect(alice.link.of('message')[0]!.ref).toBe('r1'); // the sender's copy carries its ref
    expect(bob.link.of('message')[0]!.ref).toBeUndefined(); // others' copies do not
    expect(device.link.lines()).toEqual(expect.arrayContaining(['alice: hi from a', 'bob: hi from b']));
    const ids = alice.link.of('message').map((m) => m.id);
    expect(ids[1]).toBeGreaterThan(ids[0]!);
  });

  it('keeps names unique across nodes, frees them when their member leaves', async () => {
    const [a, , c] = await threeNodes();
    const alice = connect(a, { name: 'alice' });
    await settle();
    const impostor = connect(c, { name: 'ALICE', ref: 'h1' });
    await settle();
    expect(impostor.link.of('error')).toEqual([expect.objectContaining({ code: 'NAME_TAKEN', ref: 'h1' })]);
    a.disconnect(alice.member, 'quit');
    await settle(); // the name is freed as the node hears the member leave
    impostor.send({ type: 'hello', v: 1, name: 'ALICE', ref: 'h2' });
    await settle();
    expect(impostor.link.of('welcome')).toEqual([expect.objectContaining({ name: 'ALICE', ref: 'h2' })]);
  });

  it('rosters and room lists span the nodes; a member gone from one node leaves every roster', async () => {
    const [a, b, c] = await threeNodes();
    const alice = connect(a, { name: 'alice' });
    connect(b, { name: 'bob' });
    const carol = connect(c, { name: 'carol' });
    await settle();
    carol.send({ type: 'roster', ref: 'q' });
    carol.send({ type: 'rooms' });
    await settle();
    const roster = carol.link.of('roster').find((r) => r.ref === 'q')!;
    expect(roster.members.map((m) => m.name).sort()).toEqual(['alice', 'bob', 'carol']);
    expect(carol.link.of('rooms').at(-1)!.rooms).toEqual([{ name: 'lobby', members: 3 }]);
    a.disconnect(alice.member, 'quit');
    await settle();
    expect(carol.link.of('presence').at(-1)).toEqual(expect.objectContaining({ event: 'leave', reason: 'quit' }));
    carol.send({ type: 'roster', ref: 'q2' });
    await settle();
    expect(
      carol.link
        .of('roster')
        .find((r) => r.ref === 'q2')!
        .members.map((m) => m.name)
        .sort(),
    ).toEqual(['bob', 'carol']);
  });

  it('devices hear devices on every node only when they asked; an answer to a device reaches no device', async () => {
    const [a, b, c] = await threeNodes();
    const device = (hub: Hub, name: string, hears: Hears) => {
      // A device of a line listener, as the hub sees it: it hears what `hears` says, and is told nothing of its framing.
      const link = new MemoryLink();
      const wire = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
      const member = hub.connect(link, { device: { origin: { framing: 'line', listener: 'l1' }, hears, wire, name, room: 'lobby' } })!;
      return { link, say: (text: string) => hub.receiveMessage(member, { type: 'message', text }, text.length) };
    };
    const robot1 = device(a, 'robot1', 'people');
    const alice = connect(a, { name: 'alice' });
    const robot2 = device(b, 'robot2', 'people');
    const bob = connect(b, { name: 'bob' });
    const echo = device(c, 'echo', 'everyone');
    await settle(80);
    const heard = (link: MemoryLink) => link.of('message').map((m) => `${m.from}: ${m.text}`);

    robot1.say('status ok');
    await settle();
    echo.say('status ok'); // what it heard last was a device's: its answer reaches people only
    await settle();
    alice.send({ type: 'message', text: 'go' });
    await settle();
    expect(heard(alice.link)).toEqual(['robot1: status ok', 'echo: status ok', 'alice: go']);
    expect(heard(bob.link)).toEqual(['robot1: status ok', 'echo: status ok', 'alice: go']);
    expect(heard(robot2.link)).toEqual(['alice: go']);
    expect(heard(robot1.link)).toEqual(['alice: go']);
    expect(heard(echo.link)).toEqual(['robot1: status ok', 'alice: go']);
    // Having heard a person last, what the echo says is a device's again: devices that hear everyone get it, the others do not.
    echo.say('go');
    await settle();
    expect(heard(robot2.link)).toEqual(['alice: go']);
    expect(heard(bob.link).at(-1)).toBe('echo: go');
  });

  it('private messages reach a member on another node, and a plain device as a line', async () => {
    const [a, b, c] = await threeNodes();
    const alice = connect(a, { name: 'alice' });
    const bob = connect(b, { name: 'bob' });
    const device = connect(c);
    await settle(80);
    alice.send({ type: 'private', to: 'BOB', text: 'psst', ref: 'p1' });
    alice.send({ type: 'private', to: device.member.name, text: 'status?' });
    await settle();
    expect(bob.link.of('private')).toEqual([expect.objectContaining({ from: 'alice', to: 'bob', text: 'psst' })]);
    expect(alice.link.of('private').map((p) => p.ref)).toEqual(['p1', undefined]);
    expect(device.link.lines()).toContain('[private] alice: status?');
  });

  it('an operator on one node kicks and messages a member on another', async () => {
    const [a, b, c] = await threeNodes();
    const alice = connect(a, { name: 'alice' });
    const bob = connect(b, { name: 'bob' });
    await settle();
    expect(await c.tell(alice.member.id, 'hello from ops')).toBe(true);
    expect(await c.kick(alice.member.id, 'testing')).toBe(true);
    expect(await c.kick('m999', 'nobody')).toBe(false);
    await settle();
    expect(alice.link.of('notice').map((n) => n.text)).toEqual(['hello from ops', 'You were kicked by an administrator: testing']);
    expect(alice.link.ended).toBe(true);
    expect(bob.link.of('presence').at(-1)).toEqual(expect.objectContaining({ event: 'leave', reason: 'kicked' }));
    expect(a.members.has(alice.member.id)).toBe(false);
  });

  it('a file crosses nodes whole; the sender gets the confirmation', async () => {
    const [a, b] = await threeNodes();
    const alice = connect(a, { name: 'alice' });
    const bob = connect(b, { name: 'bob' });
    await settle();
    const bytes = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    alice.send({ type: 'file-offer', transfer: 7, name: 'data.bin', size: bytes.length, ref: 'f1' });
    for (let at = 0; at < bytes.length; at += 65536) alice.send({ type: 'file-data', transfer: 7, data: bytes.subarray(at, at + 65536) });
    alice.send({ type: 'file-end', transfer: 7, sha256, ref: 'f2' });
    // 200 kB through Redis: on a loaded machine it takes longer than one settle.
    await until(() => bob.link.of('file-end').length > 0 && alice.link.of('file-end').length > 0);
    const offer = bob.link.of('file-offer')[0]!;
    expect(offer).toEqual(expect.objectContaining({ name: 'data.bin', size: bytes.length, from: 'alice' }));
    const received = bob.link.of('file-data').filter((d) => d.transfer === offer.transfer);
    expect(
      createHash('sha256')
        .update(Buffer.concat(received.map((d) => d.data)))
        .digest('hex'),
    ).toBe(sha256);
    expect(bob.link.of('file-end')).toEqual([{ type: 'file-end', transfer: offer.transfer, sha256 }]);
    expect(alice.link.of('file-offer')[0]!.ref).toBe('f1');
    expect(alice.link.of('file-end')).toEqual([{ type: 'file-end', transfer: offer.transfer, sha256, ref: 'f2' }]);
  });

  it('history written on one node is read on another, private entries only by their owners', async () => {
    const [a, b, c] = await threeNodes();
    const alice = connect(a, { name: 'alice' });
    const bob = connect(b, { name: 'bob' });
    const eve = connect(c, { name: 'eve' });
    await settle();
    alice.send({ type: 'message', text: 'public' });
    alice.send({ type: 'private', to: 'bob', text: 'secret' });
    await settle();
    bob.send({ type: 'history', private: true, ref: 'hb' });
    eve.send({ type: 'history', private: true, ref: 'he' });
    eve.send({ type: 'history', room: 'lobby', ref: 'hr' });
    await settle();
    const reply = (client: typeof bob, ref: string) => client.link.of('history').find((h) => h.ref === ref)!;
    expect(reply(bob, 'hb').entries.map((e) => ('text' in e ? e.text : ''))).toEqual(['secret']);
    expect(reply(eve, 'he').entries).toEqual([]);
    expect(reply(eve, 'hr').entries.map((e) => ('text' in e ? e.text : ''))).toEqual(['public']);
  });

  it('a node that dies: its members leave every roster with reason node-lost, their names are free, the rest chat on', async () => {
    const [a, b, c] = await threeNodes();
    const alice = connect(a, { name: 'alice' });
    connect(b, { name: 'bob' });
    const carol = connect(c, { name: 'carol' });
    await settle();
    await implementation.lose(b);
    hubs = [a, c];
    await settle(1000); // past 1.5 heartbeats and a sweep
    for (const client of [alice, carol]) {
      expect(client.link.of('presence').filter((p) => p.event === 'leave')).toEqual([
        expect.objectContaining({ member: expect.objectContaining({ name: 'bob' }), reason: 'node-lost' }),
      ]);
    }
    carol.send({ type: 'roster', ref: 'r' });
    const newBob = connect(c, { name: 'bob', ref: 'h' });
    alice.send({ type: 'message', text: 'still here' });
    await settle();
    expect(
      carol.link
        .of('roster')
        .find((r) => r.ref === 'r')!
        .members.map((m) => m.name)
        .sort(),
    ).toEqual(['alice', 'carol']);
    expect(newBob.link.of('welcome')).toEqual([expect.objectContaining({ name: 'bob', ref: 'h' })]);
    expect(carol.link.of('message').map((m) => m.text)).toEqual(['still here']);
  });

  it('a node hears a room only while it has a member in it; a member hears what is said right after its join is answered', async () => {
    implementation = makeCluster();
    const nodes = await Promise.all(['a', 'b', 'c'].map((id) => implementation.node(id)));
    // The rooms of the room events each node's hub is handed by the cluster.
    const heard = new Map<string, string[]>();
    for (const node of nodes) {
      const rooms: string[] = [];
      heard.set(node.nodeId, rooms);
      const serve = node.bus.serve.bind(node.bus);
      node.bus.serve = (handlers) => {
        serve({
          ...handlers,
          room: (event) => {
            rooms.push(event.room);
            handlers.room(event);
          },
        });
      };
    }
    hubs = nodes.map((cluster) => testHub({ cluster }));
    const [a, b, c] = hubs as [Hub, Hub, Hub];
    const kitchen = (rooms: string[]): string[] => rooms.filter((room) => room === 'kitchen');
    const alice = connect(a, { name: 'alice', room: 'kitchen' });
    const bob = connect(b, { name: 'bob', room: 'kitchen' });
    const carol = connect(c, { name: 'carol' });
    await settle();
    alice.send({ type: 'message', text: 'one' });
    await settle();
    expect(bob.link.of('message').map((m) => m.text)).toEqual(['one']);
    expect(kitchen(heard.get('c')!)).toEqual([]); // no join, no message: c has no member there
    expect(kitchen(heard.get('b')!).length).toBeGreaterThan(0);

    carol.send({ type: 'join', room: 'kitchen', ref: 'j' });
    await until(() => carol.link.of('roster').some((r) => r.ref === 'j'));
    bob.send({ type: 'message', text: 'two' }); // at once, once carol's join is answered
    await settle();
    expect(carol.link.of('message').map((m) => m.text)).toEqual(['two']);

    carol.send({ type: 'leave', room: 'kitchen', ref: 'l' });
    await until(() => carol.link.of('presence').some((p) => p.ref === 'l'));
    await settle();
    const before = heard.get('c')!.length;
    alice.send({ type: 'message', text: 'three' });
    await settle();
    expect(bob.link.of('message').map((m) => m.text)).toEqual(['one', 'two', 'three']);
    expect(heard.get('c')!.length).toBe(before); // the last member left: c hears the room no more
  });

  it('an operator message to everyone reaches every node, and says which nodes did not answer', async () => {
    const [a, b, c] = await threeNodes();
    const clients = [connect(a, { name: 'alice' }), connect(b, { name: 'bob' }), connect(c, { name: 'carol' })];
    await settle();
    expect(await a.broadcast('maintenance at noon')).toEqual({ delivered: 3, unanswered: [] });
    await settle();
    for (const client of clients) expect(client.link.of('notice').map((n) => n.text)).toEqual(['maintenance at noon']);
  });
});
