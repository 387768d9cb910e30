import { describe, expect, it } from 'vitest';
import { historyKeys, idOf, slotTag, splitId } from '../src/cluster/history-keys.js';
import { keySlot, SLOTS } from '../src/cluster/key-slot.js';

/** The history's key names and, on a Redis Cluster, its ids (docs/several-gateways.md, "Ids on a Redis Cluster"). */
describe('history keys', () => {
  it("a room's stream and its counter are in the room's slot; a private conversation's counter is the same whichever side sends", () => {
    const keys = historyKeys('switchboard:', 'per-slot');
    const stream = keys.stream({ room: 'kitchen' });
    expect(stream).toBe('switchboard:{room:kitchen}:log');
    expect(keySlot(keys.slotCounter(stream))).toBe(keySlot(stream));
    expect(keys.slotCounter(stream)).toMatch(/^switchboard:\{ids-\d+\}:message-id$/);
    expect(keys.conversation('acct:bob', 'name:alice')).toBe(keys.conversation('name:alice', 'acct:bob'));
    expect(keys.stream({ identity: 'acct:bob' })).toBe('switchboard:{identity:acct:bob}:log');
  });

  it('every slot has a tag of its own, the least `ids-<n>` in it', () => {
    const seen = new Set<string>();
    for (let slot = 0; slot < SLOTS; slot++) {
      const tag = slotTag(slot);
      expect(keySlot(tag)).toBe(slot);
      seen.add(tag);
    }
    expect(seen.size).toBe(SLOTS);
    // The least: no smaller n lands in the slot (checked for a few).
    for (const slot of [0, 1, 8000, SLOTS - 1]) {
      const n = Number(slotTag(slot).slice('ids-'.length));
      for (let m = 0; m < n; m++) expect(keySlot(`ids-${m}`)).not.toBe(slot);
    }
  });

  it('an id is sequence × 16384 + slot: unique across slots, increasing with the sequence, a safe integer up to 2^39 per slot', () => {
    expect(splitId(idOf(7, 42))).toEqual({ slot: 42, sequence: 7 });
    expect(idOf(1, 0)).not.toBe(idOf(0, 16383));
    expect(idOf(8, 3)).toBeGreaterThan(idOf(7, 3));
    const largest = idOf(2 ** 39 - 1, SLOTS - 1);
    expect(Number.isSafeInteger(largest)).toBe(true);
    expect(splitId(largest)).toEqual({ slot: SLOTS - 1, sequence: 2 ** 39 - 1 });
  });
});
