import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeMessage, type ClientMessage, type ServerMessage } from '@switchboard/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { api } from '../helpers/gateway.js';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { busIn } from '../helpers/bus-metrics.js';
import { Peer, sleep } from '../helpers/peer.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

/**
 * Routing by interest (issue 25) with real gateway processes on a real redis-server: a gateway
 * hears a room's channel only while one of its members is in the room. Loopback only; every
 * wait is bounded.
 */
let redis: RedisProcess | undefined;
const gateways: GatewayProcess[] = [];
const peers: Peer[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(gateways.splice(0).map((g) => g.stop('SIGKILL')));
  await redis?.close();
  redis = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function node(id: string): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), `switchboard-node-${id}-`));
  dirs.push(dir);
  const gateway = await spawnGateway(['--redis-url', redis!.url, '--node-id', id, '--data-dir', dir, '--metrics-public']);
  gateways.push(gateway);
  return gateway;
}

async function member(gateway: GatewayProcess, name: string, room?: string): Promise<Peer> {
  const peer = await Peer.tcp(gateway.tcpPort);
  peers.push(peer);
  await peer.hello(name, room === undefined ? {} : { room });
  return peer;
}

/** Calls of each command so far (INFO commandstats), by name. */
async function commandCalls(): Promise<Map<string, number>> {
  const { stdout } = await promisify(execFile)('redis-cli', ['-p', String(redis!.port), 'INFO', 'commandstats']);
  const calls = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
    if (match !== null) calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

/** How many connections are subscribed to the room's channel, as Redis counts them. */
async function subscribers(room: string): Promise<number> {
  const { stdout } = await promisify(execFile)('redis-cli', ['-p', String(redis!.port), '--no-raw', 'PUBSUB', 'NUMSUB', `switchboard:{room:${room}}`]);
  return Number(/\(integer\) (\d+)/.exec(stdout)?.[1]);
}

describe('several gateways on one Redis: rooms routed by interest', () => {
  it('a gateway with no member in a room receives none of its messages; one that gets a member hears it from the join on, until the last leaves', async () => {
    redis = await startRedis({ appendfsync: 'everysec' });
    const [a, b, c] = [await node('a'), await node('b'), await node('c')];
    const alice = await member(a, 'alice', 'kitchen');
    const bob = await member(b, 'bob', 'kitchen');
    const carol = await member(c, 'carol');
    await alice.next('presence', (p) => p.event === 'join' && p.member.name === 'bob');
    expect(await subscribers('kitchen')).toBe(2); // a and b; not c

    const [quiet, bHeard] = [await busIn(c), await busIn(b)];
    for (let i = 1; i <= 20; i++) alice.send({ type: 'message', room: 'kitchen', text: `k${i}` });
    await bob.next('message', (m) => m.text === 'k20', 10_000);
    await sleep(300); // what c would have heard has long arrived by now
    expect(await busIn(c)).toBe(quiet);
    expect(await busIn(b)).toBeGreaterThan(bHeard); // b heard them (a room's messages of one turn travel as one bus message)

    carol.send({ type: 'join', room: 'kitchen', ref: 'j' });
    await carol.next('roster', (r) => r.ref === 'j');
    expect(await subscribers('kitchen')).toBe(3);
    bob.send({ type: 'message', room: 'kitchen', text: 'right after your join' });
    await expect(carol.next('message', (m) => m.text === 'right after your join')).resolves.toMatchObject({ from: 'bob', room: 'kitchen' });

    carol.send({ type: 'leave', room: 'kitchen', ref: 'l' });
    await carol.next('presence', (p) => p.ref === 'l');
    for (const deadline = Date.now() + 5000; (await subscribers('kitchen')) !== 2; await sleep(50))
      if (Date.now() > deadline) throw new Error('c stayed subscribed');
    const left = await busIn(c);
    for (let i = 1; i <= 10; i++) alice.send({ type: 'message', room: 'kitchen', text: `after ${i}` });
    await bob.next('message', (m) => m.text === 'after 10', 10_000);
    await sleep(300);
    expect(await busIn(c)).toBe(left);
    expect(carol.received.filter((m) => m.type === 'message' && m.text.startsWith('after'))).toEqual([]);

    // A private message crosses to the recipient's gateway only: b hears nothing of it.
    const bBefore = await busIn(b);
    alice.send({ type: 'private', to: 'carol', text: 'psst' });
    await expect(carol.next('private')).resolves.toMatchObject({ from: 'alice', text: 'psst' });
    await sleep(300);
    expect(await busIn(b)).toBe(bBefore);
    // Three gateway processes and a Redis: the default 30 s ran out on a loaded machine (load average 20 on 2 cores).
  }, 90_000);

  it('what a member sends in one write is stored by one script call and published in one bus message per room: each acknowledged once, in the order sent, ids increasing in that order', async () => {
    redis = await startRedis({ appendfsync: 'everysec' });
    const [a, b] = [await node('a'), await node('b')];
    const alice = await member(a, 'alice', 'kitchen');
    const bob = await member(b, 'bob', 'kitchen');
    await alice.next('presence', (p) => p.event === 'join' && p.member.name === 'bob', 10_000);
    alice.send({ type: 'private', to: 'bob', text: 'first', ref: 'first' }); // a's directory holds bob: the burst's privates reach him
    await bob.next('private', (m) => m.text === 'first', 10_000);

    const count = 40;
    // Every tenth a private message to bob: one Redis stores rooms and private conversations in the same call.
    const burst: ClientMessage[] = Array.from({ length: count }, (_, i) =>
      i % 10 === 9 ? { type: 'private', to: 'bob', text: `p${i}`, ref: `x${i}` } : { type: 'message', room: 'kitchen', text: `m${i}`, ref: `x${i}` },
    );
    const before = await commandCalls();
    const busBefore = await busIn(b);
    alice.sendBytes(Buffer.concat(burst.map((m) => encodeMessage(m))));
    await alice.find('private', (m) => m.ref === 'x39', 10_000);
    await bob.find('private', (m) => m.text === 'p39', 10_000);
    const after = await commandCalls();
    const calls = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);

    // Forty entries (one XADD each, two for a private: both sides' streams), by far fewer script calls than messages.
    expect(calls('xadd')).toBe(count + count / 10);
    // By EVALSHA (EVAL where Redis did not have the script yet).
    const scriptCalls = calls('eval') + calls('evalsha');
    expect(scriptCalls).toBeGreaterThan(0);
    expect(scriptCalls).toBeLessThan(count / 4);
    // b heard the room's 36 messages in far fewer bus messages (plus its 4 privates).
    expect((await busIn(b)) - busBefore).toBeLessThan(count / 2);
    type Acked = Extract<ServerMessage, { type: 'message' | 'private' }>;
    const acks = alice.received.filter((m): m is Acked => (m.type === 'message' || m.type === 'private') && m.ref?.startsWith('x') === true);
    expect(acks.map((m) => m.ref)).toEqual(burst.map((m) => ('ref' in m ? m.ref : undefined)));
    const ids = acks.map((m) => m.id);
    expect(ids).toEqual([...new Set(ids)].sort((x, y) => x - y));
    const heard = bob.received.filter((m): m is Acked => (m.type === 'message' || m.type === 'private') && /^[mp]\d+$/.test(m.text));
    expect(heard.map((m) => [m.id, m.text])).toEqual(acks.map((m) => [m.id, m.text]));
  }, 90_000);

  it('members of one gateway who leave, quit or join a room while Redis is away are told to the room on another gateway once it is back (presence from the directory)', async () => {
    redis = await startRedis({ appendfsync: 'everysec' });
    const [a, b] = [await node('a'), await node('b')];
    const alice = await member(a, 'alice', 'kitchen');
    const bob = await member(b, 'bob', 'kitchen');
    const erin = await member(b, 'erin', 'kitchen');
    const dave = await member(b, 'dave');
    await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'erin', 10_000);

    await redis.stop();
    // On b while Redis is away: nothing of it reaches a.
    bob.send({ type: 'leave', room: 'kitchen', ref: 'l' });
    await bob.next('presence', (p) => p.ref === 'l', 10_000);
    erin.destroy();
    for (const deadline = Date.now() + 10_000; ; await sleep(50)) {
      const { clients } = (await api<{ clients: { name: string }[] }>(b, 'GET', '/api/clients')).body;
      if (!clients.some((client) => client.name === 'erin')) break;
      if (Date.now() > deadline) throw new Error('b still has erin');
    }
    dave.send({ type: 'join', room: 'kitchen', ref: 'j' });
    await dave.next('roster', (r) => r.ref === 'j', 10_000);
    const presence = (): string[] =>
      alice.received
        .filter((m): m is Extract<ServerMessage, { type: 'presence' }> => m.type === 'presence' && m.room === 'kitchen' && m.member.name !== 'alice')
        .map((p) => `${p.event} ${p.member.name}${p.reason === undefined ? '' : ` ${p.reason}`}`);
    const before = presence();

    await redis.restart();
    const told = ['leave bob left', 'leave erin quit', 'join dave'];
    for (const deadline = Date.now() + 15_000; ; await sleep(50)) {
      const after = presence().slice(before.length);
      if (told.every((event) => after.includes(event))) break;
      if (Date.now() > deadline) throw new Error(`alice was told ${JSON.stringify(after)} after Redis came back; expected ${JSON.stringify(told)}`);
    }
    // Once each, and a's roster agrees.
    await sleep(500);
    expect(presence().slice(before.length).sort()).toEqual([...told].sort());
    alice.send({ type: 'roster', room: 'kitchen', ref: 'r' });
    const roster = await alice.next('roster', (r) => r.ref === 'r', 10_000);
    expect(roster.members.map((m) => m.name).sort()).toEqual(['alice', 'dave']);
  }, 90_000);

  it('a room this gateway cannot hear (its SUBSCRIBE refused): a join gets CLUSTER_UNAVAILABLE, and members leaving it on another gateway are told from their records', async () => {
    redis = await startRedis({ appendfsync: 'everysec' });
    // c's Redis user may use the bus and its own channel, no room's: every room stays deaf on c, commands work.
    await promisify(execFile)('redis-cli', [
      '-p',
      String(redis.port),
      'ACL',
      'SETUSER',
      'deaf',
      'on',
      '>deaf-password',
      '~*',
      '+@all',
      'resetchannels',
      '&switchboard:{shared}:*',
      '&switchboard:{node:*',
    ]);
    const a = await node('a');
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-node-c-'));
    dirs.push(dir);
    const deafUrl = redis.url.replace('redis://', 'redis://deaf:deaf-password@');
    const c = await spawnGateway(['--redis-url', deafUrl, '--node-id', 'c', '--data-dir', dir, '--metrics-public']);
    gateways.push(c);
    const bob = await member(a, 'bob', 'kitchen');
    const erin = await member(a, 'erin', 'kitchen');
    const carol = await member(c, 'carol');
    carol.send({ type: 'join', room: 'kitchen', ref: 'j' });
    await carol.next('roster', (r) => r.ref === 'j', 10_000);
    // In the room, told its history and live messages cannot be promised yet.
    await expect(carol.next('error', (e) => e.ref === 'j', 10_000)).resolves.toMatchObject({ code: 'CLUSTER_UNAVAILABLE' });
    await bob.find('presence', (p) => p.event === 'join' && p.member.name === 'carol', 10_000);

    bob.send({ type: 'leave', room: 'kitchen', ref: 'l' });
    await expect(carol.next('presence', (p) => p.room === 'kitchen' && p.member.name === 'bob', 10_000)).resolves.toMatchObject({
      event: 'leave',
      reason: 'left',
    });
    erin.destroy();
    await expect(carol.next('presence', (p) => p.room === 'kitchen' && p.member.name === 'erin', 10_000)).resolves.toMatchObject({
      event: 'leave',
      reason: 'quit',
    });
  }, 90_000);
});
