import type { HistoryEntry } from '@switchboard/protocol';
import type { Cursor, HistoryPage, Located } from './history-store.js';

/** Where a ring belongs: a room, or a private conversation between two identities. */
export type RingOwner = { room: string } | { between: readonly [string, string] };

/** A ring's bounds: the most entries it keeps and how long each stays. */
export interface RingBounds {
  size: number;
  ttlSeconds: number;
}

interface Ring {
  owner: RingOwner;
  /** Oldest first; ids increase along it. */
  items: HistoryEntry[];
  /** When each item entered the ring (the gateway's clock, ms), in step with `items`. */
  at: number[];
  /** In a conversation: the sender's identity of each item, in step with `items`. */
  senders: (string | undefined)[];
}

export interface MemoryRange {
  /** Ordered by (ts, id) instead of id: for pages over several rings. */
  byTime?: boolean | undefined;
  before?: Cursor | undefined;
  after?: Cursor | undefined;
  limit: number;
}

/** Appends between two sweeps of every ring (expired entries out, empty rings forgotten). */
const SWEEP_EVERY = 4096;

/**
 * History for rooms and conversations set to `memory` (history-setting.ts): a bounded ring each,
 * like Centrifugo's history size and TTL per namespace. Nothing here survives a restart, and
 * nothing is shared: each gateway rings what it records and what other gateways' logs bring it.
 */
export class MemoryHistory {
  readonly #rooms = new Map<string, Ring>();
  readonly #conversations = new Map<string, Ring>();
  /** Identity → the keys of its conversations' rings. */
  readonly #byIdentity = new Map<string, Set<string>>();
  #appends = 0;

  constructor(
    /** The bounds of a ring now (its room's setting, or the private one). */
    private readonly boundsOf: (owner: RingOwner) => RingBounds,
    private readonly now: () => number,
  ) {}

