import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder, decodeServerMessage, encodeMessage, type ServerMessage } from '@switchboard/protocol';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';

let gateway: GatewayProcess;
const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-slow-'));
beforeAll(async () => {
  // The default 1 MiB send queue; rate limits raised (through the documented flags) so the chatters can go flat out.
  gateway = await spawnGateway(['--rate', '1000000', '--rate-burst', '1000000', '--data-dir', dataDir, '--close-timeout-ms', '10000']);
});
afterAll(async () => {
  await gateway.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function clientNames(): Promise<string[]> {
  const response = await fetch(`${gateway.httpUrl}/api/clients`);
  return ((await response.json()) as { clients: { name: string }[] }).clients.map((c) => c.name);
}

describe('a member that stops reading', () => {
  it('is cut off with SEND_QUEUE_OVERFLOW while everyone else receives everything, and gateway memory stays bounded', async () => {
    // The sleeper says hello, then never reads again.
    const sleeper = net.connect({ port: gateway.tcpPort, host: '127.0.0.1' });
    await new Promise((r) => sleeper.once('connect', r));
    sleeper.write(encodeMessage({ type: 'hello', v: 1, name: 'sleeper' }));
    await sleep(100);
    sleeper.pause();

    const reader = await Peer.tcp(gateway.tcpPort);
    await reader.hello('reader');
    // Chatters read (they must, or they would be cut off too) but do not decode: the test
    // process has to keep up with the gateway.
    const chatters = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const socket = net.connect({ port: gateway.tcpPort, host: '127.0.0.1' });
        await new Promise((r) => socket.once('connect', r));
        socket.on('data', () => {});
        socket.write(encodeMessage({ type: 'hello', v: 1, name: `chatter${i}` }));
        return socket;
      }),
    );
    await sleep(100);
    const baselineRss = gateway.rssBytes();
    let peakRss = baselineRss;
    const text = 'x'.repeat(1000);
    const perChatter = 5000; // 4 x 5000 x ~1 KB = ~20 MB offered to the sleeper
    const started = Date.now();
    for (let round = 0; round < perChatter / 100; round++) {
      for (const [i, chatter] of chatters.entries()) {
        chatter.write(Buffer.concat(Array.from({ length: 100 }, (_, k) => encodeMessage({ type: 'message', text: `${i}:${round * 100 + k}:${text}` }))));
      }
      // ~10 MB/s: fast for a chat, slow enough that the test's own reader (decoding every
      // frame while other test files run) keeps up and only the sleeper falls behind.
      await sleep(40);
      if (round % 5 === 0) peakRss = Math.max(peakRss, gateway.rssBytes());
    }
    // The reader gets every message from every chatter, in each chatter's order.
    const seen = new Map<number, number>();
    await reader.next(
      'message',
      (m) => {
        const [who, seq] = m.text.split(':').map(Number) as [number, number];
        expect(seq).toBe((seen.get(who) ?? -1) + 1);
        seen.set(who, seq);
        peakRss = Math.max(peakRss, gateway.rssBytes());
        return [...seen.values()].every((s) => s === perChatter - 1) && seen.size === 4;
      },
      60_000,
    );
    const elapsed = Date.now() - started;

    // The sleeper was dropped from the hub.
    const names = await clientNames();
    expect(names).not.toContain('sleeper');
    expect(names).toContain('reader');
    const left = await reader.find('presence', (p) => p.event === 'leave' && p.member.name === 'sleeper');
    expect(left.reason).toBe('overflow');

    // When it finally reads, the last thing it finds is the error frame that says why.
    const frames: ServerMessage[] = [];
    const decoder = new FrameDecoder((t, p) => frames.push(decodeServerMessage(t, p)));
    sleeper.on('data', (chunk) => decoder.push(chunk));
    sleeper.resume();
    await new Promise((r) => sleeper.once('close', r));
    expect(frames.at(-1)).toMatchObject({ type: 'error', code: 'SEND_QUEUE_OVERFLOW', fatal: true });

    const stats = (await (await fetch(`${gateway.httpUrl}/api/stats`)).json()) as { queuedBytes: number; rssBytes: number };
    expect(stats.queuedBytes).toBeLessThan(2 * 1024 * 1024);
    // ~20 MB was aimed at the sleeper; the gateway held at most about its 1 MiB queue of it.
    const growth = peakRss - baselineRss;
    console.log(
      `slow consumer: ${4 * perChatter} messages in ${elapsed} ms; reader got all; sleeper received ${frames.length} frames before its overflow error; gateway RSS ${Math.round(baselineRss / 2 ** 20)} MiB -> peak ${Math.round(peakRss / 2 ** 20)} MiB`,
    );
    expect(growth).toBeLessThan(96 * 1024 * 1024);
    for (const c of chatters) c.end();
    reader.end();
  }, 90_000);
});
