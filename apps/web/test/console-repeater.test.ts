import { describe, expect, it } from 'vitest';
import { Repeater } from '../src/lib/console/repeater.js';

/** Timers that run when the test says how much time passed. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        due.set(next, { at: now + ms, fn });
        return next++;
      },
      clearTimeout: (id: unknown) => void due.delete(id as number),
      now: () => now,
    },
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        const first = [...due.entries()].sort((a, b) => a[1].at - b[1].at)[0];
        if (first === undefined || first[1].at > until) break;
        due.delete(first[0]);
        now = Math.max(now, first[1].at); // A stalled timer runs late, never early.
        first[1].fn();
      }
      now = until;
    },
    /** Time passes without the timers running (a throttled tab). */
    stall(ms: number) {
      now += ms;
    },
    pending: () => due.size,
  };
}

describe('repeat', () => {
  it('sends N times every M ms, the first at once', () => {
    const clock = fakeTimers();
    const sentAt: number[] = [];
    const repeater = new Repeater({ everyMs: 100, times: 5, send: () => sentAt.push(clock.timers.now()) > 0, timers: clock.timers });
    repeater.start();
    expect(repeater.describe()).toBe('1 of 5 sent');
    clock.advance(1000);
    expect(sentAt).toEqual([0, 100, 200, 300, 400]);
    expect(repeater.running).toBe(false);
    expect(repeater.end).toBe('done');
    expect(clock.pending()).toBe(0);
  });

  it('runs until stopped, and says why it ended', () => {
    const clock = fakeTimers();
    let sends = 0;
    const changes: string[] = [];
    const repeater = new Repeater({ everyMs: 50, times: null, send: () => ++sends > 0, onChange: (r) => changes.push(r.describe()), timers: clock.timers });
    repeater.start();
    clock.advance(220);
    repeater.stop('left');
    expect(sends).toBe(5);
    expect(repeater.end).toBe('left');
    expect(changes.at(-1)).toBe('5 sent');
    clock.advance(1000);
    expect(sends).toBe(5);
  });

  it('stops when a send fails (the device went away)', () => {
    const clock = fakeTimers();
    let sends = 0;
    const repeater = new Repeater({ everyMs: 10, times: 10, send: () => ++sends < 3, timers: clock.timers });
    repeater.start();
    clock.advance(100);
    expect(repeater.sent).toBe(2);
    expect(repeater.end).toBe('failed');
  });

  it('does not burst to catch up after a stall', () => {
    const clock = fakeTimers();
    const sentAt: number[] = [];
    const repeater = new Repeater({ everyMs: 100, times: null, send: () => sentAt.push(clock.timers.now()) > 0, timers: clock.timers });
    repeater.start();
    clock.stall(550);
    clock.advance(250);
    repeater.stop();
    expect(sentAt).toEqual([0, 550, 650, 750]);
  });

  it('keeps the period from drifting when ticks run a little late', () => {
    const clock = fakeTimers();
    const sentAt: number[] = [];
    const repeater = new Repeater({ everyMs: 100, times: 3, send: () => sentAt.push(clock.timers.now()) > 0, timers: clock.timers });
    repeater.start();
    clock.stall(130); // The second send runs 30 ms late…
    clock.advance(400);
    expect(sentAt).toEqual([0, 130, 200]); // …and the third is still due at 200.
  });
});
