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
  /** Members whose input is paused until this one drains. */
  readonly waiters = new Set<DeliveryTarget>();
  /** The members (possibly itself) this one waits for. */
  readonly blockedBy = new Set<DeliveryTarget>();
  /** When it started waiting (0: not waiting). */
  blockedSince = 0;
  /** Input held while one of its requests waits for the cluster (a name claim). */
  holds = 0;
  /** Closed: nothing more is queued or written. */
  closed = false;
}

/** What Delivery needs of a member: its outbox and its connection. */
export interface DeliveryTarget {
  readonly id: string;
  readonly outbox: Outbox;
  readonly link: Link;
}
