import type { Link } from '../transports/link.js';

/**
 * One member's delivery state: what waits to be written to it, what its socket still holds,
 * and who waits for whom. Only `Delivery` writes these fields; everyone else reads them.
 */
export class Outbox {
  /** Frames queued this turn, written together by the next flush. */
  frames: Uint8Array[] = [];
  bytes = 0;
  /** Already on the flush list. */
  dirty = false;
  /** Its queue passed the limit: nothing more is queued; it is being disconnected. */
  overflowed = false;
  /** Bytes its socket still held after our last write (or at the last drain): what the peer has not taken. */
  socketBacklog = 0;
  /** Input paused because the gateway's outboxes are full: resumed after the next flush. */
  throttled = false;
  // The two sets below exist only while someone waits: most members never wait, and an empty
  // Set costs some 180 bytes for as long as the connection lives.
  #waiters: Set<DeliveryTarget> | undefined;
  #blockedBy: Set<DeliveryTarget> | undefined;
  /** When it started waiting (0: not waiting). */
  blockedSince = 0;
  /** Input held while one of its requests waits for the cluster (a name claim). */
  holds = 0;
  /** Closed: nothing more is queued or written. */
  closed = false;

  /** Members whose input is paused until this one drains. */
  get waiters(): ReadonlySet<DeliveryTarget> {
    return this.#waiters ?? NOBODY;
  }

  /** The members (possibly itself) this one waits for. */
  get blockedBy(): ReadonlySet<DeliveryTarget> {
    return this.#blockedBy ?? NOBODY;
  }

  addWaiter(target: DeliveryTarget): void {
    (this.#waiters ??= new Set()).add(target);
  }

  deleteWaiter(target: DeliveryTarget): void {
    if (this.#waiters?.delete(target) === true && this.#waiters.size === 0) this.#waiters = undefined;
  }

  clearWaiters(): void {
    this.#waiters = undefined;
  }

  addBlocker(target: DeliveryTarget): void {
    (this.#blockedBy ??= new Set()).add(target);
  }

  deleteBlocker(target: DeliveryTarget): void {
    if (this.#blockedBy?.delete(target) === true && this.#blockedBy.size === 0) this.#blockedBy = undefined;
  }

  clearBlockers(): void {
    this.#blockedBy = undefined;
  }
}

/** What `waiters` and `blockedBy` are while nobody waits: one empty set for every outbox. */
const NOBODY: ReadonlySet<DeliveryTarget> = new Set();

/** What Delivery needs of a member: its outbox and its connection. */
export interface DeliveryTarget {
  readonly id: string;
  readonly outbox: Outbox;
  readonly link: Link;
}
