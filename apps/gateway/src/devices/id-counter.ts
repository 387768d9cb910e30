import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The ids the gateway hands out for what operators add (`l3` listeners, `d2` device links, `r7`
 * rules): never one it handed out before, even after a delete and a restart, so an id in a
 * script, a log or a rule always meant one thing. The next number per prefix is kept in
 * <data-dir>/ids.json.
 */
export class IdCounter {
  readonly #path: string | null;
  readonly #next: Record<string, number>;

  constructor(dataDir: string | null) {
    this.#path = dataDir === null ? null : join(dataDir, 'ids.json');
    let stored: Record<string, number> = {};
    if (this.#path !== null) {
      try {
        stored = JSON.parse(readFileSync(this.#path, 'utf8')) as Record<string, number>;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${this.#path} cannot be read: ${(error as Error).message}`, { cause: error });
      }
    }
    this.#next = stored;
  }

  /** A new id: `prefix` and a number never handed out before, nor `taken` now. */
  next(prefix: string, taken: (id: string) => boolean): string {
    let n = this.#next[prefix] ?? 1;
    while (taken(`${prefix}${n}`)) n++;
    this.#next[prefix] = n + 1;
    this.#save();
    return `${prefix}${n}`;
  }

  /** An id that exists (given by hand, or stored): no id handed out later is the same. */
  seen(id: string): void {
    const match = /^([a-z]+)(\d+)$/.exec(id);
    if (match === null) return;
    const [, prefix, digits] = match;
    if (Number(digits) < (this.#next[prefix!] ?? 1)) return;
    this.#next[prefix!] = Number(digits) + 1;
    this.#save();
  }

  #save(): void {
    if (this.#path === null) return;
    mkdirSync(dirname(this.#path), { recursive: true });
    writeFileSync(`${this.#path}.tmp`, `${JSON.stringify(this.#next)}\n`);
    renameSync(`${this.#path}.tmp`, this.#path);
  }
}
