import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/index.js';

const fixed = (value: number) => () => value;

describe('backoffDelay', () => {
  it('waits between half the ceiling and all of it', () => {
    expect(backoffDelay(0, { initialMs: 500, maxMs: 15_000, random: fixed(0) })).toBe(250);
    expect(backoffDelay(0, { initialMs: 500, maxMs: 15_000, random: fixed(0.5) })).toBe(375);
    expect(backoffDelay(0, { initialMs: 500, maxMs: 15_000, random: fixed(0.999_999) })).toBe(500);
  });

  it('doubles the ceiling each attempt up to maxMs', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelay(attempt, { initialMs: 250, maxMs: 10_000, random: fixed(0.999_999) }));
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('stops doubling after 16 steps, and takes a negative attempt as the first', () => {
    const options = { initialMs: 1, maxMs: Number.MAX_SAFE_INTEGER, random: fixed(0.999_999) };
    expect(backoffDelay(1000, options)).toBe(65_536);
    expect(backoffDelay(-3, options)).toBe(1);
  });

  it('spreads clients that retry together (Math.random by default)', () => {
    const waits = Array.from({ length: 200 }, () => backoffDelay(3, { initialMs: 500, maxMs: 15_000 }));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...waits)).toBeLessThanOrEqual(4000);
    expect(new Set(waits).size).toBeGreaterThan(10);
  });
});
