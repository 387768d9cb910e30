import { describe, expect, it } from 'vitest';
import { LineIndex, atBottom, visibleWindow } from '../src/lib/console/line-index.js';

const index = (...lines: number[]): LineIndex => {
  const i = new LineIndex();
  for (const n of lines) i.push(n);
  return i;
};

describe('the line index', () => {
  it('sums lines and finds the entry of a line', () => {
    const i = index(1, 3, 1, 2);
    expect(i.total).toBe(7);
    expect([0, 1, 2, 3, 4, 5, 6, 99].map((line) => i.entryAt(line))).toEqual([0, 1, 1, 1, 2, 3, 3, 3]);
    expect(i.start(3)).toBe(5);
    expect(i.lines(1)).toBe(3);
  });

  it('re-pushes after a truncation (an entry toggled to hex)', () => {
    const i = index(1, 1, 1);
    i.truncate(1);
    i.push(4);
    i.push(1);
    expect(i.total).toBe(6);
    expect(i.entryAt(4)).toBe(1);
  });

  it('grows past its first allocation', () => {
    const i = new LineIndex();
    for (let n = 0; n < 10_000; n++) i.push(1 + (n % 3));
    expect(i.count).toBe(10_000);
    expect(i.total).toBe(19_999);
    expect(i.entryAt(19_998)).toBe(9_999);
  });

  it('counts an entry as at least one line', () => expect(index(0, 0).total).toBe(2));
});

describe('the visible window', () => {
  const ten = (): LineIndex => {
    const i = new LineIndex();
    for (let n = 0; n < 10_000; n++) i.push(1);
    return i;
  };

  it('renders the viewport and the overscan only', () => {
    const w = visibleWindow(ten(), 0, 400, 20, 10);
    expect(w).toEqual({ first: 0, end: 31, height: 200_000 });
  });

  it('follows the scroll position', () => {
    const w = visibleWindow(ten(), 100_000, 400, 20, 10);
    expect(w.first).toBe(4_990);
    expect(w.end).toBe(5_031);
  });

  it('stops at the end', () => {
    const w = visibleWindow(ten(), 199_600, 400, 20, 10);
    expect(w.end).toBe(10_000);
    expect(w.end - w.first).toBeLessThan(40);
  });

  it('covers an entry of many lines that starts above the viewport', () => {
    const i = index(1, 100, 1);
    const w = visibleWindow(i, 50 * 20, 200, 20, 2);
    expect(w.first).toBe(1);
    expect(w.end).toBe(2);
  });

  it('is empty with no entries', () => expect(visibleWindow(new LineIndex(), 0, 400, 20)).toEqual({ first: 0, end: 0, height: 0 }));

  it('knows when the view is at the newest entries', () => {
    expect(atBottom(600, 400, 1000)).toBe(true);
    expect(atBottom(597, 400, 1000)).toBe(true);
    expect(atBottom(500, 400, 1000)).toBe(false);
  });
});
