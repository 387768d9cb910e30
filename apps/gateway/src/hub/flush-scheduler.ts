import type { Member } from './member.js';

/**
 * Writes members' queued frames once per event-loop turn instead of once per frame: a member
 * that receives twenty messages in a turn gets one batched write. Before any socket is written,
 * `beforeWrite` runs (the history commit), so what a member reads is already stored.
 */
export class FlushScheduler {
  #dirty: Member[] = [];
  #scheduled = false;

  constructor(
    private readonly beforeWrite: () => void,
    private readonly afterWrite: (member: Member) => void,
  ) {}

  /** Queue a member's outbox for this turn's flush. */
  add(member: Member): void {
    this.#dirty.push(member);
    this.schedule();
  }

  /** Make sure a flush runs this turn even if no member is dirty (history still commits). */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  flushNow(): void {
    this.#run();
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    this.beforeWrite();
    const members = this.#dirty;
    this.#dirty = [];
    for (const member of members) {
      member.dirty = false;
      if (member.state === 'closed' || member.overflowed || member.pending.length === 0) continue;
      const frames = member.pending;
      member.pending = [];
      member.pendingBytes = 0;
      member.link.write(frames);
      if (member.waiters.size > 0) this.afterWrite(member);
    }
  };
}
