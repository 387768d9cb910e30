import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PendingRequests } from '../src/pending-requests.js';

describe('PendingRequests', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands an answered request back once, then never again, and its timeout never runs', () => {
    const timedOut: string[] = [];
    const pending = new PendingRequests<number, string>((entry) => timedOut.push(entry));
    pending.add(1, 'join', 1000);
    expect(pending.has(1)).toBe(true);
    expect(pending.get(1)).toBe('join');
    expect(pending.settle(1)).toBe('join');
    expect(pending.settle(1)).toBeUndefined();
    vi.advanceTimersByTime(5000);
    expect(timedOut).toEqual([]);
    expect(pending.size).toBe(0);
  });

  it('times a request out once, after which its answer finds nothing', () => {
    const timedOut: [string, number][] = [];
    const pending = new PendingRequests<number, string>((entry, key) => timedOut.push([entry, key]));
    pending.add(7, 'ask', 1000);
    pending.add(8, 'other', 3000);
    vi.advanceTimersByTime(999);
    expect(timedOut).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(timedOut).toEqual([['ask', 7]]);
    expect(pending.settle(7)).toBeUndefined();
    expect(pending.get(8)).toBe('other');
    vi.advanceTimersByTime(10_000);
    expect(timedOut).toEqual([
      ['ask', 7],
      ['other', 8],
    ]);
  });

  it('refuses a second request under a key still waiting', () => {
    const pending = new PendingRequests<string, number>(() => undefined);
    pending.add('r1', 1, 1000);
    expect(() => pending.add('r1', 2, 1000)).toThrow(/already waiting/);
    expect(pending.get('r1')).toBe(1);
  });

  it('settles every request at once when the connection goes, and none times out after', () => {
    const timedOut: number[] = [];
    const pending = new PendingRequests<string, number>((entry) => timedOut.push(entry));
    pending.add('a', 1, 1000);
    pending.add('b', 2, 1000);
    expect(pending.settleAll()).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    vi.advanceTimersByTime(5000);
    expect(timedOut).toEqual([]);
    expect(pending.size).toBe(0);
  });

  it('counts ids up and wraps within a u32, skipping 0', () => {
    const pending = new PendingRequests<number, null>(() => undefined);
    expect([pending.nextId(), pending.nextId(), pending.nextId()]).toEqual([1, 2, 3]);
    for (let i = 0; i < 5; i++) pending.nextId();
    expect(pending.nextId()).toBe(9);
  });

  it('a key settled and added again keeps only the new deadline', () => {
    const timedOut: string[] = [];
    const pending = new PendingRequests<number, string>((entry) => timedOut.push(entry));
    pending.add(1, 'first', 1000);
    pending.settle(1);
    pending.add(1, 'second', 5000);
    vi.advanceTimersByTime(1000);
    expect(timedOut).toEqual([]);
    expect(pending.get(1)).toBe('second');
    vi.advanceTimersByTime(4000);
    expect(timedOut).toEqual(['second']);
  });
});
