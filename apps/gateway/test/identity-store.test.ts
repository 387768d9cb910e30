import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { IdentityStore } from '../src/identity/identity-store.js';
import { setTimeout as sleep } from 'node:timers/promises';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Rows in identity.sqlite's tokens table, read through a connection of its own. */
function tokenRows(dir: string): number {
  const db = new Database(join(dir, 'identity.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM tokens').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('resume tokens', () => {
  it('expired tokens are deleted while the gateway runs, not only at its next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-identity-'));
    dirs.push(dir);
    // Long enough that issuing the 201 tokens below (slow on a loaded machine) ends before a prune.
    const store = new IdentityStore(dir, { pruneEveryMs: 1000 });
    try {
      // Guests that came and went: their tokens expire.
      for (let i = 0; i < 200; i++) store.issueToken({ identity: `guest:${i}`, name: `g${i}`, account: null }, 1);
      const kept = store.issueToken({ identity: 'guest:kept', name: 'kept', account: null }, 60_000);
      expect(tokenRows(dir)).toBe(201);
      await sleep(1100);
      const fresh = store.issueToken({ identity: 'guest:fresh', name: 'fresh', account: null }, 60_000);
      expect(tokenRows(dir)).toBe(2);
      expect(store.tokenOwner(kept)).toEqual({ identity: 'guest:kept', name: 'kept', account: null });
      expect(store.tokenOwner(fresh)).toEqual({ identity: 'guest:fresh', name: 'fresh', account: null });
    } finally {
      store.close();
    }
  });

  it('within the interval, expired tokens wait for the next prune (or an explicit one)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-identity-'));
    dirs.push(dir);
    const store = new IdentityStore(dir, { pruneEveryMs: 3_600_000 });
    try {
      for (let i = 0; i < 50; i++) store.issueToken({ identity: `guest:${i}`, name: `g${i}`, account: null }, -1);
      expect(tokenRows(dir)).toBe(50); // expired, still there until the hour is up...
      store.pruneTokens();
      expect(tokenRows(dir)).toBe(0); // ...or an explicit prune
    } finally {
      store.close();
    }
  });
});
