import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { COMMIT_AT_ROWS, FlushScheduler } from '../src/delivery/flush-scheduler.js';

// The group commit (issue 26): while history rows keep coming, a commit waits for company
// within its window, or until COMMIT_AT_ROWS rows wait; a lone row is committed at once.

function scheduler(commitWindowMs: number, writes = 1, flushWindowMs = 4) {
  const commits: number[] = [];
  let waiting = 0;
  let flushed: () => void = () => undefined;
  const s = new FlushScheduler(
    () => {
      commits.push(waiting);
      const rows = waiting;
      waiting = 0;
      flushed();
      return { writes, rows };
    },
    flushWindowMs,
    commitWindowMs,
  );
  return {
    commits,
    record(rows: number) {
      for (let i = 0; i < rows; i++) s.scheduleCommit(++waiting);
    },
    nextFlush: () => new Promise<void>((resolve) => (flushed = resolve)),
  };
}

describe('FlushScheduler, group commit', () => {
  it('commits a lone row at the end of the turn, each time', async () => {
    const s = scheduler(1000);
    for (let i = 0; i < 3; i++) {
      s.record(1);
      await nextTurn();
    }
    expect(s.commits).toEqual([1, 1, 1]);
  });

  it('while rows keep coming, waits for the window, or for COMMIT_AT_ROWS rows', async () => {
    const s = scheduler(1000);
    s.record(3);
    await nextTurn();
    // The last commit carried 3: rows keep coming, so the next commit waits for more.
    s.record(5);
    await nextTurn();
    expect(s.commits).toEqual([3]);
    s.record(COMMIT_AT_ROWS - 5);
    await nextTurn();
    expect(s.commits).toEqual([3, COMMIT_AT_ROWS]);
    // And what waits less than that is committed when the window ends.
    const flushed = s.nextFlush();
    s.record(2);
    await nextTurn();
    expect(s.commits).toEqual([3, COMMIT_AT_ROWS]);
    await flushed;
    expect(s.commits).toEqual([3, COMMIT_AT_ROWS, 2]);
  });

  it('with --commit-window-ms 0 commits every turn', async () => {
    const s = scheduler(0);
    s.record(3);
    await nextTurn();
    s.record(5);
    await nextTurn();
    expect(s.commits).toEqual([3, 5]);
  });

  it("never shortens the writes' own window: a wide fan-out still waits to share its writes", async () => {
    // Each flush wrote to 100,000 members: the next may wait the whole flush window (1 s here) for company.
    const s = scheduler(1, 100_000, 1000);
    s.record(2);
    await nextTurn();
    const flushed = s.nextFlush();
    s.record(COMMIT_AT_ROWS);
    await nextTurn();
    expect(s.commits).toEqual([2]);
    await flushed;
    expect(s.commits).toEqual([2, COMMIT_AT_ROWS]);
  });
});

