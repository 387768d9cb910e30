import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/gateway.js';
import { repoRoot, spawnGateway } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';

/** The gateway's own SQLite binding: a second connection that holds the history's write lock. */
const Database = createRequire(join(repoRoot, 'apps/gateway/package.json'))('better-sqlite3') as new (file: string) => {
  exec(sql: string): void;
  close(): void;
};

const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-commit-failure-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('a history commit that fails', () => {
  it('is tried again: the gateway stays up, nothing is sent meanwhile, and the message is delivered and stored once the lock is gone', async () => {
    const gateway = await spawnGateway(['--data-dir', dataDir]);
    const alice = await Peer.tcp(gateway.tcpPort);
    const bob = await Peer.tcp(gateway.tcpPort);
    try {
      await alice.hello('alice');
      await bob.hello('bob');
      await alice.find('presence', (p) => p.event === 'join' && p.member.name === 'bob');

      // Another writer holds the database past the gateway's busy timeout (as a stalled disk or a
      // long checkpoint would): its commit fails with SQLITE_BUSY.
      const locker = new Database(join(dataDir, 'history.sqlite'));
      locker.exec('BEGIN IMMEDIATE');
      let released = false;
      try {
        alice.send({ type: 'message', text: 'held until stored' });
        const failed = Date.now();
        while (!gateway.output().includes('history commit failed') && Date.now() - failed < 20_000) await sleep(100);
        expect(gateway.output()).toContain('history commit failed');
        expect(gateway.child.exitCode).toBeNull();
        // Not stored, so not acknowledged and not delivered.
        expect(alice.received.some((m) => m.type === 'message' && m.text === 'held until stored')).toBe(false);
        expect(bob.received.some((m) => m.type === 'message' && m.text === 'held until stored')).toBe(false);
        locker.exec('COMMIT');
        released = true;
      } finally {
        if (!released) locker.exec('ROLLBACK');
        locker.close();
      }

      const ack = await alice.next('message', (m) => m.text === 'held until stored', 20_000);
      const delivered = await bob.next('message', (m) => m.text === 'held until stored', 20_000);
      expect(delivered.id).toBe(ack.id);
      const history = await api(gateway, 'GET', '/api/history?room=lobby');
      expect(history.status).toBe(200);
      expect((history.body.entries as { id: number; text?: string }[]).filter((e) => e.text === 'held until stored').map((e) => e.id)).toEqual([ack.id]);
      expect(gateway.child.exitCode).toBeNull();
    } finally {
      alice.destroy();
      bob.destroy();
      await gateway.stop();
    }
  }, 60_000);
});
