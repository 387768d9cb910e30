#!/usr/bin/env node
/**
 * What one durable history row costs the gateway's core: the gateway's own SqliteHistoryStore,
 * in one process, fed room messages or private ones between 200 members, `--per-commit` rows a
 * commit (the bench's load gives some 16), with the store's index batches in turns of their own as
 * in the gateway. Prints µs per row of wall time (the WAL checkpointer is a worker thread: pin this
 * process with taskset to keep it on the same core, as the bench pins the gateway).
 *
 * Usage: node bench/dist/history-rows.js [--kind room|private|both] [--rows 200000] [--per-commit 16]
 *          [--build <checkout whose apps/gateway/dist to load; default this repository or SWITCHBOARD_BENCH_BUILD>]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUILD_DIR, WORK_DIR } from './systems.js';

interface Store {
  lastId(): number;
  append(entry: object, id: number, ts: number): void;
  flush(): void;
  close?(): void;
}

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const kinds = (option('--kind') ?? 'both') === 'both' ? ['room', 'private'] : [option('--kind')!];
const rows = Number(option('--rows') ?? 200_000);
const perCommit = Number(option('--per-commit') ?? 16);
const build = option('--build') ?? BUILD_DIR;
const { SqliteHistoryStore } = (await import(pathToFileURL(join(build, 'apps/gateway/dist/history/sqlite-history-store.js')).href)) as {
  SqliteHistoryStore: new (dir: string) => Store;
};
const MEMBERS = 200;
// A chat line's words, not one repeated letter: the search index tokenizes what it is given.
const TEXT = 'the quick brown fox jumps over the lazy dog near the river bank';

for (const kind of kinds) {
  const dir = mkdtempSync(join(WORK_DIR, 'history-rows-'));
  const store = new SqliteHistoryStore(dir);
  let id = store.lastId();
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows; i++) {
    const from = `m${i % MEMBERS}`;
    const to = `m${(i + 1) % MEMBERS}`;
    const entry =
      kind === 'room'
        ? { kind: 'message', room: 'bench', from, transport: 'tcp', text: `${TEXT} ${i}` }
        : { kind: 'private', from, to, fromIdentity: `guest:${from}`, toIdentity: `guest:${to}`, transport: 'tcp', text: `${TEXT} ${i}` };
    store.append(entry, ++id, Date.now());
    if (i % perCommit === perCommit - 1) {
      store.flush();
      // The gateway's next turn: where the store's index batch runs (setImmediate).
      if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  store.flush();
  const us = Number(process.hrtime.bigint() - started) / 1e3 / rows;
  console.log(`${kind} rows: ${us.toFixed(2)} µs a row (${rows.toLocaleString('en')} rows, ${perCommit} a commit)`);
  store.close?.();
  rmSync(dir, { recursive: true, force: true });
}
