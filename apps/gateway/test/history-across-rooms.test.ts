import type { HistoryEntry } from '@switchboard/protocol';
import { describe, expect, it } from 'vitest';
import { SqliteHistoryStore } from '../src/history/sqlite-history-store.js';
import { connect, settle, testHub } from './memory-link.js';

// Ids taken per room (sequence × 2^21 + room number, as on a Redis Cluster with each room's
// counter on its own shard) increase within a room only: beta, the busier room, has the larger
// ids though alpha's messages are interleaved with its own in time.
const SHARD = 2 ** 21;
const timeline = [
  { room: 'beta', id: 10 * SHARD + 2, ts: 1_000, text: 'word b1' },
  { room: 'alpha', id: 1 * SHARD + 1, ts: 2_000, text: 'word a1' },
  { room: 'beta', id: 11 * SHARD + 2, ts: 3_000, text: 'word b2' },
  { room: 'alpha', id: 2 * SHARD + 1, ts: 4_000, text: 'word a2' },
  { room: 'beta', id: 12 * SHARD + 2, ts: 5_000, text: 'word b3' },
  { room: 'alpha', id: 3 * SHARD + 1, ts: 6_000, text: 'word a3' },
];
const textOf = (entries: readonly HistoryEntry[]): string[] => entries.map((e) => ('text' in e ? e.text : e.name).replace('word ', ''));

function filledStore(): SqliteHistoryStore {
  const store = new SqliteHistoryStore(null);
  for (const { room, id, ts, text } of timeline) store.append({ kind: 'message', room, from: 'zed', transport: 'tcp', text }, id, ts);
  store.flush();
  return store;
}

