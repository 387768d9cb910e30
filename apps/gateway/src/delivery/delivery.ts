import type { DeliveryTarget, Outbox } from './outbox.js';
import type { HubTotals } from '../hub/totals.js';
import { FlushScheduler } from './flush-scheduler.js';

/** How long a failed history commit waits before it is tried again. */
export const COMMIT_RETRY_MS = 100;

/** What metrics watch: each flush's wait and width, and each history commit. */
export interface DeliveryObserver {
  /** A flush wrote `writes` outboxes, the oldest of whose frames had waited `waitedMs`. */
  flushed(waitedMs: number, writes: number): void;
  /** The commit before a flush took `ms`. */
  committed(ms: number): void;
}

export interface DeliveryOptions {
  /** A member's queue (outbox and socket) may not pass this while its peer is not reading. */
  maxQueueBytes: number;
  /** Longest a flush waits for more frames to batch (the scheduler's window). */
  flushWindowMs: number;
  /** How far a wide flush's window may stretch while outboxes fill (FlushScheduler's stretch; default: no stretch). */
  flushWindowMaxMs?: number;
  /** Longest a history commit waits for more rows while rows keep coming (group commit; FlushScheduler). */
  commitWindowMs?: number;
  /** Runs before any socket is written: the history commit, so what a member reads is stored. Returns the rows committed. */
  beforeWrite: () => number | undefined;
  /** The commit threw: nothing was written, and the flush is tried again after COMMIT_RETRY_MS. */
  commitFailed?: (error: Error) => void;
  /** A member stopped reading and passed its queue limit: the hub disconnects it. */
  overflowed: (target: DeliveryTarget, limit: number) => void;
  now?: () => number;
  /** Frames and bytes written, by transport: counted once per write, not once per frame. */
  totals?: Pick<HubTotals, 'framesOut' | 'bytesOut'>;
}

/** Input is paused above this many queued bytes for the member itself or a file's receivers. */
export const HIGH_WATER_BYTES = 256 * 1024;
/**
 * When this much is queued in outboxes, waiting for the next flush, the gateway is behind its
 * own input: senders are paused until the flush, instead of anyone being cut off.
 */
export const INPUT_THROTTLE_BYTES = 16 * 1024 * 1024;

/**
 * Delivery: the one place that queues frames for members and decides whose input is paused.
 * Frames are queued per member and written by the flush scheduler in one write per member;
 * the same encoded frame object goes to every member of a fan-out, never copied.
 *
 * Flow control, all of it here:
 * - a member whose socket holds more than `maxQueueBytes` that its peer has not read is cut
 *   (overflow), and only that member;
 * - a member that asks for more than it reads, or a file sender whose receivers are behind,
 *   is paused (`block`) until they drain;
 * - when the outboxes together pass INPUT_THROTTLE_BYTES, every sender is paused until the
 *   next flush (throttle), so overload slows senders instead of cutting members.
 * Input is resumed outside the flush loop, so a flush never re-enters reading.
 */
export class Delivery {
  readonly #options: DeliveryOptions;
  readonly #now: () => number;
  readonly #scheduler: FlushScheduler;
  #dirty: DeliveryTarget[] = [];
  /** Bytes in all outboxes (queued, not yet flushed). */
  #queuedTotal = 0;
  /** Frames in all outboxes: how full they are, for the flush's stretch. */
  #framesQueued = 0;
  readonly #throttled: DeliveryTarget[] = [];
  /** Members to resume once the flush loop is done. */
  #resumeAfterFlush: DeliveryTarget[] = [];
  #flushing = false;
  /** When the oldest frame still waiting for a flush was queued. */
  #oldestQueuedAt = 0;
  /** Set by the metrics plugin; nothing by default. */
  observer: DeliveryObserver | undefined;

