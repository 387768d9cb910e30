import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { api, startGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-history-'));
// 120 messages in one burst would (rightly) trip the default rate limit of 100.
const limits = { ratePerSecond: 1000, rateBurst: 1000 } as never;
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('history in SQLite', () => {
  it('survives a real gateway restart with the same data directory', async () => {
    const first = await startGateway({ limits }, { keepDataDir: dataDir });
    const a = await Peer.tcp(first.tcpPort);
    const b = await Peer.ws(first.wsUrl);
    await a.hello('hist-a');
    const { token: bToken } = await b.hello('hist-b');
    for (let i = 0; i < 120; i++) a.send({ type: 'message', text: `msg ${i}` });
    a.send({ type: 'private', to: 'hist-b', text: 'a secret' });
    const lastEcho = await a.next('private', (m) => m.text === 'a secret');
    a.send({ type: 'join', room: 'ops' });
    a.send({ type: 'message', room: 'ops', text: 'ops log' });
    await a.next('message', (m) => m.text === 'ops log');
    a.end();
    b.end();
    await first.close();

    const second = await startGateway({ limits }, { keepDataDir: dataDir });
    try {
      // REST: newest last, paged with before.
      const page = await api(second, 'GET', '/api/history?room=lobby&limit=50');
      expect(page.status).toBe(200);
      expect(page.body.entries).toHaveLength(50);
      expect(page.body.more).toBe(true);
      expect(page.body.entries.at(-1).text).toBe('msg 119');
      expect(page.body.entries[0].text).toBe('msg 70');
      const older = await api(second, 'GET', `/api/history?room=lobby&limit=500&before=${page.body.entries[0].id}`);
      expect(older.body.entries.map((e: { text: string }) => e.text)).toEqual(Array.from({ length: 70 }, (_, i) => `msg ${i}`));
      expect(older.body.more).toBe(false);
      const ops = await api(second, 'GET', '/api/history?room=ops');
      expect(ops.body.entries).toEqual([expect.objectContaining({ kind: 'message', room: 'ops', text: 'ops log', from: 'hist-a', transport: 'tcp' })]);
      // Above the page limit is taken as the limit, as on the wire (PROTOCOL.md §6).
      const clamped = await api(second, 'GET', '/api/history?limit=501');
      expect(clamped.status).toBe(200);
      expect(clamped.body.entries).toHaveLength(122); // every entry: 120 + the private one + ops
      expect((await api(second, 'GET', '/api/history?limit=0')).body.code).toBe('VALIDATION_FAILED');

      // On joining, a member gets the room's recent history (50 by default).
      const c = await Peer.ws(second.wsUrl);
      await c.hello('hist-c');
      const joinHistory = await c.next('history');
      expect(joinHistory.room).toBe('lobby');
      expect(joinHistory.entries).toHaveLength(50);
      expect(joinHistory.entries.at(-1)).toMatchObject({ kind: 'message', text: 'msg 119' });
      expect(joinHistory.more).toBe(true);
      // Scrolling back over the protocol.
      c.send({ type: 'history', room: 'lobby', before: joinHistory.entries[0]!.id, limit: 10 });
      const back = await c.next('history');
      expect(back.entries.map((e) => (e.kind === 'message' ? e.text : ''))).toEqual(Array.from({ length: 10 }, (_, i) => `msg ${60 + i}`));

      // Private history is only for the two people in it.
      const bAgain = await Peer.tcp(second.tcpPort);
      await bAgain.hello(undefined, { token: bToken }); // its token survives the restart too
      bAgain.send({ type: 'history', limit: 500 });
      const mine = await bAgain.next('history', (h) => h.room === undefined);
      expect(mine.entries).toContainEqual(expect.objectContaining({ kind: 'private', text: 'a secret', from: 'hist-a', to: 'hist-b' }));
      c.send({ type: 'history', limit: 500 });
      const theirs = await c.next('history', (h) => h.room === undefined);
      expect(theirs.entries.some((e) => e.kind === 'private')).toBe(false);

      // A reconnecting member asks for what it missed since the last id it saw.
      bAgain.send({ type: 'history', after: lastEcho.id - 3 });
      const missed = await bAgain.next('history', (h) => h.room === undefined);
      expect(missed.entries.map((e) => e.id)).toEqual([lastEcho.id - 2, lastEcho.id - 1, lastEcho.id]);
      const d = await Peer.tcp(second.tcpPort);
      await d.hello('hist-d', { since: lastEcho.id - 2 });
      const sinceHistory = await d.next('history');
      expect(sinceHistory.entries.map((e) => (e.kind === 'message' ? e.text : e.kind))).toEqual(['msg 119']);
      for (const p of [c, bAgain, d]) p.end();
    } finally {
      await second.close();
    }
  });
});