describe('history across rooms whose ids do not compare', () => {
  it('pages the operator view by (ts, id), continuing from where the cursor entry stands in time; one room stays by id', async () => {
    const store = filledStore();
    const hub = testHub({ history: store });
    const history = hub.history;
    expect(textOf(history.forOperator({ limit: 10 }).entries)).toEqual(['b1', 'a1', 'b2', 'a2', 'b3', 'a3']);
    const newest = history.forOperator({ limit: 2 });
    expect(textOf(newest.entries)).toEqual(['b3', 'a3']);
    expect(newest.more).toBe(true);
    // Before b3 (ts 5000) by time: a2 and b2, though a2's id is far below b3's and a3's is too.
    const back = history.forOperator({ before: newest.entries[0]!.id, limit: 2 });
    expect(textOf(back.entries)).toEqual(['b2', 'a2']);
    expect(textOf(history.forOperator({ before: back.entries[0]!.id, limit: 5 }).entries)).toEqual(['b1', 'a1']);
    expect(textOf(history.forOperator({ after: timeline[1]!.id, limit: 3 }).entries)).toEqual(['b2', 'a2', 'b3']);
    expect(textOf(history.forOperator({ after: 0, limit: 2 }).entries)).toEqual(['b1', 'a1']);
    // An id nobody stored places nothing.
    expect(() => history.forOperator({ before: 7 * SHARD + 3, limit: 2 })).toThrow(expect.objectContaining({ code: 'INVALID_MESSAGE' }));
    // Within one room, by id as before.
    expect(textOf(history.room('alpha', { after: timeline[1]!.id, limit: 5 }).entries)).toEqual(['a2', 'a3']);
    await hub.close();
  });

  it('answers a member over the protocol in time order, for history without a room, private: true and search', async () => {
    const store = filledStore();
    const hub = testHub({ history: store });
    const alice = connect(hub, { name: 'alice', room: 'alpha' });
    alice.send({ type: 'join', room: 'beta' });
    const bob = connect(hub, { name: 'bob', room: 'alpha' });
    await settle(20);
    // Private entries of alice's, with ids again in no time order (each identity's own counter).
    const privately = (id: number, ts: number, text: string, from: typeof alice, to: typeof alice): void =>
      store.append(
        {
          kind: 'private',
          from: from.member.name,
          to: to.member.name,
          transport: 'tcp',
          text,
          fromIdentity: from.member.identity,
          toIdentity: to.member.identity,
        },
        id,
        ts,
      );
    privately(40 * SHARD + 7, 2_500, 'word p1', bob, alice);
    privately(5 * SHARD + 8, 4_500, 'word p2', alice, bob);
    store.flush();
    const replies = (): number => alice.link.of('history').length + alice.link.of('search').length + alice.link.of('error').length;
    const ask = async (message: Parameters<typeof alice.send>[0]): Promise<unknown> => {
      const before = replies();
      alice.send(message);
      for (let i = 0; i < 100 && replies() === before; i++) await settle();
      return alice.link.received.at(-1);
    };

    const all = (await ask({ type: 'history', limit: 10 })) as { entries: HistoryEntry[] };
    expect(textOf(all.entries)).toEqual(['b1', 'a1', 'p1', 'b2', 'a2', 'p2', 'b3', 'a3']);
    const before = (await ask({ type: 'history', before: timeline[4]!.id, limit: 3 })) as { entries: HistoryEntry[]; more: boolean };
    expect(textOf(before.entries)).toEqual(['b2', 'a2', 'p2']);
    expect(before.more).toBe(true);
    const after = (await ask({ type: 'history', after: 40 * SHARD + 7, limit: 3 })) as { entries: HistoryEntry[]; more: boolean };
    expect(textOf(after.entries)).toEqual(['b2', 'a2', 'p2']);
    const mine = (await ask({ type: 'history', private: true, before: 5 * SHARD + 8 })) as { entries: HistoryEntry[] };
    expect(textOf(mine.entries)).toEqual(['p1']);
    const found = (await ask({ type: 'search', q: 'word', limit: 4 })) as { entries: HistoryEntry[]; more: boolean };
    expect(textOf(found.entries)).toEqual(['a3', 'b3', 'p2', 'a2']); // newest first
    expect(found.more).toBe(true);
    const next = (await ask({ type: 'search', q: 'word', before: found.entries.at(-1)!.id })) as { entries: HistoryEntry[] };
    expect(textOf(next.entries)).toEqual(['b2', 'p1', 'a1', 'b1']);
    // Within one room, search stays by id.
    const inBeta = (await ask({ type: 'search', q: 'word', room: 'beta', before: timeline[4]!.id })) as { entries: HistoryEntry[] };
    expect(textOf(inBeta.entries)).toEqual(['b2', 'b1']);

    // A cursor naming an entry alice may not read (bob is not in beta, but alice's own private
    // entry is not bob's to place) or one not kept here: INVALID_MESSAGE, and the connection stays.
    bob.send({ type: 'history', private: true, before: 40 * SHARD + 7 });
    await settle(20);
    expect(bob.link.of('history').some((h) => h.private === true)).toBe(true);
    const carol = connect(hub, { name: 'carol', room: 'alpha' });
    await settle(20);
    carol.send({ type: 'history', before: 5 * SHARD + 8 });
    carol.send({ type: 'search', q: 'word', before: 999 });
    await settle(20);
    expect(carol.link.of('error').map((e) => e.code)).toEqual(['INVALID_MESSAGE', 'INVALID_MESSAGE']);
    expect(carol.link.ended).toBe(false);
    await hub.close();
  });

  it('merges a memory room with a durable one in (ts, id) order, a cursor in the ring placed by its own ts', async () => {
    const hub = testHub();
    const history = hub.history;
    history.roomSetting = (room) => (room === 'beta' ? { mode: 'memory', size: 100, ttlSeconds: 3600 } : { mode: 'durable' });
    // The log takes ids in the order recorded; the times say otherwise.
    for (const { room, ts, text } of [...timeline.filter((e) => e.room === 'alpha'), ...timeline.filter((e) => e.room === 'beta')]) {
      await history.record({ kind: 'message', room, from: 'zed', transport: 'tcp', text }, ts);
    }
    history.flush();
    expect(textOf(history.forOperator({ limit: 10 }).entries)).toEqual(['b1', 'a1', 'b2', 'a2', 'b3', 'a3']);
    const newest = history.forOperator({ limit: 3 });
    expect(textOf(newest.entries)).toEqual(['a2', 'b3', 'a3']);
    const b3 = newest.entries[1]!.id; // in the ring only
    expect(textOf(history.forOperator({ before: b3, limit: 2 }).entries)).toEqual(['b2', 'a2']);
    expect(textOf(history.forOperator({ after: b3, limit: 5 }).entries)).toEqual(['a3']);
    const member = { identity: 'nobody', rooms: ['alpha', 'beta'], visitor: { account: null, role: null } };
    expect(textOf(history.forMember(member, { after: b3 }).entries)).toEqual(['a3']);
    await hub.close();
  });
});
