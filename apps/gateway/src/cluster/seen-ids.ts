import { splitId } from './history-keys.js';

/**
 * The message ids this node has taken or read, which both the append side and the read side
 * feed: if Redis comes back without its data, ids go on above the highest; with per-slot ids, a
 * slot's next id goes on above the highest sequence known of that slot.
 */
export class SeenIds {
  #highest: number;
  /** Per-slot ids: the highest sequence this node knows of each slot, and the least any slot's next id takes (above its own history at start). */
  readonly #slotSequences = new Map<number, number>();
  readonly #startSequence: number;
  readonly #perSlot: boolean;

  /** `lastHistoryId`: the highest message id this node's own history holds. */
  constructor(lastHistoryId: number, perSlot: boolean) {
    this.#highest = lastHistoryId;
    this.#startSequence = splitId(lastHistoryId).sequence + 1;
    this.#perSlot = perSlot;
  }

  get highest(): number {
    return this.#highest;
  }

  /** An id this node took or read: a slot's next id goes on above it (per-slot layout), and the highest is what RAISE_COUNTER keeps (one counter). */
  saw(id: number): void {
    this.#highest = Math.max(this.#highest, id);
    if (!this.#perSlot) return;
    const { slot, sequence } = splitId(id);
    if (sequence > (this.#slotSequences.get(slot) ?? 0)) this.#slotSequences.set(slot, sequence);
  }

  /** The sequence a slot's next id must go above (the append scripts' floor). */
  floorOf(slot: number): number {
    return Math.max(this.#slotSequences.get(slot) ?? 0, this.#startSequence - 1);
  }
}
