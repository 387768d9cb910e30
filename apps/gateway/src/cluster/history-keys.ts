import { keySlot, SLOTS } from './key-slot.js';

/** Where a history entry is logged: a room's stream, or one identity's private conversations. */
export type LogStream = { room: string } | { identity: string };

/**
 * The history's Redis keys, named here only; each room's stream carries the room's hash tag,
 * `{room:<name>}`, like its pub/sub channel, and each identity's private stream `{identity:<id>}`.
 * Where ids come from is the layout's:
 * - `one-counter` (one Redis): one counter under `{shared}` (the append script names it and a
 *   stream in two slots, which one Redis allows); ids increase across every room.
 * - `per-slot` (a Redis Cluster): one counter per hash slot, in that slot (`slotCounter`), so the
 *   append script runs on the shard of the room's slot alone and no message touches `{shared}`.
 *   An id is `sequence × 16384 + slot` (idOf): unique (no two slots share the low part, no two
 *   entries of one slot a sequence), increasing within a room (its slot's counter only grows),
 *   not across rooms. A private message's id is taken in its conversation's slot (conversation).
 */
export interface HistoryKeys {
  readonly ids: 'one-counter' | 'per-slot';
  /** `one-counter`: the message id counter (INCR). */
  readonly counter: string;
  stream(of: LogStream): string;
  /** `per-slot`: the counter of a key's hash slot, in that slot. */
  slotCounter(key: string): string;
  /** `per-slot`: a key in the slot whose counter gives the ids of the private conversation between two identities (either order). */
  conversation(a: string, b: string): string;
}

export type HistoryKeyLayout = 'one-counter' | 'per-slot';

export function historyKeys(prefix: string, layout: HistoryKeyLayout): HistoryKeys {
  return {
    ids: layout,
    counter: `${prefix}{shared}:message-id`,
    stream: (of) => ('room' in of ? `${prefix}{room:${of.room}}:log` : `${prefix}{identity:${of.identity}}:log`),
    slotCounter: (key) => `${prefix}{${slotTag(keySlot(key))}}:message-id`,
    conversation: (a, b) => `${prefix}{conversation:${[a, b].sort().join('|')}}`,
  };
}

/** Per-slot ids: `sequence × 16384 + slot` stays a JS safe integer up to 2^39 entries per slot. */
export function idOf(sequence: number, slot: number): number {
  return sequence * SLOTS + slot;
}

/** The slot and sequence an id (per-slot layout) was taken from. */
export function splitId(id: number): { slot: number; sequence: number } {
  return { slot: id % SLOTS, sequence: Math.floor(id / SLOTS) };
}

let tags: string[] | undefined;

/**
 * A hash tag that lands in `slot`: `ids-<n>` for the smallest n whose CRC16 is that slot, so every
 * gateway (and any reader of the docs) names the same counter for a slot. The table is built
 * once (about 170,000 tags tried, a few milliseconds).
 */
export function slotTag(slot: number): string {
  if (tags === undefined) {
    const table: string[] = new Array<string>(SLOTS);
    let found = 0;
    for (let n = 0; found < SLOTS; n++) {
      const tag = `ids-${n}`;
      const at = keySlot(tag);
      if (table[at] === undefined) {
        table[at] = tag;
        found++;
      }
    }
    tags = table;
  }
  return tags[slot]!;
}
