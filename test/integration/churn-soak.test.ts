import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '@switchboard/protocol';
import { spawnGateway } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 120);
const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-soak-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** One round: members of every kind connect, chat, switch rooms, send a file, and leave (politely or not). */
async function churnRound(tcpPort: number, wsUrl: string, round: number): Promise<number> {
  const peers: Peer[] = [];
  for (let i = 0; i < 12; i++) {
    const peer = i % 3 === 2 ? await Peer.ws(wsUrl) : await Peer.tcp(tcpPort);
    peers.push(peer);
    if (i % 4 !== 3) await peer.hello(`r${round}m${i}`, i % 2 ? { room: `room${i % 3}` } : {});
    else peer.sendBytes(encodeFrame(0, new TextEncoder().encode(`device ${i} reporting`)));
  }
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
    `members connecting, chatting and leaving for ${SOAK_SECONDS} s: memory and open handles return to baseline`,
    async () => {
      const gateway = await spawnGateway(['--data-dir', dataDir, '--rate', '100000', '--rate-burst', '100000']);
      const wsUrl = gateway.httpUrl.replace('http', 'ws') + '/ws';
      try {
        // Warm up until the process reaches its steady state (JIT, V8 heap sizing, SQLite page
        // cache), then take the baseline: a leak shows as growth after that point.
        const warmUntil = Date.now() + Math.max(5, SOAK_SECONDS / 5) * 1000;
        for (let r = -1; Date.now() < warmUntil; r--) await churnRound(gateway.tcpPort, wsUrl, r);
        await sleep(1000);
        const baseFds = gateway.openDescriptors();
        const baseRss = gateway.rssBytes();
        let rounds = 0;
        let messages = 0;
        let peakRss = baseRss;
        const deadline = Date.now() + SOAK_SECONDS * 1000;
        while (Date.now() < deadline) {
          messages += await churnRound(gateway.tcpPort, wsUrl, rounds++);
          if (rounds % 10 === 0) peakRss = Math.max(peakRss, gateway.rssBytes());
        }
        await sleep(1500);
        const stats = (await (await fetch(`${gateway.httpUrl}/api/stats`)).json()) as { members: number; rooms: number; openDescriptors: number };
        const endFds = gateway.openDescriptors();
        const endRss = gateway.rssBytes();
        const heap = ((stats as unknown as { heapUsedBytes: number }).heapUsedBytes / 2 ** 20).toFixed(1);
        console.log(
          `churn soak: ${rounds} rounds, ${rounds * 12} connections, ${messages} messages in ${SOAK_SECONDS} s; ` +
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
    (SOAK_SECONDS + 60) * 1000,
  );
});