  constructor(options: DeliveryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const stretch = {
      maxWindowMs: options.flushWindowMaxMs ?? 0,
      framesPerOutbox: () => (this.#dirty.length === 0 ? 0 : this.#framesQueued / this.#dirty.length),
    };
    this.#scheduler = new FlushScheduler(() => this.#flush(), options.flushWindowMs, options.commitWindowMs, stretch);
  }

  /** Bytes queued in every outbox, waiting for the next flush. */
  get queuedBytes(): number {
    return this.#queuedTotal;
  }

  /**
   * Queues one encoded frame for a member. A member whose queue would pass the limit while
   * its peer holds bytes unread is cut (it stopped reading) instead of slowing everyone else.
   */
  deliver(target: DeliveryTarget, frame: Uint8Array): void {
    const box = target.outbox;
    if (box.closed || box.overflowed) return;
    // Cut off for what its peer has not taken (the socket's backlog), not for the gateway's
    // own lag: outboxes waiting for a flush are bounded by throttling input instead.
    if (box.socketBacklog > 0 && box.socketBacklog + box.bytes + frame.length > this.#options.maxQueueBytes) {
      this.#overflow(target);
      return;
    }
    box.frames.push(frame);
    box.bytes += frame.length;
    this.#queuedTotal += frame.length;
    this.#framesQueued++;
    if (!box.dirty) {
      box.dirty = true;
      if (this.#dirty.length === 0) this.#oldestQueuedAt = performance.now();
      this.#dirty.push(target);
      this.#scheduler.schedule();
    }
  }

  /** Make sure a flush comes this turn (a history write with no frame to send yet). */
  schedule(): void {
    this.#scheduler.schedule();
  }

  /** `rows` history rows wait for their commit: a flush is coming, soon enough for them (group commit). */
  scheduleCommit(rows: number): void {
    this.#scheduler.scheduleCommit(rows);
  }

  flushNow(): void {
    this.#scheduler.flushNow();
  }

  /** Bytes waiting for a member: in its outbox and in its socket. */
  queuedFor(target: DeliveryTarget): number {
    return target.outbox.bytes + target.link.bufferedBytes;
  }

  isBackedUp(target: DeliveryTarget): boolean {
    return this.queuedFor(target) > HIGH_WATER_BYTES;
  }

  /** Pauses `sender`'s input until `receiver` drains (file flow control, own backlog). */
  block(sender: DeliveryTarget, receiver: DeliveryTarget): void {
    const box = sender.outbox;
    if (box.closed || receiver.outbox.closed || box.blockedBy.has(receiver)) return;
    if (box.blockedBy.size === 0) {
      box.blockedSince = this.#now();
      sender.link.pauseInput();
    }
    box.addBlocker(receiver);
    receiver.outbox.addWaiter(sender);
  }

  /** After a member's input was handled: pause it if it outruns its own reading, or the gateway. */
  afterInput(target: DeliveryTarget): void {
    const box = target.outbox;
    if (box.closed) return;
    // A member that sends requests but does not read the replies stops being read.
    if (this.isBackedUp(target)) this.block(target, target);
    if (this.#queuedTotal > INPUT_THROTTLE_BYTES && !box.throttled) {
      box.throttled = true;
      target.link.pauseInput();
      this.#throttled.push(target);
    }
  }

  /** Holds a member's input while one of its requests waits (its later frames wait their turn). */
  hold(target: DeliveryTarget): void {
    if (target.outbox.holds++ === 0) target.link.pauseInput();
  }

  unhold(target: DeliveryTarget): void {
    target.outbox.holds--;
    if (this.#free(target.outbox)) this.#resume(target);
  }

  /** The member's socket drained: resume whoever waited on it. */
  drained(target: DeliveryTarget): void {
    const box = target.outbox;
    box.socketBacklog = target.link.bufferedBytes;
    if (this.queuedFor(target) > HIGH_WATER_BYTES / 2) return;
    for (const waiter of box.waiters) this.#unblock(waiter, target);
    box.clearWaiters();
  }

  /**
   * Stops waiting for `receivers` (they stay behind: a stalled file transfer drops them);
   * the sender's input runs again when nothing else holds it.
   */
  release(sender: DeliveryTarget, receivers: Iterable<DeliveryTarget>): void {
    for (const receiver of receivers) {
      receiver.outbox.deleteWaiter(sender);
      this.#unblock(sender, receiver);
    }
  }

  /** How long `target` has waited for others (0: not waiting). */
  waitingSince(target: DeliveryTarget): number {
    return target.outbox.blockedBy.size > 0 ? target.outbox.blockedSince : 0;
  }

  /**
   * The member is leaving: nothing more is queued for it, whoever waited on it goes on, and
   * what was still queued is returned, to be written before its goodbye.
   */
  close(target: DeliveryTarget): Uint8Array[] {
    const box = target.outbox;
    if (box.closed) return [];
    box.closed = true;
    const left = box.frames;
    this.#queuedTotal -= box.bytes;
    this.#framesQueued -= left.length;
    box.frames = [];
    box.bytes = 0;
    for (const waiter of box.waiters) this.#unblock(waiter, target);
    box.clearWaiters();
    for (const blocker of box.blockedBy) blocker.outbox.deleteWaiter(target);
    box.clearBlockers();
    return left;
  }

  #unblock(sender: DeliveryTarget, receiver: DeliveryTarget): void {
    const box = sender.outbox;
    box.deleteBlocker(receiver);
    if (this.#free(box)) this.#resume(sender);
  }

  /** Nothing holds its input: not waiting for anyone, not throttled, not held. */
  #free(box: Outbox): boolean {
    return box.blockedBy.size === 0 && !box.throttled && box.holds === 0 && !box.closed;
  }

  #resume(target: DeliveryTarget): void {
    // Resuming input may hand out held frames at once (and so queue more): never inside the loop.
    if (this.#flushing) this.#resumeAfterFlush.push(target);
    else target.link.resumeInput();
  }

  #overflow(target: DeliveryTarget): void {
    const box = target.outbox;
    // What is queued will never be read in time: drop it and stop queueing. The hub disconnects
    // it after the current fan-out loop (we may be iterating the member's room right now).
    box.overflowed = true;
    this.#queuedTotal -= box.bytes;
    this.#framesQueued -= box.frames.length;
    box.frames = [];
    box.bytes = 0;
    const limit = this.#options.maxQueueBytes;
    queueMicrotask(() => this.#options.overflowed(target, limit));
  }

  #flush(): { writes: number; rows: number } {
    const started = performance.now();
    let rows: number;
    try {
      rows = this.#options.beforeWrite() ?? 0;
    } catch (error) {
      // No socket is written while the commit fails, so no acknowledgement leaves for a message
      // that is not stored; outboxes keep their frames (senders are throttled as they fill) and
      // the commit is tried again.
      this.#options.commitFailed?.(error as Error);
      this.#scheduler.retry(COMMIT_RETRY_MS);
      return { writes: 0, rows: 0 };
    }
    const committed = performance.now();
    const targets = this.#dirty;
    this.#dirty = [];
    let writes = 0;
    this.#flushing = true;
    try {
      for (const target of targets) {
        const box = target.outbox;
        box.dirty = false;
        if (box.closed || box.overflowed || box.frames.length === 0) continue;
        const frames = box.frames;
        const totals = this.#options.totals;
        if (totals !== undefined) {
          const transport = target.link.transport;
          totals.framesOut[transport] += frames.length;
          totals.bytesOut[transport] += box.bytes;
        }
        box.frames = [];
        box.bytes = 0;
        target.link.write(frames);
        writes++;
        // What did its socket not take?
        box.socketBacklog = target.link.bufferedBytes;
        if (box.socketBacklog > this.#options.maxQueueBytes) this.#overflow(target);
        else if (box.waiters.size > 0) this.drained(target);
      }
    } finally {
      this.#flushing = false;
    }
    this.#queuedTotal = 0;
    this.#framesQueued = 0;
    if (this.observer !== undefined) {
      this.observer.committed(committed - started);
      if (writes > 0) this.observer.flushed(performance.now() - this.#oldestQueuedAt, writes);
    }
    // Every outbox is empty again: throttled senders go on, then whoever was unblocked.
    for (const target of this.#throttled.splice(0)) {
      target.outbox.throttled = false;
      if (this.#free(target.outbox)) target.link.resumeInput();
    }
    for (const target of this.#resumeAfterFlush.splice(0)) {
      if (this.#free(target.outbox)) target.link.resumeInput();
    }
    return { writes, rows };
  }
}
