import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A list of settings kept as JSON in the data directory (listeners.json, devices.json):
 * what an operator added over REST comes back after a restart. Written whole to a temporary
 * file and renamed, so a crash never leaves half a file.
 */
export class SettingsFile<T> {
  constructor(private readonly path: string | null) {}

  read(): T[] {
    if (this.path === null) return [];
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as T[];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`${this.path} cannot be read: ${(error as Error).message}`, { cause: error });
    }
  }

  write(items: readonly T[]): void {
    if (this.path === null) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(items, null, 2)}\n`);
    renameSync(temporary, this.path);
  }
}
