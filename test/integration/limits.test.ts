import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { encodeMessage } from '@switchboard/protocol';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer, sleep } from '../helpers/peer.js';

let gateway: RunningGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

describe('limits', () => {
  it('rate limit: a burst past the bucket is refused with RATE_LIMITED; a sustained flood is disconnected', async () => {
    gateway = await startGateway({ limits: { ratePerSecond: 20, rateBurst: 30 } });
    const flooder = await Peer.tcp(gateway.tcpPort);
    const witness = await Peer.tcp(gateway.tcpPort);
    await flooder.hello('flooder');
    await witness.hello('witness');
    const burst = Buffer.concat(Array.from({ length: 60 }, (_, i) => encodeMessage({ type: 'message', text: `f${i}` })));
    flooder.sendBytes(burst);
    await expect(flooder.next('error')).resolves.toMatchObject({ code: 'RATE_LIMITED' });
    await sleep(100);
    const delivered = witness.received.filter((m) => m.type === 'message' && m.text.startsWith('f')).length;
    expect(delivered).toBeGreaterThanOrEqual(28); // the burst (less the hello)
    expect(delivered).toBeLessThan(60);
    // Only one error frame for the whole burst: errors do not amplify a flood.
    expect(flooder.received.filter((m) => m.type === 'error').length).toBe(1);
    // Keep flooding: 200 refused frames in a row and the member is cut off.
    flooder.sendBytes(Buffer.concat(Array.from({ length: 400 }, () => encodeMessage({ type: 'message', text: 'x' }))));
    await expect(flooder.next('error', (e) => e.fatal === true)).resolves.toMatchObject({ code: 'RATE_LIMITED' });
    await flooder.waitClosed();
    witness.send({ type: 'message', text: 'calm' });
    await expect(witness.next('message', (m) => m.text === 'calm')).resolves.toBeDefined();
    witness.end();
  });

  it('text over the text limit is refused', async () => {
    gateway = await startGateway({ limits: { maxTextBytes: 1000 } });
    const peer = await Peer.ws(gateway.wsUrl);
    await peer.hello('talker');
    peer.send({ type: 'message', text: 'é'.repeat(501) });
    await expect(peer.next('error')).resolves.toMatchObject({ code: 'TEXT_TOO_LONG' });
    peer.send({ type: 'message', text: 'é'.repeat(500) });
    await expect(peer.next('message')).resolves.toBeDefined();
    peer.end();
  });

  it('connection limits, total and per address, refuse with a clear reason', async () => {
    gateway = await startGateway({ limits: { maxConnections: 4, maxConnectionsPerIp: 3 } });
    const kept = [await Peer.tcp(gateway.tcpPort), await Peer.ws(gateway.wsUrl), await Peer.tcp(gateway.tcpPort)];
    await sleep(50);
    const fourthFromSameIp = await Peer.tcp(gateway.tcpPort);
    await expect(fourthFromSameIp.next('error')).resolves.toMatchObject({ code: 'TOO_MANY_CONNECTIONS_FROM_ADDRESS', fatal: true });
    await fourthFromSameIp.waitClosed();
    // From another loopback address (127.0.0.2): the per-address limit does not apply, the total one does.
    const other = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: gateway!.tcpPort, localAddress: '127.0.0.2' }, () => resolve(s));
      s.once('error', reject);
    });
    await sleep(50);
    const viaWs = await Peer.ws(gateway.wsUrl).catch((e: unknown) => e);
    if (viaWs instanceof Peer) {
      await expect(viaWs.next('error')).resolves.toMatchObject({ code: expect.stringMatching(/^TOO_MANY_CONNECTIONS/) });
      await viaWs.waitClosed();
    }
    const fifth = await new Promise<Buffer>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: gateway!.tcpPort, localAddress: '127.0.0.2' });
      let got = Buffer.alloc(0);
      s.on('data', (d) => (got = Buffer.concat([got, d])));
      s.on('close', () => resolve(got));
    });
    expect(fifth.subarray(5).toString()).toContain('TOO_MANY_CONNECTIONS');
    other.destroy();
    kept.forEach((p) => p.end());
  });

  it('a frame left half-sent is dropped after the frame timeout (slowloris)', async () => {
    gateway = await startGateway({ timing: { frameTimeoutMs: 400 } });
    const slow = await Peer.tcp(gateway.tcpPort);
    const witness = await Peer.tcp(gateway.tcpPort);
    await slow.hello('slow');
    await witness.hello('fine');
    const frame = encodeMessage({ type: 'message', text: 'never finished' });
    slow.sendBytes(frame.subarray(0, 7));
    const started = Date.now();
    await expect(slow.next('error', () => true, 4000)).resolves.toMatchObject({ code: 'FRAME_TIMEOUT', fatal: true });
    await slow.waitClosed();
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(350);
    expect(took).toBeLessThan(2500);
    await expect(witness.next('presence', (p) => p.event === 'leave' && p.member.name === 'slow')).resolves.toMatchObject({ reason: 'timeout' });
    witness.end();
  });

  it('heartbeats: silent protocol members are pinged then dropped; answering ones and plain devices stay', async () => {
    gateway = await startGateway({ timing: { heartbeatMs: 300 } });
    const silent = await Peer.tcp(gateway.tcpPort);
    const alive = await Peer.ws(gateway.wsUrl);
    const device = await Peer.tcp(gateway.tcpPort);
    await silent.hello('silent');
    await alive.hello('alive');
    // alive answers every ping, as the native client and the page do
    const answering = setInterval(() => {
      for (const m of alive.received.splice(0)) if (m.type === 'ping') alive.send({ type: 'pong', data: m.data });
    }, 50);
    await expect(silent.next('ping', () => true, 2000)).resolves.toBeDefined();
    await expect(silent.next('error', () => true, 3000)).resolves.toMatchObject({ code: 'HEARTBEAT_TIMEOUT', fatal: true });
    await silent.waitClosed();
    await sleep(800);
    clearInterval(answering);
    expect(alive.closed).toBe(false);
    expect(device.closed).toBe(false);
    expect(device.received.some((m) => m.type === 'ping')).toBe(false);
    alive.end();
    device.end();
  });

  it('a WebSocket message over the frame limit closes that socket (maxPayload = frame limit)', async () => {
    gateway = await startGateway({ limits: { maxFrameLength: 4096 } });
    const peer = await Peer.ws(gateway.wsUrl);
    await peer.hello('big-ws');
    expect(peer.received.find((m) => m.type === 'welcome')).toMatchObject({ maxFrameLength: 4096 });
    const closed = new Promise<number>((resolve) => peer.ws!.once('close', (code) => resolve(code)));
    peer.send({ type: 'message', text: 'x'.repeat(5000) });
    expect(await closed).toBe(1009); // "message too big"
  });
});

describe('origin checks', () => {
  it('refuses an upgrade from a foreign Origin with 403, accepts its own and allowlisted ones', async () => {
    gateway = await startGateway({ security: { allowedOrigins: ['http://console.example'] } });
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(gateway!.wsUrl, { origin: 'http://evil.example' });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    expect(status).toBe(403);
    const own = await Peer.ws(gateway.wsUrl, { origin: gateway.httpUrl });
    await expect(own.hello('own-origin')).resolves.toBeDefined();
    const listed = await Peer.ws(gateway.wsUrl, { origin: 'http://console.example' });
    await expect(listed.hello('listed-origin')).resolves.toBeDefined();
    own.end();
    listed.end();
  });
});
