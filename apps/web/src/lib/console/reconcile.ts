// One traffic log from three sources. The raw pipe brings a device's incoming bytes live; the
// page knows what it sent itself; the gateway's log (polled over REST) has everything, including
// what neither of those sees: what the room said to the device and auto-replies. The gateway
// records an entry before it writes it to the pipe, and both keep the order of each direction,
// so an entry from the log is matched against the oldest entries the page already shows (in
// the same direction) and taken only when it is news.
import type { TrafficEntry } from '@switchboard/gateway/api-types';
import type { Direction } from './traffic-item.js';

/** How long a log entry that the pipe should bring waits for it before it is shown anyway. */
export const HOLD_MS = 1500;
/** A page's own entry that the log never confirms is forgotten after this. */
export const PENDING_MS = 30_000;
/** How far into the unconfirmed entries a log entry is looked for. */
const MATCH_DEPTH = 64;

interface Pending {
  hex: string;
  at: number;
}

/** Where the page is in the gateway's log: the newest timestamp taken, and how many entries with it. */
class LogCursor {
  #ts = -Infinity;
  #atTs = 0;

  /**
   * The entries of a page (oldest first) newer than the cursor, and whether some may be missing
   * between the cursor and the page (the page is full and starts past the cursor).
   */
  take(entries: readonly TrafficEntry[], limit: number | null): { fresh: TrafficEntry[]; gap: boolean } {
    const fresh: TrafficEntry[] = [];
    let seenAtTs = 0;
    for (const entry of entries) {
      if (entry.ts < this.#ts) continue;
      if (entry.ts === this.#ts && seenAtTs++ < this.#atTs) continue;
      fresh.push(entry);
    }
    const first = entries[0];
    const gap = limit !== null && entries.length >= limit && first !== undefined && this.#ts !== -Infinity && first.ts >= this.#ts && fresh.length === entries.length;
    if (!gap) this.#advance(entries);
    return { fresh: gap ? [] : fresh, gap };
  }

  #advance(entries: readonly TrafficEntry[]): void {
    const last = entries.at(-1);
    if (last === undefined || last.ts < this.#ts) return;
    const count = entries.filter((e) => e.ts === last.ts).length;
    this.#atTs = last.ts === this.#ts ? Math.max(this.#atTs, count) : count;
    this.#ts = last.ts;
  }
}

export class Reconciler {
  readonly #now: () => number;
  readonly #cursor = new LogCursor();
  /** Entries the page shows that the log has not confirmed yet, per direction, oldest first. */
  readonly #pending: Record<Direction, Pending[]> = { in: [], out: [] };
  /** Incoming entries the log reported while the pipe was open, waiting for the pipe to bring them. */
  #held: { entry: TrafficEntry; at: number }[] = [];
  #seeded = false;

  constructor(now: () => number = () => Date.now()) {
    this.#now = now;
  }

  get seeded(): boolean {
    return this.#seeded;
  }

  /** Bytes the pipe brought (the page shows them now). */
  pipeIn(hex: string): void {
    const held = this.#held.findIndex((h) => h.entry.hex === hex);
    if (held !== -1) {
      this.#held.splice(held, 1); // The log had it first: nothing left to confirm.
      return;
    }
    this.#pending.in.push({ hex, at: this.#now() });
  }

  /** Bytes the page wrote to the device (the page shows them now). */
  localOut(hex: string): void {
    this.#pending.out.push({ hex, at: this.#now() });
  }

  /**
   * The first page of the log: every entry is shown, but the newest ones may be what the page
   * already shows (the pipe opened, or the user sent, while the log was being read). Those are
   * the log's last entries of each direction that equal the oldest unconfirmed ones.
   */
  seed(entries: readonly TrafficEntry[]): TrafficEntry[] {
    this.#seeded = true;
    const { fresh } = this.#cursor.take(entries, null);
    const drop = new Set<TrafficEntry>();
    for (const direction of ['in', 'out'] as const) {
      const mine = fresh.filter((e) => e.direction === direction);
      const pending = this.#pending[direction];
      for (let j = Math.min(pending.length, mine.length); j > 0; j--) {
        const tail = mine.slice(mine.length - j);
        if (tail.every((e, i) => e.hex === pending[i]!.hex)) {
          for (const e of tail) drop.add(e);
          pending.splice(0, j);
          break;
        }
      }
    }
    return fresh.filter((e) => !drop.has(e));
  }

  /**
   * A later page of the log: what to show now. `gap` asks for a longer page (more entries came
   * than a page of `limit` holds; null: the page is all there is). `pipeOpen`: incoming entries
   * should come through the pipe.
   */
  poll(entries: readonly TrafficEntry[], limit: number | null, pipeOpen: boolean): { show: TrafficEntry[]; gap: boolean } {
    const now = this.#now();
    this.#expire(now);
    const { fresh, gap } = this.#cursor.take(entries, limit);
    if (gap) return { show: [], gap };
    const show: TrafficEntry[] = [];
    // Held entries the pipe never brought (it closed, or dropped them): shown now.
    this.#held = this.#held.filter((h) => {
      if (pipeOpen && now - h.at < HOLD_MS) return true;
      show.push(h.entry);
      return false;
    });
    for (const entry of fresh) {
      if (this.#confirm(entry)) continue;
      if (entry.direction === 'in' && pipeOpen) this.#held.push({ entry, at: now });
      else show.push(entry);
    }
    return { show: show.sort((a, b) => a.ts - b.ts), gap: false };
  }

  #confirm(entry: TrafficEntry): boolean {
    const pending = this.#pending[entry.direction];
    const at = pending.slice(0, MATCH_DEPTH).findIndex((p) => p.hex === entry.hex);
    if (at === -1) return false;
    pending.splice(0, at + 1); // Anything before it is not coming (the log's cap cut it, or it never went).
    return true;
  }

  #expire(now: number): void {
    for (const direction of ['in', 'out'] as const) {
      const pending = this.#pending[direction];
      const keep = pending.findIndex((p) => now - p.at < PENDING_MS);
      pending.splice(0, keep === -1 ? pending.length : keep);
    }
  }
}
