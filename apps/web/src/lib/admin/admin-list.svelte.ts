// One resource the admin page lists (clients, listeners, bans …): its rows as the gateway last
// answered, in the page's order, and when that was. Each resource module extends it with its actions.
import type { AdminApi, AdminFailure } from './admin-api.svelte.js';

export interface ListSource<Body, T> {
  /** GET it; a failed read says "GET <path> failed". */
  path: string;
  rows: (body: Body) => readonly T[];
  order: (a: T, b: T) => number;
  /** The field that tells rows apart (an update replaces the row with the same). */
  key: keyof T;
  /**
   * Readable without admin rights (unless --no-public-read). Admin-only lists are not asked for
   * while the token is missing or wrong: asking every 2 s would only repeat the 401 over the
   * prompt the user is looking at.
   */
  public?: boolean;
}

export abstract class AdminList<Body, T> {
  /** Read only after construction (a subclass's field is set after this constructor runs). */
  protected abstract readonly source: ListSource<Body, T>;
  #rows = $state.raw<readonly T[]>([]);
  #updatedAt = $state<number | null>(null);
  #refreshing = false;

  constructor(
    protected readonly api: AdminApi,
    /** What an action on this list can change elsewhere (the clients, the audit log). */
    protected readonly changed: () => void = () => {},
  ) {}

  get rows(): readonly T[] {
    return this.#rows;
  }
  /** When the gateway last answered (ms since the epoch), null before it has. */
  get updatedAt(): number | null {
    return this.#updatedAt;
  }

  async refresh(): Promise<void> {
    if (this.#refreshing || (this.source.public !== true && this.api.status.needsToken)) return; // A slow gateway must not pile up requests.
    this.#refreshing = true;
    try {
      const body = await this.api.read<Body>(`GET ${this.source.path}`, this.source.path);
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
  protected async create(action: string, body: unknown, done: (added: T) => string): Promise<AdminFailure | null> {
    const outcome = await this.api.run<T>(action, 'POST', this.source.path.split('?')[0]!, body);
    if (!outcome.ok) return outcome.failure;
    this.put(outcome.value);
    this.api.done(done(outcome.value));
    return null;
  }

  /** Removes a row (DELETE `path`); its failure shows on the page's error line. Whether it went. */
  protected async delete(row: T, action: string, path: string, done: string): Promise<boolean> {
    if (!(await this.api.remove(action, path))) return false;
    const key = this.source.key;
    this.#rows = this.#rows.filter((r) => r[key] !== row[key]);
    this.api.done(done);
    return true;
  }
}

/** `default` first, then l1, l2 … l10 in number order. */
export function byId({ id: a }: { id: string }, { id: b }: { id: string }): number {
  if (a === 'default' || b === 'default') return a === 'default' ? (b === 'default' ? 0 : -1) : 1;
  return a.localeCompare(b, undefined, { numeric: true });
}

export const newestFirst = (a: { id: number }, b: { id: number }): number => b.id - a.id;

export const byName = (a: { name: string }, b: { name: string }): number => a.name.localeCompare(b.name);
