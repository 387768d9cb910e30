import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';

// Durable private history (issue 26): an acknowledgement (the sender's own copy, with its ref)
// leaves only once its message is committed, however many messages share the commit; and the
// search index is written in that same commit.

const TOKEN = 'private-durability-admin-token';
const admin = { authorization: `Bearer ${TOKEN}` };
const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-private-kill-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface StoredEntry {
  id: number;
  kind: string;
  text?: string;
}

describe('durable private messages', () => {
  it('kill -9 under load: every acknowledged private message is in history after restart, and found by search', async () => {
    const args = ['--data-dir', dataDir, '--rate', '100000', '--rate-burst', '100000', '--admin-token', TOKEN];
    const first = await spawnGateway(args);
    // Three pairs talking, each side open loop, so commits carry many messages each.
    const members = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const peer = i % 2 === 0 ? await Peer.tcp(first.tcpPort) : await Peer.ws(first.httpUrl.replace('http', 'ws') + '/ws');
        await peer.hello(`pair${i}`);
        return peer;
      }),
    );
    let stop = false;
    const senders = members.map(async (peer, i) => {
      for (let seq = 0; !stop && !peer.closed && seq < 200_000; seq++) {
        peer.send({ type: 'private', to: `pair${i ^ 1}`, text: `pair${i} note${seq}`, ref: `r${seq}` });
        if (seq % 20 === 0) await sleep(1);
      }
    });
    // Killed once acknowledgements are flowing: no shutdown, no last flush.
    await members[0]!.next('private', (m) => m.ref !== undefined, 10_000);
    await sleep(500);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    stop = true;
    await Promise.all(senders);
    await Promise.all(members.map((peer) => peer.closedPromise));

    // Acknowledged = the sender's own copy came back with its ref and an id.
    const acked = new Map<number, string>();
    for (const [i, peer] of members.entries()) {
      for (const m of peer.received) if (m.type === 'private' && m.from === `pair${i}` && m.ref !== undefined) acked.set(m.id, m.text);
    }
    expect(acked.size).toBeGreaterThan(200);

    const second = await spawnGateway(args);
    try {
      const stored = new Map<number, string>();
      let before: number | undefined;
      for (let page = 0; page < 10_000; page++) {
        const response = await fetch(`${second.httpUrl}/api/history?limit=500${before ? `&before=${before}` : ''}`, { headers: admin });
        const body = (await response.json()) as { entries: StoredEntry[]; more: boolean };
        for (const e of body.entries) if (e.kind === 'private') stored.set(e.id, e.text ?? '');
        if (!body.more || body.entries.length === 0) break;
        before = body.entries[0]!.id;
      }
      const missing = [...acked].filter(([id, text]) => stored.get(id) !== text);
      console.log(`private kill -9: ${acked.size} acknowledged, ${stored.size} stored, ${missing.length} acknowledged but missing`);
      expect(missing).toEqual([]);
      // The index was in the same commits: the last acknowledged message is found by its words.
      const [lastId, lastText] = [...acked].sort((a, b) => b[0] - a[0])[0]!;
      const word = lastText.split(' ')[1]!;
      const search = await fetch(`${second.httpUrl}/api/search?q=${word}`, { headers: admin });
      const hits = ((await search.json()) as { entries: StoredEntry[] }).entries;
      expect(hits.map((h) => h.id)).toContain(lastId);
    } finally {
      await second.stop();
    }
  }, 60_000);

  it('a private message is found by search as soon as it is acknowledged', async () => {
    const gateway = await spawnGateway(['--admin-token', TOKEN]);
    const a = await Peer.tcp(gateway.tcpPort);
    const b = await Peer.ws(gateway.httpUrl.replace('http', 'ws') + '/ws');
    try {
      await a.hello('finder-a');
      await b.hello('finder-b');
      for (let i = 0; i < 20; i++) {
        a.send({ type: 'private', to: 'finder-b', text: `valve${i} check`, ref: `p${i}` });
        await a.next('private', (m) => m.ref === `p${i}`);
        // Asked at once, by both sides, over the wire: no commit is still to come.
        a.send({ type: 'search', q: `valve${i}`, ref: `s${i}` });
        b.send({ type: 'search', q: `valve${i}`, ref: `s${i}` });
        for (const peer of [a, b])
          expect((await peer.next('search', (m) => m.ref === `s${i}`)).entries.map((e) => ('text' in e ? e.text : ''))).toEqual([`valve${i} check`]);
      }
    } finally {
      a.end();
      b.end();
      await gateway.stop();
    }
  }, 30_000);
});
