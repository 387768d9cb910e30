import { describe, expect, it } from 'vitest';
import type { TrafficEntry } from '@switchboard/gateway/api-types';
import { LogFollower } from '../src/lib/console/log-follower.js';

const entry = (seq: number, direction: TrafficEntry['direction'] = 'in', auto = false): TrafficEntry => ({
  seq,
  ts: 1000 + seq,
  time: '',
  direction,
  length: 1,
  hex: '00',
  text: '.',
  auto,
});

describe('LogFollower', () => {
  it("takes each entry once, in the gateway's order, whatever order pages bring them in", () => {
    const follower = new LogFollower();
    expect(follower.take([entry(0, 'event'), entry(1)], 2).fresh.map((e) => e.seq)).toEqual([0, 1]);
    // A page that overlaps, and one whose entries come out of order: an auto-reply stays below its trigger.
    const { fresh } = follower.take([entry(1), entry(3, 'out', true), entry(2)], 4);
    expect(fresh.map((e) => [e.seq, e.auto])).toEqual([
      [2, false],
      [3, true],
    ]);
    expect(follower.take([entry(3)], 4).fresh).toEqual([]);
    expect(follower.last).toBe(3);
  });

  it('starts again when the log went backwards (a gateway that lost it)', () => {
    const follower = new LogFollower();
    follower.take([entry(5), entry(6)], 7);
    const { fresh, reset } = follower.take([entry(0), entry(1)], 2);
    expect(reset).toBe(true);
    expect(fresh.map((e) => e.seq)).toEqual([0, 1]);
    expect(follower.take([entry(2)], 3)).toEqual({ fresh: [entry(2)], reset: false });
  });
});
