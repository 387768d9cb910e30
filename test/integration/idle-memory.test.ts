import { spawnSync } from 'node:child_process';
import net, { type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Member } from '../../apps/gateway/src/hub/member.js';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer, sleep } from '../helpers/peer.js';

/**
 * What an idle member keeps for as long as it stays (bench scenario 5: resident memory per
 * connection). Not a heap figure, which moves with V8 and the machine: the per-connection
 * leftovers that cost it, each a few hundred bytes, checked one by one.
 */

let gateway: RunningGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

function memberNamed(name: string): Member {
  const member = [...gateway!.app.hub.members.values()].find((m) => m.name === name);
  if (member === undefined) throw new Error(`no member ${name}`);
  return member;
}

/** The link's sockets (private fields, read here only to look at what they hold). */
function socketsOf(member: Member): { socket: Socket; ws?: WebSocket } {
  const link = member.link as unknown as { socket?: Socket; raw?: Socket; ws?: WebSocket };
  return link.ws !== undefined ? { socket: link.raw!, ws: link.ws } : { socket: link.socket! };
}

const EVENTS = ['close', 'data', 'drain', 'error', 'message'];

/** Listeners by event; a `once` wrapper shows as the `listener` it wraps. */
function listenersOf(emitter: Socket | WebSocket): Map<string, unknown[]> {
  return new Map(EVENTS.map((event) => [event, emitter.rawListeners(event).map((l) => (l as { listener?: unknown }).listener ?? l)]));
}

function onceWrappers(emitter: Socket | WebSocket): number {
  return EVENTS.reduce((n, event) => n + emitter.rawListeners(event).filter((l) => (l as { listener?: unknown }).listener !== undefined).length, 0);
}