  /** `fromIdentity`: in a conversation, whose side sent it (names can be taken over, identities not). */
  append(owner: RingOwner, entry: HistoryEntry, fromIdentity?: string): void {
    const ring = this.#ring(owner);
    // Read again from the cluster's log (a node that serves a room again reads from the newest it has): kept once.
    const newest = ring.items.at(-1);
    if (newest !== undefined && entry.id <= newest.id && ring.items.some((item) => item.id === entry.id)) return;
    ring.items.push(entry);
    ring.at.push(this.now());
    ring.senders.push(fromIdentity);
    this.#trim(ring);
    if (++this.#appends % SWEEP_EVERY === 0) this.#sweep();
  }

  /** A file's digest, once it is complete, as the database adds it to the file's entry. */
  completeFile(id: number, sha256: string): void {
    for (const ring of [...this.#rooms.values(), ...this.#conversations.values()]) {
      const entry = ring.items.find((e) => e.id === id);
      if (entry?.kind === 'file') {
        entry.sha256 = sha256;
        return;
      }
    }
  }

  /** The entry with this id, if a ring holds it: where it stands and whose it is (a conversation's two identities). */
  locate(id: number): Located | undefined {
    for (const ring of [...this.#rooms.values(), ...this.#conversations.values()]) {
      const entry = this.#live(ring).find((e) => e.id === id);
      if (entry === undefined) continue;
      if ('room' in ring.owner) return { ts: entry.ts, room: ring.owner.room, fromIdentity: null, toIdentity: null };
      return { ts: entry.ts, room: null, fromIdentity: ring.owner.between[0], toIdentity: ring.owner.between[1] };
    }
    return undefined;
  }

  room(room: string, range: MemoryRange): HistoryPage {
    const ring = this.#rooms.get(room);
    return page(ring === undefined ? [] : this.#live(ring), range);
  }

  /** One identity's private entries, or only those with whoever goes by `peer` (by name, as the database does). */
  privateOf(identity: string, peer: string | undefined, range: MemoryRange): HistoryPage {
    const entries: HistoryEntry[] = [];
    for (const key of this.#byIdentity.get(identity) ?? []) {
      const ring = this.#conversations.get(key);
      if (ring === undefined) continue;
      const items = this.#live(ring);
      items.forEach((entry, at) => {
        // Mine with whoever goes by that name: the other side's name, mine by identity.
        const other = ring.senders[at] === identity ? ('to' in entry ? entry.to : undefined) : entry.from;
        if (peer === undefined || other?.toLowerCase() === peer.toLowerCase()) entries.push(entry);
      });
    }
    return page(entries, range);
  }

  /** The rooms given and, with `identity`, its private conversations: one page. */
  viewer(rooms: readonly string[], identity: string | null, range: MemoryRange): HistoryPage {
    const entries: HistoryEntry[] = [];
    for (const room of rooms) {
      const ring = this.#rooms.get(room);
      if (ring !== undefined) entries.push(...this.#live(ring));
    }
    if (identity !== null) entries.push(...this.privateOf(identity, undefined, { limit: Number.MAX_SAFE_INTEGER }).entries);
    return page(entries, range);
  }

  /** Everything (an operator's view). */
  all(range: MemoryRange): HistoryPage {
    const entries: HistoryEntry[] = [];
    for (const ring of [...this.#rooms.values(), ...this.#conversations.values()]) entries.push(...this.#live(ring));
    return page(entries, range);
  }

  #ring(owner: RingOwner): Ring {
    const [map, key] = 'room' in owner ? [this.#rooms, owner.room] : [this.#conversations, conversationKey(owner.between)];
    let ring = map.get(key);
    if (ring === undefined) {
      map.set(key, (ring = { owner, items: [], at: [], senders: [] }));
      if ('between' in owner) {
        for (const identity of owner.between) {
          let keys = this.#byIdentity.get(identity);
          if (keys === undefined) this.#byIdentity.set(identity, (keys = new Set()));
          keys.add(key);
        }
      }
    }
    return ring;
  }

  /** What a ring holds now: past its size and its TTL nothing. */
  #live(ring: Ring): HistoryEntry[] {
    this.#trim(ring);
    return ring.items;
  }

  #trim(ring: Ring): void {
    const { size, ttlSeconds } = this.boundsOf(ring.owner);
    const oldest = this.now() - ttlSeconds * 1000;
    let drop = Math.max(0, ring.items.length - size);
    while (drop < ring.at.length && ring.at[drop]! <= oldest) drop++;
    if (drop > 0) {
      ring.items.splice(0, drop);
      ring.at.splice(0, drop);
      ring.senders.splice(0, drop);
    }
  }

  #sweep(): void {
    for (const [key, ring] of this.#rooms) if (this.#live(ring).length === 0) this.#rooms.delete(key);
    for (const [key, ring] of this.#conversations) {
      if (this.#live(ring).length > 0 || !('between' in ring.owner)) continue;
      this.#conversations.delete(key);
      for (const identity of ring.owner.between) {
        const keys = this.#byIdentity.get(identity);
        keys?.delete(key);
        if (keys?.size === 0) this.#byIdentity.delete(identity);
      }
    }
  }
}

function conversationKey(between: readonly [string, string]): string {
  return JSON.stringify([...between].sort());
}

/** The order of a page: by id within one log, by (ts, id) across logs. */
export function compareEntries(a: { ts: number; id: number }, b: { ts: number; id: number }, byTime: boolean | undefined): number {
  return byTime === true && a.ts !== b.ts ? a.ts - b.ts : a.id - b.id;
}

/** Where an entry stands against a cursor (negative: before it), in the page's order. */
function against(entry: HistoryEntry, cursor: Cursor, byTime: boolean | undefined): number {
  if (typeof cursor === 'number') return entry.id - cursor;
  return compareEntries(entry, cursor, byTime);
}

/** A page of `entries` (in any order) as the database gives it: `after` oldest-first, otherwise the newest. */
function page(entries: readonly HistoryEntry[], range: MemoryRange): HistoryPage {
  const { before, after, byTime } = range;
  const inRange = entries
    .filter((e) => (before === undefined || against(e, before, byTime) < 0) && (after === undefined || against(e, after, byTime) > 0))
    .sort((a, b) => compareEntries(a, b, byTime));
  if (range.after !== undefined && range.before === undefined) return { entries: inRange.slice(0, range.limit), more: inRange.length > range.limit };
  return { entries: inRange.slice(Math.max(0, inRange.length - range.limit)), more: inRange.length > range.limit };
}
