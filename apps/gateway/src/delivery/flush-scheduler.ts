/**
 * Decides when queued outboxes are written: in batches instead of once per frame. How long a
 * flush may wait for company depends on what the last one cost: a flush that wrote to many
 * members (a wide fan-out) is worth merging with the next, so the next waits up to ~20 µs per
 * member it wrote, never more than `windowMs`; a cheap flush (a private message, a bridge
 * round trip) is followed at once, at the end of the turn. When the gateway is idle nothing
 * waits at all. Under load at K = 200 this cuts system calls per delivery several times over.
 *
 * The stretch: a write's fixed cost (a system call, and on loopback the wake-up of the reader)
 * is paid per member and per flush, so at moderate rates a wide room still pays it for a few
 * frames each (4 at 1,000 msg/s in a 4 ms window). When the window ends and the outboxes hold
 * several frames each but fewer than STRETCH_UNTIL_FRAMES, the flush waits on until they are
 * expected to hold that many, up to ~50 µs per member the last flush wrote and never more than
 * `stretch.maxWindowMs` after it: no frame waits longer. Sparse frames (about one per outbox: private messages) are
 * not stretched, since waiting would not join them; at high rates the outboxes are full enough
 * when the window ends, so the flush is not stretched either.
 *
 * Group commit: each flush first commits the history rows recorded since the last one, and a
 * commit has a fixed cost (the WAL's pages) that a few rows cannot carry: at 2-6 rows a commit, as private messages came at 2,000-8,000 msg/s, it cost
 * 2-4× per row what a commit of 64 did. So while rows keep coming (the last commit carried
 * more than one) a flush with rows to commit waits until `commitWindowMs` after the last
 * commit, or until COMMIT_AT_ROWS rows are waiting, whichever is first. A lone message (a
 * sequential round trip) commits at once. Not 256, though 64 cost about a third more per row
 * (the history store alone): a client with 64 requests in flight (the bridge's bench) then
 * waited out the window on every round, at a quarter of its rate.
 */

/** How long the next flush may wait for each member the last one wrote to. */
const WAIT_PER_WRITE_MS = 0.02;
/** How far the stretch may take it, for each member the last flush wrote to. */
const STRETCH_PER_WRITE_MS = 0.05;
/** Outboxes holding this many frames each (on average) are worth a write: the stretch ends. */
export const STRETCH_UNTIL_FRAMES = 32;
/** Fewer frames than this each: they are sparse, and waiting would not join them. */
const STRETCH_FROM_FRAMES = 2;
/** This many history rows waiting are worth a commit now, at the end of this turn. */
export const COMMIT_AT_ROWS = 64;

/** What the stretch needs: its bound, and how full the outboxes are. */
export interface FlushStretch {
  /** No flush is stretched beyond this long after the last one (--flush-window-max-ms). */
  readonly maxWindowMs: number;
  /** Frames waiting for the coming flush per outbox waiting for it, on average. */
  framesPerOutbox(): number;
}

export class FlushScheduler {
  #scheduled = false;
  /** The timer of a flush that waits (undefined: none, or the flush comes at the end of this turn). */
  #timer: NodeJS.Timeout | undefined;
  /** The timer waits for the stretch: the window has ended already. */
  #stretching = false;
  #lastFlushAt = -Infinity;
  /** Members written by the last flush: its cost, roughly. */
  #lastWrites = 0;
  /** History rows waiting for the next commit, and how many the last one carried. */
  #rowsWaiting = 0;
  #lastCommitRows = 0;

  constructor(
    /** Runs the flush and returns how many members it wrote to and how many history rows it committed. */
    private readonly flush: () => { writes: number; rows: number },
    private readonly windowMs: number,
    private readonly commitWindowMs = 0,
    private readonly stretch?: FlushStretch,
  ) {}

  /** Make sure a flush is coming. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#arm(Math.max(this.#framesWait(), this.#commitWait()));
  }

  /** `rows` history rows wait for the next commit (the count so far, since the last flush). */
  scheduleCommit(rows: number): void {
    this.#rowsWaiting = rows;
    // A stretched flush ends when the writes want it: the rows ride along, as in the window.
    if (rows === COMMIT_AT_ROWS && this.#timer !== undefined && !this.#stretching) {
      // Enough to carry a commit: the flush comes as soon as the writes' own window allows.
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#arm(this.#framesWait());
      return;
    }
    this.schedule();
  }

  /** What the writes ask for: a wide last flush is worth waiting to merge with. */
  #framesWait(): number {
    const window = Math.min(this.windowMs, this.#lastWrites * WAIT_PER_WRITE_MS);
    return this.#lastFlushAt + window - performance.now();
  }

  /** What the rows ask for: while they keep coming, company for the next commit (-Infinity: nothing). */
  #commitWait(): number {
    if (this.#rowsWaiting === 0 || this.#rowsWaiting >= COMMIT_AT_ROWS || this.#lastCommitRows <= 1) return -Infinity;
    return this.#lastFlushAt + this.commitWindowMs - performance.now();
  }

  #arm(wait: number): void {
    // Timers do not go below a millisecond: shorter waits are not worth one.
    if (wait < 1) setImmediate(this.#run);
    else this.#timer = setTimeout(this.#windowEnded, wait);
  }

  /** The window ended: flush now, or stretch it while the outboxes fill (see the top). */
  readonly #windowEnded = (): void => {
    this.#timer = undefined;
    const wait = this.#stretchWait();
    if (wait < 1) {
      this.#run();
      return;
    }
    this.#stretching = true;
    this.#timer = setTimeout(this.#run, wait);
  };

  /** How much longer the stretch asks for (< 1: none). */
  #stretchWait(): number {
    const stretch = this.stretch;
    if (stretch === undefined || this.windowMs === 0) return 0;
    const elapsed = performance.now() - this.#lastFlushAt;
    const bound = Math.min(stretch.maxWindowMs, this.#lastWrites * STRETCH_PER_WRITE_MS);
    if (elapsed >= bound) return 0;
    const frames = stretch.framesPerOutbox();
    if (frames < STRETCH_FROM_FRAMES || frames >= STRETCH_UNTIL_FRAMES) return 0;
    // They came at a steady pace since the last flush: when will there be enough?
    const enough = (elapsed * STRETCH_UNTIL_FRAMES) / frames;
    return Math.min(bound, enough) - elapsed;
  }

  /** The flush could not run (its commit failed): the next one comes after `ms`, whatever asks sooner. */
  retry(ms: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#scheduled = true;
    this.#stretching = false;
    this.#timer = setTimeout(this.#run, ms);
  }

  /** Flush now (shutdown); a scheduled flush still runs and finds little to do. */
  flushNow(): void {
    this.#run();
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    this.#stretching = false;
    // flushNow() while a timer waits: that flush is this one.
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#lastFlushAt = performance.now();
    const { writes, rows } = this.flush();
    this.#lastWrites = writes;
    this.#rowsWaiting = 0;
    // A flush that committed nothing (frames alone) says nothing about the rows' pace.
    if (rows > 0) this.#lastCommitRows = rows;
  };
}
