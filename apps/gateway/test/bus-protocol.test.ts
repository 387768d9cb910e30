import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BusProtocol, type PubSub } from '../src/cluster/bus-protocol.js';
import type { CarriedEntry, ClusterHandlers, RoomEvent } from '../src/cluster/cluster.js';
import { settle } from './memory-link.js';

/** Channels in one process: what is published reaches every protocol subscribed to the channel (its sender included, as over Redis). */
class MemoryBus {
  readonly #subscribers = new Map<string, Set<BusProtocol>>();
  /** Whom each node's PubSub delivers to; set once the protocol exists. */
  readonly #owners = new Map<string, BusProtocol>();
  readonly published: string[] = [];

  pubsub(node: string): PubSub {
    return {
      publish: async (channel, message) => {
        this.published.push(channel);
        const heard = [...(this.#subscribers.get(channel) ?? [])];
        for (const protocol of heard) queueMicrotask(() => protocol.received(message));
        return heard.length;
      },
      subscribe: async (channel) => {
        const set = this.#subscribers.get(channel) ?? new Set();
        set.add(this.#owners.get(node)!);
        this.#subscribers.set(channel, set);
      },
      unsubscribe: async (channel) => {
        this.#subscribers.get(channel)?.delete(this.#owners.get(node)!);
      },
    };
  }

  node(nodeId: string, timeoutMs = 1000, carried?: (id: number) => CarriedEntry | undefined): BusProtocol {
    const protocol = new BusProtocol({
      nodeId,
      timeoutMs,
      carried,
      pubsub: this.pubsub(nodeId),
      channels: { all: 'all', node: (id) => `node:${id}`, room: (name) => `{room:${name}}` },
      ready: () => true,
      peers: () => [],
      logError: () => undefined,
      state: { heard: () => undefined, put: () => undefined, remove: () => undefined, sync: () => undefined, lost: () => undefined, identity: () => undefined },
    });
    this.#owners.set(nodeId, protocol);
    return protocol;
  }
}

function handlers(rooms: RoomEvent[], overrides: Partial<ClusterHandlers> = {}): ClusterHandlers {
  return { room: (event) => rooms.push(event), member: () => undefined, admin: () => false, announce: () => 0, nodeLost: () => undefined, ...overrides };
}

const protocols: BusProtocol[] = [];
afterEach(() => {
  for (const protocol of protocols.splice(0)) protocol.close();
});

describe('the bus protocol over any PubSub (here one in memory: no Redis)', () => {
  it('imports nothing of Redis', () => {
    for (const file of ['bus-protocol.ts', 'bus-messages.ts', 'room-interest.ts']) {
      const source = readFileSync(new URL(`../src/cluster/${file}`, import.meta.url), 'utf8');
      expect(source, file).not.toMatch(/from '(@redis|redis)/);
      expect(source, file).not.toMatch(/from '\.\/redis-/);
    }
  });

  it("a room's message carries its history entry to the other nodes serving the room, and none while the sender alone hears the room", async () => {
    const bus = new MemoryBus();
    const entryOf = (id: number): CarriedEntry => ({
      id,
      ts: 1000 + id,
      entry: { kind: 'message', room: 'kitchen', from: 'alice', transport: 'tcp', text: `m${id}` },
      at: `${id}-0`,
      after: `${id - 1}-0`,
    });
    const taken: number[] = [];
    const a = bus.node('a', 1000, (id) => (taken.push(id), entryOf(id)));
    const b = bus.node('b');
    protocols.push(a, b);
    const heard: RoomEvent[] = [];
    a.bus.serve(handlers([]));
    b.bus.serve(handlers(heard));
    await a.bus.serveRoom('kitchen');
    const say = async (id: number): Promise<void> => {
      a.bus.publishRoom({ room: 'kitchen', frame: new Uint8Array([id]), logId: id });
      await settle();
    };
    await say(1); // nobody else serves it: the publish says so (one subscriber, a itself)
    await say(2); // so this one goes without its entry
    await b.bus.serveRoom('kitchen');
    await say(3); // b hears it, without an entry (a learns from this publish that b listens)
    await say(4);
    a.bus.publishRoom({ room: 'kitchen', frame: new Uint8Array([5]), logId: 5 });
    a.bus.publishRoom({ room: 'kitchen', frame: new Uint8Array([6]) }); // no history entry (a presence)
    await settle();
    // Every entry taken from the log (it forgets each), carried only once another node was heard listening.
    expect(taken).toEqual([1, 2, 3, 4, 5]);
    expect(heard.map((e) => [e.frame[0], e.log?.id])).toEqual([
      [3, undefined],
      [4, 4],
      [5, 5],
      [6, undefined],
    ]);
    expect(heard[1]!.log).toEqual(entryOf(4));
  });

  it("a room's events reach only the nodes serving it, once each, without the sender's echo", async () => {
    const bus = new MemoryBus();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => bus.node(id));
    protocols.push(a!, b!, c!);
    const heard = { a: [] as RoomEvent[], b: [] as RoomEvent[], c: [] as RoomEvent[] };
    a!.bus.serve(handlers(heard.a));
    b!.bus.serve(handlers(heard.b));
    c!.bus.serve(handlers(heard.c));
    await a!.bus.serveRoom('kitchen');
    await b!.bus.serveRoom('kitchen');
    a!.bus.publishRoom({ room: 'kitchen', frame: new Uint8Array([1, 2, 3]), legacyText: 'alice: hi', origin: 'person' });
    await settle();
    expect(heard.a).toEqual([]); // its own echo is dropped
    expect(heard.b.map(({ frame, ...rest }) => ({ ...rest, frame: [...frame] }))).toEqual([
      { room: 'kitchen', frame: [1, 2, 3], legacyText: 'alice: hi', except: undefined, origin: 'person' },
    ]);
    expect(heard.c).toEqual([]);
    expect(bus.published).toEqual(['{room:kitchen}']);
    expect([a!.traffic, b!.traffic, c!.traffic]).toEqual([
      { in: 1, out: 1 },
      { in: 1, out: 0 },
      { in: 0, out: 0 },
    ]);
    b!.bus.dropRoom('kitchen');
    await settle();
    a!.bus.publishRoom({ room: 'kitchen', frame: new Uint8Array([4]) });
    await settle();
    expect(heard.b).toHaveLength(1);
  });

  it("a room's events of one turn travel as one message, each heard in order with its own frame; anything else sent first publishes what waits", async () => {
    const bus = new MemoryBus();
    const [a, b] = ['a', 'b'].map((id) => bus.node(id));
    protocols.push(a!, b!);
    const heard: RoomEvent[] = [];
    const mail: number[][] = [];
    b!.bus.serve(handlers(heard, { member: (event) => void mail.push([...event.frame]) }));
    await bus.pubsub('b').subscribe('node:b');
    await b!.bus.serveRoom('kitchen');
    await b!.bus.serveRoom('hall');
    const say = (room: string, bytes: number[], extra: Partial<RoomEvent> = {}): void => a!.bus.publishRoom({ room, frame: new Uint8Array(bytes), ...extra });
    say('kitchen', [1], { legacyText: 'alice: one', origin: 'person' });
    say('kitchen', [2, 2], { except: 'a.m1', origin: 'device' });
    say('hall', [3]);
    // A frame for one member goes after what its node said before it: the rooms' batches are published first.
    a!.bus.sendToMember('b', { to: 'b.m1', frame: new Uint8Array([9]) });
    say('kitchen', [4, 4, 4]);
    say('kitchen', []);
    say('kitchen', [5], { legacyText: 'bob: five' });
    expect(bus.published).toEqual(['{room:kitchen}', '{room:hall}', 'node:b']);
    await settle();
    expect(bus.published).toEqual(['{room:kitchen}', '{room:hall}', 'node:b', '{room:kitchen}']);
    expect(heard.map(({ frame, ...rest }) => ({ ...rest, frame: [...frame] }))).toEqual([
      { room: 'kitchen', frame: [1], legacyText: 'alice: one', except: undefined, origin: 'person' },
      { room: 'kitchen', frame: [2, 2], legacyText: undefined, except: 'a.m1', origin: 'device' },
      { room: 'hall', frame: [3], legacyText: undefined, except: undefined, origin: undefined },
      { room: 'kitchen', frame: [4, 4, 4], legacyText: undefined, except: undefined, origin: undefined },
      { room: 'kitchen', frame: [], legacyText: undefined, except: undefined, origin: undefined },
      { room: 'kitchen', frame: [5], legacyText: 'bob: five', except: undefined, origin: undefined },
    ]);
    expect(mail).toEqual([[9]]);
    // The metric counts bus messages: four sent by a, four heard by b.
    expect([a!.traffic, b!.traffic]).toEqual([
      { in: 0, out: 4 },
      { in: 4, out: 0 },
    ]);
  });

  it('an ask is answered by the node asked, matched by its id; one to a node nobody hears is undefined at once; one unanswered times out', async () => {
    const bus = new MemoryBus();
    const a = bus.node('a', 100);
    const b = bus.node('b');
    const mute = bus.node('mute');
    protocols.push(a, b, mute);
    // Each node hears its own channel (RedisCluster subscribes it at start).
    for (const id of ['a', 'b', 'mute']) await bus.pubsub(id).subscribe(`node:${id}`);
    const kicked: string[] = [];
    b.bus.serve(handlers([], { admin: (action) => (kicked.push(action.member), action.member === 'b.m1'), announce: () => 3 }));
    mute.bus.serve(handlers([], { announce: () => 0 }));
    // The mute node hears but never answers: its answers are lost on the way.
    (mute as unknown as { received: (m: Buffer) => void }).received = () => undefined;
    const [yes, no, reached] = await Promise.all([
      a.bus.request('b', { kind: 'kick', member: 'b.m1' }),
      a.bus.request('b', { kind: 'kick', member: 'b.m9' }),
      a.bus.announce('b', { kind: 'announce', text: 'noon' }),
    ]);
    expect([yes, no, reached]).toEqual([true, false, 3]);
    expect(kicked.sort()).toEqual(['b.m1', 'b.m9']);
    await expect(a.bus.announce('gone', { kind: 'announce', text: 'x' })).resolves.toBeUndefined();
    // Heard by a node (so not answered at once) that never answers: its timeout (100 ms) ends it.
    await expect(a.bus.announce('mute', { kind: 'announce', text: 'x' })).resolves.toBeUndefined();
  });
});
