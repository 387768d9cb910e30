import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '@switchboard/protocol';
import { spawnGateway } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';

// A count of rounds, not a time: the same work on a fast or a busy machine. 400 rounds are 4,800
// connections and 18,000 messages; SOAK_ROUNDS=5000 for a long run.
const SOAK_ROUNDS = Number(process.env.SOAK_ROUNDS ?? 400);
const WARM_UP_ROUNDS = Math.max(20, Math.round(SOAK_ROUNDS / 2));
const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-soak-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** One round: members of every kind connect, chat, switch rooms, send a file, and leave (politely or not). */
async function churnRound(tcpPort: number, wsUrl: string, round: number): Promise<number> {
  // All twelve connect at once, as a crowd does.
  const peers = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const peer = i % 3 === 2 ? await Peer.ws(wsUrl) : await Peer.tcp(tcpPort);
      if (i % 4 !== 3) await peer.hello(`r${round}m${i}`, i % 2 ? { room: `room${i % 3}` } : {});
      else peer.sendBytes(encodeFrame(0, new TextEncoder().encode(`device ${i} reporting`)));
      return peer;
    }),
  );
  let messages = 0;
  for (const [i, peer] of peers.entries()) {
    if (i % 4 === 3) continue;
    for (let k = 0; k < 5; k++) peer.send({ type: 'message', text: `round ${round} member ${i} line ${k}` });
    messages += 5;
    if (i === 0) {
      peer.send({ type: 'join', room: `temp${round}` });
      peer.send({ type: 'private', to: `r${round}m1`, text: 'hi' });
    }
  }
  const file = randomBytes(50_000);
  peers[0]!.send({ type: 'file-offer', transfer: 1, name: 'f.bin', size: file.length });
  peers[0]!.send({ type: 'file-data', transfer: 1, data: file });
  peers[0]!.send({ type: 'file-end', transfer: 1, sha256: createHash('sha256').update(file).digest('hex') });
  await peers[0]!.next('message', (m) => m.text === `round ${round} member 0 line 4`);
  await sleep(20);
  // Half leave cleanly, half vanish mid-conversation.
  peers.forEach((peer, i) => (i % 2 ? peer.destroy() : peer.end()));
  await Promise.all(peers.map((p) => p.waitClosed()));
  return messages;
}

describe('churn soak', () => {
  it(
    `${SOAK_ROUNDS} rounds of members connecting, chatting and leaving: memory and open handles return to baseline`,
    async () => {
      const gateway = await spawnGateway(['--data-dir', dataDir, '--rate', '100000', '--rate-burst', '100000']);
      const wsUrl = gateway.httpUrl.replace('http', 'ws') + '/ws';
      try {
        // Warm up until the process reaches its steady state (JIT, V8 heap sizing, SQLite page
        // cache), then take the baseline: a leak shows as growth after that point. In the steady
        // state RSS still swings by some 30 MiB as V8 sizes its heap (twelve members at once make
        // a larger working set than one at a time did), so the RSS baseline is the top of that
        // swing: the highest RSS of the warm-up's second half, or after it if higher.
        let warmRss = 0;
        for (let r = 1; r <= WARM_UP_ROUNDS; r++) {
          await churnRound(gateway.tcpPort, wsUrl, -r);
          if (r > WARM_UP_ROUNDS / 2 && r % 10 === 0) warmRss = Math.max(warmRss, gateway.rssBytes());
        }
        await sleep(1000);
        const baseFds = gateway.openDescriptors();
        const baseRss = Math.max(warmRss, gateway.rssBytes());
        let messages = 0;
        let peakRss = baseRss;
        const started = Date.now();
        for (let round = 1; round <= SOAK_ROUNDS; round++) {
          messages += await churnRound(gateway.tcpPort, wsUrl, round);
          if (round % 10 === 0) peakRss = Math.max(peakRss, gateway.rssBytes());
        }
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        await sleep(1500);
        const stats = (await (await fetch(`${gateway.httpUrl}/api/stats`)).json()) as { members: number; rooms: number; openDescriptors: number };
        const endFds = gateway.openDescriptors();
        const endRss = gateway.rssBytes();
        const heap = ((stats as unknown as { heapUsedBytes: number }).heapUsedBytes / 2 ** 20).toFixed(1);
        console.log(
          `churn soak: ${SOAK_ROUNDS} rounds (after ${WARM_UP_ROUNDS} to warm up), ${SOAK_ROUNDS * 12} connections, ${messages} messages in ${seconds} s; ` +
            `fds ${baseFds} -> ${endFds}; RSS ${(baseRss / 2 ** 20).toFixed(1)} MiB -> ${(endRss / 2 ** 20).toFixed(1)} MiB (peak ${(peakRss / 2 ** 20).toFixed(1)}), heap used at the end ${heap} MiB`,
        );
        expect(stats.members).toBe(0);
        expect(stats.rooms).toBe(1); // only lobby is left
        expect(endFds).toBeLessThanOrEqual(baseFds + 2);
        expect(endRss).toBeLessThan(baseRss + 24 * 2 ** 20);
      } finally {
        await gateway.stop();
      }
    },
    // A generous bound on a busy machine (about 3 rounds a second), not a measure.
    (60 + (SOAK_ROUNDS + WARM_UP_ROUNDS) / 2) * 1000,
  );
});