// The stretch (issue 26): a wide fan-out at a moderate rate waits on past its window until each
// member has gathered STRETCH_UNTIL_FRAMES frames, up to 50 µs per member written and never past
// --flush-window-max-ms; a lone message, sparse frames and full outboxes are not stretched.
describe('FlushScheduler, the stretch', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Frames arrive at `framesPerMs` per outbox from each flush on; the flushes' times are kept. */
  function stretched(options: { writes: number; framesPerMs: number; windowMs?: number; maxWindowMs?: number }) {
    const flushedAt: number[] = [];
    let lastFlushAt = 0;
    const s = new FlushScheduler(
      () => {
        lastFlushAt = performance.now();
        flushedAt.push(lastFlushAt);
        return { writes: options.writes, rows: 0 };
      },
      options.windowMs ?? 4,
      0,
      { maxWindowMs: options.maxWindowMs ?? 10, framesPerOutbox: () => (performance.now() - lastFlushAt) * options.framesPerMs },
    );
    return {
      flushedAt,
      /** A frame is queued now: the first flush (after a quiet spell) comes at the end of the turn; then each waits. */
      async send() {
        s.schedule();
        await vi.advanceTimersByTimeAsync(0);
      },
      /** Frames keep coming, one scheduling each millisecond, for `ms`. */
      async keepSending(ms: number) {
        for (let i = 0; i < ms; i++) {
          await vi.advanceTimersByTimeAsync(1);
          s.schedule();
        }
      },
      gaps: () => flushedAt.slice(1).map((at, i) => at - flushedAt[i]!),
    };
  }

  it('a lone message goes out at the end of its turn, however wide its room', async () => {
    const s = stretched({ writes: 200, framesPerMs: 4 });
    await s.send();
    expect(s.flushedAt).toEqual([0]);
    // A quiet spell longer than any window: the next lone message goes at once too.
    await vi.advanceTimersByTimeAsync(50);
    await s.send();
    expect(s.flushedAt).toEqual([0, 50]);
  });

  it('a room of 200 at a frame per millisecond waits 10 ms instead of 4: the window grows with the members written', async () => {
    const s = stretched({ writes: 200, framesPerMs: 1 });
    await s.send();
    await s.keepSending(60);
    // 4 frames each when the window ends: the stretch asks for 32 ms, bounded at 200 × 50 µs = 10 ms.
    expect(s.gaps().length).toBeGreaterThanOrEqual(5);
    for (const gap of s.gaps()) expect(gap).toBe(10);
  });

  it('a narrower room stretches less: 100 members, a 2 ms window stretched to 5 ms', async () => {
    const s = stretched({ writes: 100, framesPerMs: 2 });
    await s.send();
    await s.keepSending(30);
    expect(s.gaps().length).toBeGreaterThanOrEqual(5);
    for (const gap of s.gaps()) expect(gap).toBe(5);
  });

  it('stops stretching once the outboxes are expected to hold 32 frames each', async () => {
    // 5 frames a millisecond: 20 each when the 4 ms window ends, 32 at 6.4 ms.
    const s = stretched({ writes: 200, framesPerMs: 5 });
    await s.send();
    await s.keepSending(40);
    expect(s.gaps().length).toBeGreaterThanOrEqual(5);
    for (const gap of s.gaps()) expect([6, 7]).toContain(gap); // 6.4 ms, on a millisecond timer
  });

  it('at a high rate the outboxes are full when the window ends: flushed at 4 ms as without the stretch', async () => {
    const s = stretched({ writes: 200, framesPerMs: 16 });
    await s.send();
    await s.keepSending(40);
    expect(s.gaps().length).toBeGreaterThanOrEqual(9);
    for (const gap of s.gaps()) expect(gap).toBe(4);
  });

  it('sparse frames (about one per outbox, as private messages are) are not stretched', async () => {
    const s = stretched({ writes: 200, framesPerMs: 0.25 });
    await s.send();
    await s.keepSending(40);
    expect(s.gaps().length).toBeGreaterThanOrEqual(9);
    for (const gap of s.gaps()) expect(gap).toBe(4);
  });

  it('never passes --flush-window-max-ms, however wide the room; 0 turns the stretch off, as does --flush-window-ms 0', async () => {
    for (const [maxWindowMs, expected] of [
      [10, 10],
      [25, 25],
      [0, 4],
    ] as const) {
      const s = stretched({ writes: 100_000, framesPerMs: 0.5, maxWindowMs });
      await s.send();
      await s.keepSending(100);
      expect(s.gaps().length).toBeGreaterThan(2);
      for (const gap of s.gaps()) expect(gap).toBe(expected);
      await vi.advanceTimersByTimeAsync(1000);
    }
    const off = stretched({ writes: 100_000, framesPerMs: 4, windowMs: 0 });
    await off.send();
    await off.keepSending(10);
    for (const gap of off.gaps()) expect(gap).toBe(1);
  });
});
