import { describe, expect, it } from 'vitest';
import { InProcessCluster } from '../src/cluster/in-process-cluster.js';
import { RoomInterest } from '../src/cluster/room-interest.js';
import { connect, settle, testHub } from './memory-link.js';

/** A subscription port whose acknowledgements the test gives, one at a time. */
class SlowSubscriptions {
  readonly calls: string[] = [];
  readonly errors: string[] = [];
  readonly #waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  subscribe = (room: string): Promise<void> => this.#call(`+${room}`);
  unsubscribe = (room: string): Promise<void> => this.#call(`-${room}`);
  logError = (what: string): void => void this.errors.push(what);

  #call(what: string): Promise<void> {
    this.calls.push(what);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Acknowledges the oldest call waiting (or fails it); then lets the next step start. */
  async answer(error?: Error): Promise<void> {
    await settle(0); // the step queued before runs first
    const next = this.#waiting.shift();
    if (next === undefined) throw new Error('no call is waiting');
    if (error === undefined) next.resolve();
    else next.reject(error);
    await settle(0);
  }
}

describe('room interest: a room channel subscribed while the hub serves the room', () => {
  it('a join resolves only once the subscription is acknowledged; a second join waits for the same one', async () => {
    const port = new SlowSubscriptions();
    const interest = new RoomInterest(port);
    let first = false;
    let second = false;
    void interest.serve('kitchen').then(() => (first = true));
    void interest.serve('kitchen').then(() => (second = true));
    await settle(0);
    expect([first, second]).toEqual([false, false]);
    await port.answer();
    expect([first, second]).toEqual([true, true]);
    expect(port.calls).toEqual(['+kitchen']); // one SUBSCRIBE for both
    expect(interest.subscribed()).toEqual(['kitchen']);
  });

  it('the last leave while a join is in flight, then a new join: the room ends subscribed, with every step in order', async () => {
    const port = new SlowSubscriptions();
    const interest = new RoomInterest(port);
    void interest.serve('kitchen');
    interest.drop('kitchen'); // left before the subscription was even acknowledged
    const joined = interest.serve('kitchen');
    await port.answer(); // +kitchen
    await joined;
    expect(port.calls).toEqual(['+kitchen']); // wanted again by the time the leave's step ran: nothing to undo
    interest.drop('kitchen');
    await settle(0);
    expect(port.calls).toEqual(['+kitchen', '-kitchen']);
    const again = interest.serve('kitchen'); // waits for the UNSUBSCRIBE, then subscribes again
    await port.answer(); // -kitchen
    expect(port.calls).toEqual(['+kitchen', '-kitchen', '+kitchen']);
    await port.answer(); // +kitchen
    await again;
    expect(interest.subscribed()).toEqual(['kitchen']);
  });

  it('a subscription that failed (Redis away) is logged, the join goes on, and it is made again on reconnection', async () => {
    const port = new SlowSubscriptions();
    const interest = new RoomInterest(port);
    const joined = interest.serve('kitchen');
    await port.answer(new Error('offline'));
    await joined;
    expect(port.errors).toEqual(['subscribing to room kitchen']);
    expect(interest.subscribed()).toEqual([]);
    interest.resubscribe();
    await settle(0);
    expect(port.calls).toEqual(['+kitchen', '+kitchen']);
    await port.answer();
    expect(interest.subscribed()).toEqual(['kitchen']);
  });

  it('a room whose subscription failed is deaf until one holds: `hear` tries again at once, and says whether it held', async () => {
    const port = new SlowSubscriptions();
    const interest = new RoomInterest(port);
    const joined = interest.serve('kitchen');
    await port.answer(new Error('shard failing over'));
    await joined;
    expect(interest.deaf('kitchen')).toBe(true);
    const failedAgain = interest.hear('kitchen');
    await port.answer(new Error('still failing over'));
    expect(await failedAgain).toBe(false);
    expect(interest.deaf('kitchen')).toBe(true);
    const heard = interest.hear('kitchen');
    await port.answer();
    expect(await heard).toBe(true);
    expect(interest.deaf('kitchen')).toBe(false);
    expect(port.calls).toEqual(['+kitchen', '+kitchen', '+kitchen']);
    // Neither a room not served nor one subscribed is deaf.
    expect(interest.deaf('hall')).toBe(false);
    expect(await interest.hear('hall')).toBe(false);
  });

  it('the hub answers a join (roster, history) only after the cluster routes the room to its node', async () => {
    const node = new InProcessCluster().node('a');
    const acknowledgements: (() => void)[] = [];
    const serveRoom = node.bus.serveRoom.bind(node.bus);
    const dropped: string[] = [];
    node.bus.serveRoom = (room) => {
      void serveRoom(room);
      return new Promise<void>((resolve) => acknowledgements.push(resolve));
    };
    node.bus.dropRoom = (room) => void dropped.push(room);
    const hub = testHub({ cluster: node });
    acknowledgements.shift()?.(); // lobby, served from the start
    const alice = connect(hub, { name: 'alice' });
    await settle();
    alice.send({ type: 'join', room: 'kitchen', ref: 'j' });
    alice.send({ type: 'message', room: 'kitchen', text: 'held until joined', ref: 'm' });
    await settle(20);
    expect(alice.link.of('roster').filter((r) => r.ref === 'j')).toEqual([]);
    expect(alice.link.of('error')).toEqual([]); // the message waits behind the join: no NOT_IN_ROOM
    expect(acknowledgements).toHaveLength(1);
    acknowledgements.shift()!();
    await settle(20);
    expect(alice.link.of('roster').filter((r) => r.ref === 'j')).toHaveLength(1);
    expect(alice.link.of('message').map((m) => m.text)).toEqual(['held until joined']);
    alice.send({ type: 'leave', room: 'kitchen' });
    await settle();
    expect(dropped).toEqual(['kitchen']);
    await hub.close();
  });

  it('a member gone while its join waited leaves no room behind', async () => {
    const node = new InProcessCluster().node('a');
    const acknowledgements: (() => void)[] = [];
    const dropped: string[] = [];
    node.bus.serveRoom = () => new Promise<void>((resolve) => acknowledgements.push(resolve));
    node.bus.dropRoom = (room) => void dropped.push(room);
    const hub = testHub({ cluster: node });
    acknowledgements.shift()?.();
    const alice = connect(hub, { name: 'alice' });
    await settle();
    alice.send({ type: 'join', room: 'kitchen' });
    await settle();
    hub.disconnect(alice.member, 'quit');
    acknowledgements.shift()!();
    await settle(20);
    expect(dropped).toEqual(['kitchen']);
    expect(hub.rooms.has('kitchen')).toBe(false);
    await hub.close();
  });
});
