import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/gateway-process.js';

// The SQLite stores bound their page caches: a database file that keeps growing (history,
// resume tokens) does not take the gateway's memory with it. better-sqlite3's own default cache
// is 16 MiB per connection, filled a page at a time as the file grew: the churn soak's RSS
// climbed with it.

const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-memory-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const dist = join(repoRoot, 'apps/gateway/dist');

/**
 * In a process of its own, so nothing else's allocations are counted: grows one store's file
 * and reports how much the C heap (glibc's main arena, where SQLite's page cache lives) grew,
 * after the JS heap is collected, and how large the file became.
 */
function grow(store: 'history' | 'identity', dir: string): { grewMiB: number; fileMiB: number } {
  const script = `
    import { readFileSync, statSync } from 'node:fs';
    import { join } from 'node:path';
    const { SqliteHistoryStore } = await import(${JSON.stringify(join(dist, 'history/sqlite-history-store.js'))});
    const { IdentityStore } = await import(${JSON.stringify(join(dist, 'identity/identity-store.js'))});
    const cHeap = () => {
      globalThis.gc();
      const segment = /\\[heap\\]\\n(?:.*\\n)*?Rss:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/smaps', 'utf8'));
      return Number(segment[1]) / 1024;
    };
    const dir = ${JSON.stringify(dir)};
    let grow;
    if (${JSON.stringify(store)} === 'history') {
      const history = new SqliteHistoryStore(dir);
      let id = 0;
      grow = (n) => {
        for (let i = 0; i < n; i++) {
          history.append({ kind: 'message', room: 'room' + (i % 50), from: 'm' + i, transport: 'tcp', text: 'x'.repeat(200) }, ++id, Date.now());
          if (i % 500 === 499) history.flush();
        }
        history.flush();
      };
    } else {
      const identity = new IdentityStore(dir);
      let id = 0;
      grow = (n) => {
        for (let i = 0; i < n; i++, id++) identity.issueToken({ identity: 'guest:' + id, name: 'g' + id, account: null }, 86_400_000);
      };
    }
    grow(2_000);
    const before = cHeap();
    grow(${store === 'history' ? 80_000 : 100_000});
    const after = cHeap();
    console.log(JSON.stringify({ grewMiB: after - before, fileMiB: statSync(join(dir, ${JSON.stringify(store)} + '.sqlite')).size / 2 ** 20 }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as { grewMiB: number; fileMiB: number };
}

describe.runIf(process.platform === 'linux' && existsSync('/proc/self/smaps'))('SQLite page caches', () => {
  it('history: 80,000 messages grow the file past 15 MiB (the cache is 4) and the C heap by less than 10 MiB', () => {
    const { grewMiB, fileMiB } = grow('history', join(dataDir, 'history'));
    console.log(`history.sqlite ${fileMiB.toFixed(1)} MiB; C heap grew ${grewMiB.toFixed(1)} MiB`);
    expect(fileMiB).toBeGreaterThan(15);
    expect(grewMiB).toBeLessThan(10);
  }, 60_000);

  it('identity: 100,000 resume tokens grow the file past 10 MiB and the C heap by less than 10 MiB', () => {
    const { grewMiB, fileMiB } = grow('identity', join(dataDir, 'identity'));
    console.log(`identity.sqlite ${fileMiB.toFixed(1)} MiB; C heap grew ${grewMiB.toFixed(1)} MiB`);
    expect(fileMiB).toBeGreaterThan(10);
    expect(grewMiB).toBeLessThan(10);
  }, 60_000);
});
