import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
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
