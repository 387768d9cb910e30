import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '@switchboard/protocol';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer, sleep } from '../helpers/peer.js';

/**
 * Random and mutated frames thrown at a real gateway over TCP and WebSocket, while two
 * members keep chatting. Seeded (FUZZ_SEED) so a failure can be replayed.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const FRAMES_PER_TRANSPORT = Number(process.env.FUZZ_FRAMES ?? 40_000);

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = new TextEncoder();
const jsonSamples = [
  '{}',
  '{"v":1}',
  '{"v":1,"name":"fz"}',
  '{"text":"hi"}',
  '{"room":"lobby"}',
  '{"to":"witness-a","text":"x"}',
  '{"transfer":1,"name":"f","size":3}',
  '{"transfer":1,"sha256":"00"}',
  '{"name":"../../x"}',
  '{"room":""}',
  '{"limit":100000}',
  '{"before":-1}',
  '{"v":1,"name":"\\u0000"}',
  '[]',
  'null',
  '"str"',
  '{"text":{"nested":true}}',
  '{"transfer":4294967296,"name":"a","size":1}',
  '{"room":"' + 'r'.repeat(40) + '"}',
  '{"v":1,"room":"a b"}',
];

/** One fuzz frame: mostly well-framed with hostile contents, sometimes broken framing. */
function fuzzFrame(rand: () => number): Uint8Array {
  const pick = rand();
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  if (pick < 0.05) return randomBytes(1 + Math.floor(rand() * 64)); // raw garbage, framing included
  const type = rand() < 0.85 ? Math.floor(rand() * 0x14) : Math.floor(rand() * 256);
  let payload: Uint8Array;
  const body = rand();
  if (body < 0.4) payload = enc.encode(jsonSamples[Math.floor(rand() * jsonSamples.length)]);
  else if (body < 0.6) payload = randomBytes(Math.floor(rand() * 200));
  else if (body < 0.8) {
    // a valid JSON sample with a few bytes flipped
    payload = enc.encode(jsonSamples[Math.floor(rand() * jsonSamples.length)]);
    for (let i = 0; i < 1 + Math.floor(rand() * 3); i++) payload[Math.floor(rand() * payload.length)] = Math.floor(rand() * 256);
  } else payload = enc.encode('text ' + String.fromCharCode(...Array.from({ length: 20 }, () => Math.floor(rand() * 0xd7ff))));
  const frame = encodeFrame(type, payload);
  const damage = rand();
  if (damage < 0.03) return frame.subarray(0, Math.floor(rand() * frame.length)); // truncated
  if (damage < 0.05) {
    const copy = frame.slice();
    copy[Math.floor(rand() * 4)] = Math.floor(rand() * 256); // corrupted length prefix
    return copy;
  }
  return frame;
}

let gateway: RunningGateway;
beforeAll(async () => {
  // Limits raised so the fuzz reaches the parsers instead of the rate limiter.
  gateway = await startGateway({ limits: { ratePerSecond: 1_000_000, rateBurst: 1_000_000 }, timing: { frameTimeoutMs: 2000 } });
});
afterAll(async () => {
  await gateway.close();
});

describe('fuzzing a running gateway', () => {
  it(`survives ${FRAMES_PER_TRANSPORT} hostile frames on TCP and on WebSocket while others keep chatting`, async () => {
    const a = await Peer.tcp(gateway.tcpPort);
    const b = await Peer.ws(gateway.wsUrl);
    await a.hello('witness-a');
    await b.hello('witness-b');
    const rand = prng(SEED);
    const codes = new Map<string, number>();
    const tally = (peer: Peer) => {
      for (const m of peer.received) if (m.type === 'error') codes.set(m.code, (codes.get(m.code) ?? 0) + 1);
    };
    let connections = 0;
    let chatted = 0;

    for (const transport of ['tcp', 'ws'] as const) {
      let sent = 0;
      while (sent < FRAMES_PER_TRANSPORT) {
        const peer = transport === 'tcp' ? await Peer.tcp(gateway.tcpPort) : await Peer.ws(gateway.wsUrl);
        connections++;
        // Each connection gets up to 500 frames or until the gateway closes it.
        for (let batch = 0; batch < 5 && !peer.closed && sent < FRAMES_PER_TRANSPORT; batch++) {
          const frames = Array.from({ length: 100 }, () => fuzzFrame(rand));
          if (transport === 'tcp') peer.sendBytes(Buffer.concat(frames));
          else for (const frame of frames) peer.sendBytes(frame);
          sent += frames.length;
          await new Promise((r) => setImmediate(r));
        }
        // Between connections the witnesses must still hear each other.
        if (connections % 10 === 0) {
          const text = `still alive ${connections}`;
          a.send({ type: 'message', text });
          await b.next('message', (m) => m.text === text);
          chatted++;
        }
        await sleep(5);
        tally(peer);
        peer.destroy();
      }
    }
    const health = await api(gateway, 'GET', '/api/health');
    expect(health.status).toBe(200);
    a.send({ type: 'message', text: 'the end' });
    await expect(b.next('message', (m) => m.text === 'the end')).resolves.toBeDefined();
    // Every error was a documented protocol error: the handler never failed internally.
    expect(codes.get('INTERNAL') ?? 0).toBe(0);
    expect(codes.size).toBeGreaterThan(5);
    expect(chatted).toBeGreaterThan(5);
    // Every fuzz connection was cleaned up.
    await sleep(200);
    const { body } = await api<{ clients: { name: string }[] }>(gateway, 'GET', '/api/clients');
    expect(body.clients.map((c) => c.name).sort()).toEqual(['witness-a', 'witness-b']);
    console.log(`fuzz: ${2 * FRAMES_PER_TRANSPORT} frames over ${connections} connections; error codes seen: ${JSON.stringify(Object.fromEntries(codes))}`);
    a.end();
    b.end();
  }, 120_000);
});
