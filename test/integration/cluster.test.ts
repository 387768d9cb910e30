import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES, type ServerMessage } from '@switchboard/protocol';
import { api } from '../helpers/gateway.js';
import { spawnClusterNode, type ClusterNodeProcess } from '../helpers/cluster-node.js';
import { Peer, sleep } from '../helpers/peer.js';
import { until } from '../helpers/until.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

/**
 * Several gateway processes on one real redis-server (issue 13): one chat across them, a node
 * killed with SIGKILL, Redis stopped and started again. Loopback only; every wait is bounded.
 */
const HEARTBEAT_MS = 1000;

let redis: RedisProcess | undefined;
const gateways: ClusterNodeProcess[] = [];
const peers: Peer[] = [];

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(gateways.splice(0).map((g) => g.dispose()));
  await redis?.close();
  redis = undefined;
});

async function node(id: string, extra: string[] = []): Promise<ClusterNodeProcess> {
  const gateway = await spawnClusterNode(redis!.url, id, {
    heartbeatMs: HEARTBEAT_MS,
    args: ['--hello-timeout-ms', '150', '--max-file-bytes', String(8 * 1024 * 1024), ...extra],
  });
  gateways.push(gateway);
  return gateway;
}

async function member(peer: Promise<Peer>, name?: string): Promise<Peer> {
  const connected = await peer;
  peers.push(connected);
  if (name !== undefined) await connected.hello(name);
  return connected;
}

type Of<K extends ServerMessage['type']> = Extract<ServerMessage, { type: K }>;

/** Acknowledged ids that a node's history does not hold, after giving its replica up to 3 s to catch up. */
async function missingFromHistory(gateway: { httpUrl: string }, acknowledged: number[]): Promise<number[]> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const history = await api<{ entries: { id: number }[] }>(gateway, 'GET', '/api/history?room=lobby&limit=500');
    const stored = new Set(history.body.entries.map((entry) => entry.id));
    const missing = acknowledged.filter((id) => !stored.has(id));
    if (missing.length === 0 || Date.now() > deadline) return missing;
    await sleep(100);
  }
}