describe('an idle member keeps nothing it does not need', () => {
  it('TCP and WebSocket members share their listeners, hold no once wrappers, no cleared timer, no upgrade response, no empty wait sets', async () => {
    gateway = await startGateway();
    const peers = [await Peer.tcp(gateway.tcpPort), await Peer.tcp(gateway.tcpPort), await Peer.ws(gateway.wsUrl), await Peer.ws(gateway.wsUrl)];
    await Promise.all(peers.map((peer, i) => peer.hello(`idle${i}`, { room: 'idle' })));
    const [tcpA, tcpB, wsA, wsB] = [0, 1, 2, 3].map((i) => memberNamed(`idle${i}`));
    expect([tcpA, tcpB, wsA, wsB].map((m) => m!.transport)).toEqual(['tcp', 'tcp', 'ws', 'ws']);

    for (const [a, b] of [
      [tcpA!, tcpB!],
      [wsA!, wsB!],
    ] as const) {
      const [sa, sb] = [socketsOf(a), socketsOf(b)];
      // The same functions on every connection: no closure (and its context) per member.
      expect(listenersOf(sa.socket)).toEqual(listenersOf(sb.socket));
      // ws's server kept a 'close' closure of its own per client (its client tracking): no more.
      if (sa.ws !== undefined) expect(listenersOf(sa.ws)).toEqual(listenersOf(sb.ws!));
      // `once` keeps a wrapper and its state per listener; a third 'close' listener grows the array to 20 slots.
      expect(onceWrappers(sa.socket)).toBe(0);
      if (sa.ws !== undefined) expect(onceWrappers(sa.ws)).toBe(0);
      expect(sa.socket.rawListeners('close').length).toBeLessThanOrEqual(2);
      // Nobody waits for anybody: no Set of waiters per member, one shared empty one.
      expect(a.outbox.waiters.size).toBe(0);
      expect(a.outbox.waiters).toBe(b.outbox.waiters);
      expect(a.outbox.blockedBy).toBe(b.outbox.blockedBy);
    }

    // A TCP member's decoder knows its link: its frames go to one function every decoder shares,
    // not to a closure (and its context) per connection.
    for (const member of [tcpA!, tcpB!]) {
      const link = member.link as unknown as { decoder?: object };
      expect(link.decoder).toHaveProperty('link', member.link);
    }

    // Node's cached peer address (an object on the socket) is let go: the link keeps its own.
    for (const member of [tcpA!, tcpB!, wsA!, wsB!]) {
      expect((socketsOf(member).socket as Socket & { _peername?: unknown })._peername).toBeUndefined();
      expect(member.link.address).toMatch(/^127\.0\.0\.1:\d+$/);
    }

    // A WebSocket lets go of its upgrade: the response and the HTTP idle timer that ws cleared.
    for (const member of [wsA!, wsB!]) {
      const { socket } = socketsOf(member);
      expect((socket as Socket & { _httpMessage?: unknown })._httpMessage ?? null).toBeNull();
      const timerKey = Object.getOwnPropertySymbols(socket).find((key) => key.description === 'timeout');
      if (timerKey !== undefined) expect((socket as unknown as Record<symbol, unknown>)[timerKey] ?? null).toBeNull();
    }

    // Their hello waited (its name claim) and is done: no input state is kept for them.
    for (const member of [tcpA!, tcpB!, wsA!, wsB!]) expect(member.input).toBeUndefined();

    // Still members like any other: they hear each other, and a member that never sent hears too.
    peers[0]!.send({ type: 'message', text: 'still here' });
    await Promise.all(peers.slice(1).map((peer) => peer.next('message', (m) => m.text === 'still here')));
    // One that speaks after its idle time is heard, asks what waits (a rename) and is answered, in order.
    peers[3]!.send({ type: 'message', text: 'back' });
    peers[3]!.send({ type: 'nick', name: 'idle3b' });
    peers[3]!.send({ type: 'message', text: 'renamed' });
    await Promise.all(peers.slice(0, 3).map((peer) => peer.next('message', (m) => m.text === 'back')));
    const renamed = await peers[0]!.next('message', (m) => m.text === 'renamed');
    expect(renamed.from).toBe('idle3b');
    for (const member of [tcpA!, tcpB!, wsA!, wsB!]) expect(member.input).toBeUndefined();
    for (const peer of peers) peer.end();
  });

  it("members' directory records share one hidden class, whatever their fields", () => {
    // V8 gave every record made by spreading info() a hidden class of its own (a map and its
    // descriptors, some 300 bytes per member, kept by the directory). Only V8 can tell: a child
    // node with natives syntax builds 2,000 records from the built Member and compares their maps.
    const member = pathToFileURL(join(import.meta.dirname, '../../apps/gateway/dist/hub/member.js')).href;
    const script = `
      const { Member } = await import(${JSON.stringify(member)});
      const records = [];
      for (let i = 0; i < 2000; i++) {
        const link = { transport: i % 2 === 0 ? 'tcp' : 'ws', address: '127.0.0.1:' + (10000 + i), ip: '127.0.0.1' };
        const m = new Member('m' + i, link, {}, Date.now(), i % 5 === 0 ? { device: { hears: 'everyone' } } : {});
        m.name = 'n' + i;
        m.legacy = i % 3 === 0;
        m.identity = 'guest:' + i;
        records.push(m.record('local'));
      }
      let shared = 0;
      for (const r of records) if (%HaveSameMap(r, records[0])) shared++;
      console.log(shared);`;
    const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(Number(child.stdout.trim())).toBe(2000);
  });

  it("a member's rooms are an array of their exact size, not one grown by push", () => {
    // An array grown by push from empty keeps room for 17 (some 150 bytes); one made by concat
    // or slice holds what it holds. A child node weighs 20,000 members' rooms after a join,
    // a second join and a leave (live heap after a full GC, ÷ members).
    const member = pathToFileURL(join(import.meta.dirname, '../../apps/gateway/dist/hub/member.js')).href;
    const script = `
      const { Member } = await import(${JSON.stringify(member)});
      const link = { transport: 'tcp', address: '127.0.0.1:1', ip: '127.0.0.1' };
      const members = Array.from({ length: 20000 }, (_, i) => new Member('m' + i, link, {}, 0));
      const [lobby, other] = [{ name: 'lobby', members: new Set(), createdAt: 0 }, { name: 'other', members: new Set(), createdAt: 0 }];
      const weigh = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
      const sizes = [];
      let before = weigh();
      for (const m of members) m.enterRoom(lobby);
      sizes.push((weigh() - before) / members.length);
      for (const m of members) m.enterRoom(other);
      for (const m of members) m.enterRoom(lobby);
      for (const m of members) m.leaveRoom(other);
      sizes.push((weigh() - before) / members.length);
      const order = members[0].rooms.map((r) => r.name).join();
      for (const m of members) m.leaveRoom(lobby);
      console.log(JSON.stringify({ sizes, order, empty: members[0].rooms.length, shared: members[0].rooms === members[1].rooms }));`;
    const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    const result = JSON.parse(child.stdout) as { sizes: number[]; order: string; empty: number; shared: boolean };
    // One room: a 32-byte array and its 24-byte backing store; grown by push it was 184 bytes.
    for (const size of result.sizes) expect(size).toBeLessThan(100);
    expect(result.order).toBe('lobby');
    expect(result.empty).toBe(0);
    expect(result.shared).toBe(true);
  });
});

describe('without ws tracking its clients', () => {
  it('a gateway that closes still closes its browsers and its device pipes, and its close finishes', async () => {
    gateway = await startGateway({ devices: { listen: [], targets: '127.0.0.1' } });
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('leaving', { room: 'idle' });
    const created = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'raw', room: 'pipe-at-close' });
    const device = net.connect({ port: created.body.port, host: '127.0.0.1' });
    device.on('error', () => undefined);
    let member: { id: string } | undefined;
    for (let i = 0; i < 100 && member === undefined; i++) {
      member = (await api(gateway, 'GET', '/api/clients')).body.clients.find((c: { listener?: string }) => c.listener === created.body.id);
      if (member === undefined) await sleep(20);
    }
    const pipe = new WebSocket(`${gateway.httpUrl.replace('http', 'ws')}/ws/devices/${member!.id}`);
    await new Promise((resolve, reject) => pipe.once('open', resolve).once('error', reject));
    const pipeClosed = new Promise<number>((resolve) => pipe.once('close', (code: number) => resolve(code)));
    const told = browser.next('notice', () => true, 10_000);
    const closing = gateway.close();
    gateway = undefined;
    await closing;
    expect(await pipeClosed).toBeGreaterThanOrEqual(1000);
    await told;
    await browser.closedPromise;
    expect(browser.closed).toBe(true);
    device.destroy();
  });
});
