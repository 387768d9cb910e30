// The traffic log's virtual list: every line has the same height, an entry takes one or more
// lines (a 40-byte entry is three rows of a hex dump), and only the entries whose lines meet the
// viewport are in the DOM. A prefix sum of line counts maps a scroll position to an entry with a
// binary search, so 10,000 entries cost 10,000 numbers, not 10,000 elements.

export class LineIndex {
  /** starts[i]: the first line of entry i. One more than the entries: starts[n] is the total. */
  #starts: Uint32Array = new Uint32Array(1025);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  /** Lines in all. */
  get total(): number {
    return this.#starts[this.#count]!;
  }

  /** The first line of entry i. */
  start(i: number): number {
    return this.#starts[i]!;
  }

  lines(i: number): number {
    return this.#starts[i + 1]! - this.#starts[i]!;
  }

  push(lines: number): void {
    if (this.#count + 2 > this.#starts.length) {
      const grown = new Uint32Array(this.#starts.length * 2);
      grown.set(this.#starts);
      this.#starts = grown;
    }
    this.#starts[this.#count + 1] = this.#starts[this.#count]! + Math.max(1, lines);
    this.#count++;
  }

  /** Keeps the first `count` entries (to re-push from there after an insert or a toggle). */
  truncate(count: number): void {
    this.#count = Math.max(0, Math.min(count, this.#count));
  }

  /** The entry that holds `line` (clamped to the entries there are); 0 when there are none. */
  entryAt(line: number): number {
    if (this.#count === 0) return 0;
    let lo = 0;
    let hi = this.#count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#starts[mid]! <= line) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

export interface VisibleWindow {
  /** Entries [first, end) meet the viewport or its overscan. */
  first: number;
  end: number;
  /** Height of everything, for the scroll area. */
  height: number;
}

/**
 * Which entries to render for a viewport at `scrollTop` of `viewport` pixels, with `overscan`
 * lines more on either side so a fast scroll does not show blank space for a frame.
 */
export function visibleWindow(index: LineIndex, scrollTop: number, viewport: number, lineHeight: number, overscan = 10): VisibleWindow {
  const height = index.total * lineHeight;
  if (index.count === 0 || lineHeight <= 0) return { first: 0, end: 0, height };
  const top = Math.max(0, Math.floor(scrollTop / lineHeight) - overscan);
  const bottom = Math.min(index.total - 1, Math.ceil((scrollTop + Math.max(0, viewport)) / lineHeight) + overscan);
  const first = index.entryAt(top);
  const end = Math.min(index.count, index.entryAt(bottom) + 1);
  return { first, end, height };
}

/** True when the scroll position is at the newest entries (within `slack` pixels): the log follows. */
export function atBottom(scrollTop: number, clientHeight: number, scrollHeight: number, slack = 4): boolean {
  return scrollHeight - (scrollTop + clientHeight) <= slack;
}