describe('several gateways on one Redis', () => {
  it('a TCP member on A, a WebSocket member on B and a plain device on C share one chat: rooms, private messages, a 5 MiB file, names, rosters, kicks', async () => {
    redis = await startRedis();
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const alice = await member(Peer.tcp(a.tcpPort), 'alice');
    const bob = await member(Peer.ws(b.wsUrl), 'bob');
    const device = await member(Peer.tcp(c.tcpPort));
    await alice.next('presence', (p) => p.event === 'join' && p.member.name === 'bob');
    await bob.next('presence', (p) => p.event === 'join' && p.member.legacy === true); // the device, after its hello window

    alice.send({ type: 'message', text: 'from a', ref: 'm1' });
    const acked = await alice.next('message', (m) => m.ref === 'm1');
    await expect(bob.next('message', (m) => m.text === 'from a')).resolves.toMatchObject({ id: acked.id, from: 'alice' });
    await expect(device.waitForLine((line) => line === 'alice: from a')).resolves.toBeDefined();
    bob.send({ type: 'message', text: 'from b' });
    await expect(alice.next('message', (m) => m.text === 'from b')).resolves.toMatchObject({ from: 'bob', transport: 'ws' });
    await device.waitForLine((line) => line === 'bob: from b');
    device.send({ type: 'text', text: 'STATUS OK' });
    const fromDevice = await alice.next('message', (m) => m.text === 'STATUS OK');
    await expect(bob.next('message', (m) => m.text === 'STATUS OK')).resolves.toMatchObject({ id: fromDevice.id, from: fromDevice.from });
    expect(fromDevice.id).toBeGreaterThan(acked.id);

    alice.send({ type: 'private', to: 'bob', text: 'psst' });
    await expect(bob.next('private')).resolves.toMatchObject({ from: 'alice', to: 'bob', text: 'psst' });

    // 5 MiB from A to B, checksum verified by the gateway and by the receiver.
    const file = randomBytes(5 * 1024 * 1024);
    const sha256 = createHash('sha256').update(file).digest('hex');
    alice.send({ type: 'file-offer', transfer: 1, name: 'big.bin', size: file.length, to: 'bob' });
    for (let at = 0; at < file.length; at += FILE_CHUNK_BYTES) {
      alice.send({ type: 'file-data', transfer: 1, data: file.subarray(at, at + FILE_CHUNK_BYTES) });
      if ((at / FILE_CHUNK_BYTES) % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    alice.send({ type: 'file-end', transfer: 1, sha256, ref: 'f' });
    const offer = await bob.next('file-offer', (o) => o.from === 'alice');
    const end = await bob.next('file-end', (e) => e.transfer === offer.transfer, 20_000);
    const chunks = bob.received.filter((m): m is Of<'file-data'> => m.type === 'file-data' && m.transfer === offer.transfer);
    expect(
      createHash('sha256')
        .update(Buffer.concat(chunks.map((chunk) => Buffer.from(chunk.data))))
        .digest('hex'),
    ).toBe(sha256);
    expect(end.sha256).toBe(sha256);
    await expect(alice.next('file-end', (e) => e.ref === 'f')).resolves.toMatchObject({ sha256 });

    // A name held on A is taken on C.
    const impostor = await member(Peer.tcp(c.tcpPort));
    impostor.send({ type: 'hello', v: 1, name: 'ALICE', ref: 'h' });
    await expect(impostor.next('error')).resolves.toMatchObject({ code: 'NAME_TAKEN', ref: 'h' });

    // C lists every node's members, each with its node.
    const { body } = await api<{ clients: { id: string; name: string; node: string; transport: string }[] }>(c, 'GET', '/api/clients');
    const byName = new Map(body.clients.map((client) => [client.name, client]));
    expect(byName.get('alice')).toMatchObject({ node: 'a', transport: 'tcp' });
    expect(byName.get('bob')).toMatchObject({ node: 'b', transport: 'ws' });
    expect(byName.get(fromDevice.from)).toMatchObject({ node: 'c', transport: 'tcp' });
    const rooms = await api<{ rooms: { name: string; members: number }[] }>(b, 'GET', '/api/rooms');
    expect(rooms.body.rooms.find((room) => room.name === 'lobby')!.members).toBe(3);

    // The nodes, and an operator on C acting on A's listener with ?node=.
    const listed = await api<{ node: string; nodes: { id: string; members: number; self: boolean }[] }>(c, 'GET', '/api/nodes');
    expect(listed.body).toEqual({
      node: 'c',
      nodes: [
        { id: 'a', members: 1, self: false },
        { id: 'b', members: 1, self: false },
        { id: 'c', members: 1, self: true },
      ],
    });
    const remoteListener = await api<{ listeners: { id: string; port: number; listening: boolean }[] }>(c, 'GET', '/api/listeners?node=a');
    expect(remoteListener.body.listeners.find((l) => l.id === 'default')).toMatchObject({ port: a.tcpPort, listening: true });
    expect((await api(c, 'POST', '/api/listeners/default/stop?node=a')).status).toBe(200);
    expect((await api<{ listening: boolean }>(a, 'GET', '/api/listener')).body.listening).toBe(false);
    expect((await api(c, 'POST', '/api/listeners/default/start?node=a')).status).toBe(200);
    expect((await api<{ listening: boolean }>(a, 'GET', '/api/listener')).body.listening).toBe(true);
    await expect(api(c, 'GET', '/api/listeners?node=zz')).resolves.toMatchObject({ status: 404, body: { code: 'NODE_NOT_FOUND' } });

    // A kick sent to C removes the member on A; everyone hears it once.
    const kicked = await api(c, 'POST', `/api/clients/${byName.get('alice')!.id}/kick`, { reason: 'from c' });
    expect(kicked.status).toBe(200);
    await alice.waitClosed();
    await expect(bob.next('presence', (p) => p.event === 'leave' && p.member.name === 'alice')).resolves.toMatchObject({ reason: 'kicked' });
    // An operator's notice to everyone, from B, reaches A's and C's members; nobody failed to answer.
    const told = await api<{ delivered: number; unanswered: string[] }>(b, 'POST', '/api/broadcast', { text: 'all hands' });
    // bob only: alice was kicked, the impostor never joined, and a plain device gets no server notices (PROTOCOL.md §2).
    expect(told.body).toEqual({ ok: true, delivered: 1, unanswered: [] });
    await expect(bob.next('notice', (n) => n.text === 'all hands')).resolves.toMatchObject({ text: 'all hands' });
    // What bob says next reaches the device on C; the notice before it never did.
    bob.send({ type: 'message', text: 'after the notice', ref: 'n' });
    await device.waitForLine((line) => line.includes('after the notice'));
    expect(device.lines.filter((line) => line.includes('all hands'))).toEqual([]);
    // Nobody saw a member or a message twice.
    const joins = bob.received.filter((m): m is Of<'presence'> => m.type === 'presence' && m.event === 'join').map((p) => p.member.id);
    expect(new Set(joins).size).toBe(joins.length);
    const ids = bob.received.filter((m): m is Of<'message'> => m.type === 'message').map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
  }, 60_000);

  it('kill -9 of node B: its members leave A and C within two heartbeats (node-lost), A and C chat on, A holds all B acknowledged', async () => {
    redis = await startRedis();
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const alice = await member(Peer.tcp(a.tcpPort), 'alice');
    const bob = await member(Peer.ws(b.wsUrl), 'bob');
    const carol = await member(Peer.ws(c.wsUrl), 'carol');
    await alice.next('presence', (p) => p.event === 'join' && p.member.name === 'carol');
    const acknowledged: number[] = [];
    for (let i = 0; i < 20; i++) {
      bob.send({ type: 'message', text: `b${i}`, ref: `b${i}` });
      acknowledged.push((await bob.next('message', (m) => m.ref === `b${i}`)).id);
    }
    const killedAt = Date.now();
    await b.stop('SIGKILL');
    // Before the loss is noticed (at least half a heartbeat away), a notice to everyone is a partial answer naming B.
    const told = await api<{ delivered: number; unanswered: string[] }>(a, 'POST', '/api/broadcast', { text: 'anyone there?' });
    expect(told.body).toEqual({ ok: true, delivered: 2, unanswered: ['b'] });
    const [leftA, leftC] = await Promise.all(
      [alice, carol].map((peer) => peer.next('presence', (p) => p.event === 'leave' && p.member.name === 'bob', 4 * HEARTBEAT_MS)),
    );
    const lostAfterMs = Date.now() - killedAt;
    expect(leftA).toMatchObject({ reason: 'node-lost' });
    expect(leftC).toMatchObject({ reason: 'node-lost' });
    expect(lostAfterMs).toBeLessThanOrEqual(2 * HEARTBEAT_MS);
    console.log(`node B lost after ${lostAfterMs} ms (heartbeat ${HEARTBEAT_MS} ms)`);

    alice.send({ type: 'message', text: 'still here' });
    await expect(carol.next('message', (m) => m.text === 'still here')).resolves.toMatchObject({ from: 'alice' });
    // Bob's name is free again.
    const bob2 = await member(Peer.tcp(c.tcpPort));
    await expect(bob2.hello('bob')).resolves.toMatchObject({ name: 'bob' });
    // Every message B acknowledged is in A's history.
    expect(await missingFromHistory(a, acknowledged)).toEqual([]);
  }, 60_000);

  it('Redis stopped for 5 s and started again (AOF): senders get CLUSTER_UNAVAILABLE meanwhile, nothing acknowledged is lost, chat resumes within 5 s', async () => {
    redis = await startRedis();
    const [a, c] = [await node('a'), await node('c')];
    const alice = await member(Peer.tcp(a.tcpPort), 'alice');
    const carol = await member(Peer.ws(c.wsUrl), 'carol');
    await alice.next('presence', (p) => p.event === 'join' && p.member.name === 'carol');
    const acknowledged: number[] = [];
    let n = 0;
    const say = async (peer: Peer): Promise<Of<'message'> | Of<'error'>> => {
      const ref = `r${n++}`;
      peer.send({ type: 'message', text: ref, ref });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const reply = peer.received.find((m): m is Of<'message'> | Of<'error'> => (m.type === 'message' || m.type === 'error') && m.ref === ref);
        if (reply !== undefined) {
          if (reply.type === 'message') acknowledged.push(reply.id);
          return reply;
        }
        if (Date.now() > deadline) throw new Error(`no answer to ${ref}; got ${peer.describe()}`);
        await sleep(10);
      }
    };
    for (let i = 0; i < 10; i++) expect((await say(alice)).type).toBe('message');

    await redis.stop();
    const downAt = Date.now();
    const refused: string[] = [];
    while (Date.now() - downAt < 5_000) {
      const reply = await say(alice);
      if (reply.type === 'error') refused.push(reply.code);
      await sleep(250);
    }
    expect(refused.length).toBeGreaterThan(10);
    expect(new Set(refused)).toEqual(new Set(['CLUSTER_UNAVAILABLE']));
    const health = await api<{ status: string; cluster?: string }>(a, 'GET', '/api/health');
    expect(health.body.status).toBe('degraded');

    await redis.restart();
    const upAt = Date.now();
    let back: number | undefined;
    while (Date.now() - upAt < 10_000) {
      if ((await say(alice)).type === 'message') {
        back = Date.now() - upAt;
        break;
      }
      await sleep(100);
    }
    expect(back).toBeDefined();
    expect(back!).toBeLessThanOrEqual(5_000);
    console.log(`chat resumed ${back} ms after Redis came back; ${refused.length} sends refused while it was down`);
    // Live traffic crosses nodes again (subscriptions are back), and each message arrives once.
    alice.send({ type: 'message', text: 'after the restart' });
    await expect(carol.next('message', (m) => m.text === 'after the restart', 5_000)).resolves.toMatchObject({ from: 'alice' });
    expect((await api<{ status: string }>(a, 'GET', '/api/health')).body.status).toBe('ok');
    // Nothing acknowledged is missing, on either node (C reads the stream on from where it was, within a second or so).
    for (const gateway of [a, c]) expect(await missingFromHistory(gateway, acknowledged)).toEqual([]);
    const ids = carol.received.filter((m): m is Of<'message'> => m.type === 'message').map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    const joins = carol.received.filter((m): m is Of<'presence'> => m.type === 'presence' && m.event === 'join').map((p) => p.member.id);
    expect(new Set(joins).size).toBe(joins.length);
  }, 60_000);

  it('accounts, resume tokens and bans are the same on every gateway', async () => {
    redis = await startRedis();
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    expect((await api(a, 'POST', '/api/accounts', { name: 'olga', password: 'correct horse battery' })).status).toBe(201);
    // Sent to every gateway before the API answered; applied as each reads its bus.
    for (const gateway of [b, c]) {
      await until('the account on every gateway', async () => {
        const listed = await api<{ accounts: { name: string }[] }>(gateway, 'GET', '/api/accounts');
        return listed.body.accounts.some((x) => x.name === 'olga') ? true : undefined;
      });
    }
    // Registered on A, signed in on B with the password.
    const onB = await member(Peer.tcp(b.tcpPort));
    onB.send({ type: 'hello', v: 1, name: 'olga', ref: 'h' });
    await expect(onB.next('error')).resolves.toMatchObject({ code: 'AUTH_REQUIRED', ref: 'h' }); // a registered name needs its password
    const viaPassword = await member(Peer.tcp(b.tcpPort));
    const welcome = await viaPassword.hello('olga', { password: 'correct horse battery' });
    expect(welcome).toMatchObject({ name: 'olga', account: true });
    viaPassword.destroy();
    await sleep(200);
    // The token B issued resumes the session on C.
    const viaToken = await member(Peer.ws(c.httpUrl.replace('http', 'ws') + '/ws'));
    await expect(viaToken.hello(undefined, { token: welcome.token })).resolves.toMatchObject({ name: 'olga', account: true });
    expect((await api<{ accounts: { name: string }[] }>(c, 'GET', '/api/accounts')).body.accounts.map((x) => x.name)).toEqual(['olga']);
    // A ban added on C disconnects the member it names on A, and is refused on B.
    const mallory = await member(Peer.tcp(a.tcpPort), 'mallory');
    const banned = await api<{ id: number }>(c, 'POST', '/api/bans', { name: 'mallory', reason: 'spam' });
    expect(banned.status).toBe(201);
    await sleep(50);
    await expect(mallory.next('error', (e) => e.code === 'BANNED')).resolves.toMatchObject({ fatal: true });
    await mallory.waitClosed();
    const again = await member(Peer.tcp(b.tcpPort));
    again.send({ type: 'hello', v: 1, name: 'mallory', ref: 'm' });
    await expect(again.next('error')).resolves.toMatchObject({ code: 'BANNED', ref: 'm' });
    // Lifted on A: B admits the name again.
    expect((await api(a, 'DELETE', `/api/bans/${banned.body.id}`)).status).toBe(204);
    await sleep(200);
    const later = await member(Peer.tcp(b.tcpPort));
    await expect(later.hello('mallory')).resolves.toMatchObject({ name: 'mallory' });
  }, 60_000);

  it("one member's messages are stored while it sends more (not one Redis round trip each), and every member sees them in the order sent", async () => {
    redis = await startRedis();
    const fast = ['--rate', '10000', '--rate-burst', '10000'];
    const [a, b] = [await node('a', fast), await node('b', fast)];
    const sender = await member(Peer.tcp(a.tcpPort), 'fast');
    const reader = await member(Peer.ws(b.wsUrl), 'reader');
    await sender.next('presence', (p) => p.event === 'join' && p.member.name === 'reader');
    const N = 300; // past the 64 a member may have in flight, so input pauses and resumes on the way
    const started = Date.now();
    for (let i = 0; i < N; i++) sender.send({ type: i % 3 === 0 ? 'text' : 'message', text: `n${i}`, ...(i % 3 === 0 ? {} : { ref: `r${i}` }) } as never);
    await sender.next('message', (m) => m.text === `n${N - 1}`, 20_000);
    const elapsed = Date.now() - started;
    // The sender gets every message back (its room copy), the ones it sent with a ref as their acknowledgement.
    const own = sender.received.filter((m): m is Of<'message'> => m.type === 'message' && m.from === 'fast');
    expect(own.map((m) => `${m.text}:${m.ref ?? ''}`)).toEqual(Array.from({ length: N }, (_, i) => `n${i}:${i % 3 === 0 ? '' : `r${i}`}`));
    await reader.next('message', (m) => m.text === `n${N - 1}`, 20_000);
    const seen = reader.received.filter((m): m is Of<'message'> => m.type === 'message' && m.from === 'fast');
    expect(seen.map((m) => m.text)).toEqual(Array.from({ length: N }, (_, i) => `n${i}`));
    expect(seen.every((m, i) => i === 0 || m.id > seen[i - 1]!.id)).toBe(true);
    console.log(`${N} messages from one member stored through Redis (appendfsync always) in ${elapsed} ms`);
  }, 60_000);
});
