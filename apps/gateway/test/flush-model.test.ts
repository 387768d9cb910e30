import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Delivery } from '../src/delivery/delivery.js';
import { Outbox, type DeliveryTarget } from '../src/delivery/outbox.js';

// A model of the flush scheduling on a quiet machine (issue 26): messages at a steady rate on
// a 1 ms tick, as the bench's senders send them, each queued for its members; timers fire on
// time and work takes no time. It counts the writes per 1,000 deliveries and how long each
// frame waited, with the stretch (--flush-window-max-ms 10) and without it (0).

interface Workload {
  members: number;
  /** The members message g goes to. */
  to(g: number): readonly number[];
}

function run(workload: Workload, rate: number, flushWindowMaxMs: number): { writesPerThousand: number; meanWaitMs: number; maxWaitMs: number } {
  let writes = 0;
  let waited = 0;
  let frames = 0;
  let maxWaitMs = 0;
  const queuedAt = new Map<Uint8Array, number>();
  const targets: DeliveryTarget[] = Array.from({ length: workload.members }, (_, i) => ({
    id: String(i),
    outbox: new Outbox(),
    link: {
      transport: 'tcp',
      address: `127.0.0.1:${String(10_000 + i)}`,
      ip: '127.0.0.1',
      bufferedBytes: 0,
      write(batch: readonly Uint8Array[]) {
        writes++;
        const now = performance.now();
        for (const frame of batch) {
          const wait = now - queuedAt.get(frame)!;
          waited += wait;
          frames++;
          maxWaitMs = Math.max(maxWaitMs, wait);
        }
      },
      pauseInput: () => undefined,
      resumeInput: () => undefined,
      end: () => undefined,
      destroy: () => undefined,
    },
  }));
  const delivery = new Delivery({ maxQueueBytes: 1 << 30, flushWindowMs: 4, flushWindowMaxMs, beforeWrite: () => 0, overflowed: () => undefined });
  const perTick = rate / 1000;
  let g = 0;
  for (let tick = 0; tick < 1000; tick++) {
    for (let k = 0; k < perTick; k++, g++) {
      const frame = new Uint8Array(80);
      queuedAt.set(frame, performance.now());
      for (const member of workload.to(g)) delivery.deliver(targets[member]!, frame);
    }
    vi.advanceTimersByTime(1);
  }
  vi.advanceTimersByTime(100);
  return { writesPerThousand: (writes / frames) * 1000, meanWaitMs: waited / frames, maxWaitMs };
}

const oneRoom = (k: number): Workload => {
  const everyone = Array.from({ length: k }, (_, i) => i);
  return { members: k, to: () => everyone };
};
/** Scenario 9's: 50 rooms, member i in rooms 3i, 3i + 1 and 3i + 2 (mod 50), 334 members; message g in room g mod 50. */
const manyRooms: Workload = (() => {
  const rooms = Array.from({ length: 50 }, (_, r) => Array.from({ length: 334 }, (_, i) => i).filter((i) => [0, 1, 2].some((j) => (3 * i + j) % 50 === r)));
  return { members: 334, to: (g: number) => rooms[g % 50]! };
})();
/** Scenario 10's: 100 pairs, message g from one of pair g mod 100 to the other (and its acknowledgement back). */
const pairs: Workload = { members: 200, to: (g: number) => [2 * (g % 100), 2 * (g % 100) + 1] };

describe('flush scheduling, modelled at steady rates', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('K = 200 at 1,000 and 4,000 msg/s: half the writes or fewer, no frame waits past 10 ms', () => {
    for (const rate of [1000, 4000]) {
      const before = run(oneRoom(200), rate, 0);
      const now = run(oneRoom(200), rate, 10);
      expect(before.maxWaitMs).toBeLessThanOrEqual(4);
      expect(now.writesPerThousand).toBeLessThanOrEqual(before.writesPerThousand / 2 + 1);
      expect(now.maxWaitMs).toBeLessThanOrEqual(10);
    }
  });

  it('K = 200 from 8,000 msg/s on: the outboxes are (about) full when the window ends, nothing changes', () => {
    for (const rate of [8000, 16_000]) {
      const before = run(oneRoom(200), rate, 0);
      const now = run(oneRoom(200), rate, 10);
      expect(now.writesPerThousand).toBe(before.writesPerThousand);
      expect(now.meanWaitMs).toBeCloseTo(before.meanWaitMs, 1);
      expect(now.maxWaitMs).toBeLessThanOrEqual(5);
    }
  });

  it('many rooms at 27,000 msg/s: under half the writes, no frame waits past 10 ms', () => {
    const before = run(manyRooms, 27_000, 0);
    const now = run(manyRooms, 27_000, 10);
    expect(now.writesPerThousand).toBeLessThan(before.writesPerThousand / 2);
    expect(now.maxWaitMs).toBeLessThanOrEqual(10);
  });

  it('private messages (100 pairs) at 4,000 and 16,000 msg/s are not held any longer', () => {
    for (const rate of [4000, 16_000]) expect(run(pairs, rate, 10)).toEqual(run(pairs, rate, 0));
  });
});
