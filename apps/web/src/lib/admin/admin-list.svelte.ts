// One resource the admin page lists (clients, listeners, bans …): its rows as the gateway last
// answered, in the page's order, and when that was. Each resource module wraps one with its actions.
import type { AdminApi, AdminFailure } from './admin-api.svelte.js';

export interface ListSource<Body, T> {
  /** What a failed read says it was, e.g. "List clients". */
  label: string;
  path: string;
  rows: (body: Body) => readonly T[];
  order: (a: T, b: T) => number;
  /** The field that tells rows apart (an update replaces the row with the same). */
  key: keyof T;
  /**
   * Admin-only lists are not asked for while the token is missing or wrong: asking every 2 s
   * would only repeat the 401 over the prompt the user is looking at.
   */
  adminOnly: boolean;
}

export class AdminList<Body, T> {
  #rows = $state.raw<readonly T[]>([]);
  #updatedAt = $state<number | null>(null);
  #refreshing = false;

  constructor(
    private readonly api: AdminApi,
    private readonly source: ListSource<Body, T>,
  ) {}

  get rows(): readonly T[] {
    return this.#rows;
  }
  /** When the gateway last answered (ms since the epoch), null before it has. */
  get updatedAt(): number | null {
    return this.#updatedAt;
  }

  async refresh(): Promise<void> {
    if (this.#refreshing || (this.source.adminOnly && this.api.needsToken)) return; // A slow gateway must not pile up requests.
    this.#refreshing = true;
    try {
      const body = await this.api.read<Body>(this.source.label, this.source.path);
      if (body === undefined) return;
      this.#rows = [...this.source.rows(body)].sort(this.source.order);
      this.#updatedAt = Date.now();
    } finally {
      this.#refreshing = false;
    }
  }

  /** A row added or changed by an action, before the next refresh. */
  put(row: T): void {
    const key = this.source.key;
    this.#rows = [...this.#rows.filter((r) => r[key] !== row[key]), row].sort(this.source.order);
  }

  /**
   * Adds a row (POST): it shows at once, and `done` says so. The refusal (the gateway's code
   * and message) is the form's to show.
   */
  async add(action: string, body: unknown, done: (added: T) => string): Promise<AdminFailure | null> {
    const outcome = await this.api.run<T>(action, 'POST', this.source.path.split('?')[0]!, body);
    if (!outcome.ok) return outcome.failure;
    this.put(outcome.value);
    this.api.done(done(outcome.value));
    return null;
  }

  /** Removes a row (DELETE `path`); its failure shows on the page's error line. Whether it went. */
  async remove(row: T, action: string, path: string, done: string): Promise<boolean> {
    if (!(await this.api.remove(action, path))) return false;
    const key = this.source.key;
    this.#rows = this.#rows.filter((r) => r[key] !== row[key]);
    this.api.done(done);
    return true;
  }
}

/** `default` first, then l1, l2 … l10 in number order. */
export function byId(a: string, b: string): number {
  if (a === 'default' || b === 'default') return a === 'default' ? (b === 'default' ? 0 : -1) : 1;
  return a.localeCompare(b, undefined, { numeric: true });
}

export const byName = (a: { name: string }, b: { name: string }): number => a.name.localeCompare(b.name);
