// Requests waiting for their answers, matched by id: the one tracker the page, the Node client
// and the gateways' cluster share. What each waits for and how it ends differ (a page handler, a
// promise of replies, a node's answer), so the entry is theirs; the ids, the deadline and
// "settles once" are here. Runtime-neutral: setTimeout is declared in src/timers.d.ts.

interface Waiting<Entry> {
  entry: Entry;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The requests out now, each with its own deadline. A request leaves exactly once: `settle`
 * (its answer came, or its caller gave up) or its timeout (which calls `onTimeout`), whichever
 * comes first; an answer after that finds nothing.
 */
export class PendingRequests<Key, Entry> {
  readonly #waiting = new Map<Key, Waiting<Entry>>();
  readonly #onTimeout: (entry: Entry, key: Key) => void;
  #next = 1;

  constructor(onTimeout: (entry: Entry, key: Key) => void) {
    this.#onTimeout = onTimeout;
  }

  /**
   * A fresh number for an id: 1 … 2³²−1 (it fits a u32 on the wire), counted up, so a late
   * answer to an old request matches no newer one until four billion requests later.
   */
  nextId(): number {
    const id = this.#next;
    this.#next = (id % 0xffffffff) + 1;
    return id;
  }

  get size(): number {
    return this.#waiting.size;
  }

  has(key: Key): boolean {
    return this.#waiting.has(key);
  }

  /** The entry waiting under `key`, left waiting (a request answered in several parts). */
  get(key: Key): Entry | undefined {
    return this.#waiting.get(key)?.entry;
  }

  /** Starts waiting for `key`'s answer; `onTimeout` runs if it has not come within `timeoutMs`. */
  add(key: Key, entry: Entry, timeoutMs: number): void {
    if (this.#waiting.has(key)) throw new Error(`The request ${String(key)} is already waiting for an answer.`);
    const timer = setTimeout(() => {
      if (this.#waiting.get(key)?.entry !== entry) return;
      this.#waiting.delete(key);
      this.#onTimeout(entry, key);
    }, timeoutMs);
    this.#waiting.set(key, { entry, timer });
  }

  /** Ends the wait for `key`: its entry, for the caller to finish, or undefined when it was not waiting (any more). */
  settle(key: Key): Entry | undefined {
    const waiting = this.#waiting.get(key);
    if (waiting === undefined) return undefined;
    this.#waiting.delete(key);
    clearTimeout(waiting.timer);
    return waiting.entry;
  }

  /** Ends every wait (the connection is gone): the entries, for the caller to finish. */
  settleAll(): [Key, Entry][] {
    const all = [...this.#waiting].map(([key, { entry, timer }]) => {
      clearTimeout(timer);
      return [key, entry] as [Key, Entry];
    });
    this.#waiting.clear();
    return all;
  }
}
