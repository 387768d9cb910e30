import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGateway } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';

const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-restart-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('graceful restart under load', () => {
  it('SIGTERM while members chat: members are told, and every acknowledged message is in history after restart', async () => {
    const args = ['--data-dir', dataDir, '--rate', '100000', '--rate-burst', '100000'];
    const first = await spawnGateway(args);
    const members = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const peer = i % 2 === 0 ? await Peer.tcp(first.tcpPort) : await Peer.ws(first.httpUrl.replace('http', 'ws') + '/ws');
        await peer.hello(`loader${i}`);
        return peer;
      }),
    );
    // Everyone sends as fast as it can, open loop, until the gateway goes away.
    let sent = 0;
    let stop = false;
    const senders = members.map(async (peer, i) => {
      for (let seq = 0; !stop && !peer.closed; seq++) {
        peer.send({ type: 'message', text: `loader${i} #${seq}` });
        sent++;
        if (seq % 20 === 0) await sleep(1);
      }
    });
    await sleep(700);
    const exitCode = await first.stop('SIGTERM');
    stop = true;
    await Promise.all(senders);
    expect(exitCode).toBe(0);

    // Acknowledged = the sender's own message came back to it with an id.
    const acked = new Map<number, string>();
    for (const [i, peer] of members.entries()) {
      for (const m of peer.received) if (m.type === 'message' && m.from === `loader${i}`) acked.set(m.id, m.text);
      // Each member was told why it is being disconnected.
      expect(
        peer.received.some((m) => m.type === 'notice' && m.code === 'SERVER_SHUTTING_DOWN'),
        `loader${i}`,
      ).toBe(true);
    }
    expect(acked.size).toBeGreaterThan(500);

    const second = await spawnGateway(args);
    try {
      const stored = new Map<number, string>();
      let before: number | undefined;
      for (;;) {
        const response = await fetch(`${second.httpUrl}/api/history?room=lobby&limit=500${before ? `&before=${before}` : ''}`);
        const page = (await response.json()) as { entries: { id: number; text: string }[]; more: boolean };
        for (const e of page.entries) stored.set(e.id, e.text);
        if (!page.more || page.entries.length === 0) break;
        before = page.entries[0]!.id;
      }
      const missing = [...acked].filter(([id, text]) => stored.get(id) !== text);
      console.log(
        `restart under load: ${sent} sent, ${acked.size} acknowledged before SIGTERM, ${stored.size} stored, ${missing.length} acknowledged but missing`,
      );
      expect(missing).toEqual([]);
    } finally {
      await second.stop();
    }
  }, 60_000);
});
