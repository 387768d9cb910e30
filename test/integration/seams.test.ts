import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { encodeFrame } from '@switchboard/protocol';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer, sleep } from '../helpers/peer.js';

// Issue 9 against a running gateway: who may read private history over REST, request refs
// on both transports, and what a plain device hears during its hello window.

const TOKEN = 'seams-test-token';
let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({ security: { adminToken: TOKEN }, timing: { helloTimeoutMs: 500 } });
});
afterAll(async () => {
  await gateway.close();
});

describe('history over REST', () => {
  it('keeps private messages from callers without admin rights, and gives them to the operator', async () => {
    const alice = await Peer.tcp(gateway.tcpPort);
    const bob = await Peer.ws(gateway.wsUrl);
    await alice.hello('alice');
    await bob.hello('bob');
    alice.send({ type: 'message', text: 'for everyone' });
    alice.send({ type: 'private', to: 'bob', text: 'only for bob' });
    await bob.next('private');

    const everything = await api(gateway, 'GET', '/api/history');
    expect(everything.status).toBe(401);
    expect(everything.body.code).toBe('UNAUTHORIZED');
    expect(JSON.stringify(everything.body)).not.toContain('only for bob');

    const lobby = await api(gateway, 'GET', '/api/history?room=lobby');
    expect(lobby.status).toBe(200);
    expect(lobby.body.entries.map((e: { text?: string }) => e.text)).toContain('for everyone');
    expect(lobby.body.entries.some((e: { kind: string }) => e.kind === 'private')).toBe(false);

    const operator = await api(gateway, 'GET', '/api/history', undefined, { authorization: `Bearer ${TOKEN}` });
    expect(operator.status).toBe(200);
    expect(operator.body.entries).toContainEqual(expect.objectContaining({ kind: 'private', from: 'alice', to: 'bob', text: 'only for bob' }));

    const clamped = await api(gateway, 'GET', '/api/history?room=lobby&limit=100000');
    expect(clamped.status).toBe(200); // clamped to the page limit, as on the wire
    alice.destroy();
    bob.destroy();
  });
});

describe('request refs', () => {
  for (const transport of ['tcp', 'ws'] as const) {
    it(`come back in the reply and in the error frame a request causes (${transport})`, async () => {
      const peer = transport === 'tcp' ? await Peer.tcp(gateway.tcpPort) : await Peer.ws(gateway.wsUrl);
      peer.send({ type: 'hello', v: 1, name: `ref-${transport}`, ref: 'hello-1' });
      expect((await peer.next('welcome')).ref).toBe('hello-1');
      peer.send({ type: 'join', room: 'not a room', ref: 'bad-join' });
      expect(await peer.next('error')).toMatchObject({ code: 'ROOM_INVALID', ref: 'bad-join' });
      peer.send({ type: 'private', to: 'nobody-at-all', text: 'x', ref: 'p-7' });
      expect(await peer.next('error')).toMatchObject({ code: 'NO_SUCH_MEMBER', ref: 'p-7' });
      // A body of the wrong shape still gets its ref back when the ref itself is sound.
      peer.sendBytes(encodeFrame(0x04, new TextEncoder().encode('{"text": 5, "ref": "shape"}')));
      expect(await peer.next('error')).toMatchObject({ code: 'INVALID_MESSAGE', ref: 'shape' });
      peer.send({ type: 'rooms', ref: 'r'.repeat(65) });
      expect((await peer.next('error')).ref).toBeUndefined(); // a ref over 64 characters is itself the error
      peer.send({ type: 'message', text: 'acked', ref: 'm-1' });
      expect(await peer.next('message', (m) => m.text === 'acked')).toMatchObject({ ref: 'm-1' });
      peer.destroy();
    });
  }
});

describe('WebSocket framing mistakes', () => {
  it('a message over the frame limit is closed with 1009, and the gateway does not log it as its own error', async () => {
    const lines: string[] = [];
    const own = await startGateway({ logLevel: 'info' }, { logLines: lines });
    try {
      const ws = new WebSocket(own.wsUrl);
      await new Promise((resolve) => ws.once('open', resolve));
      const big = Buffer.alloc(own.config.limits.maxFrameLength + 10);
      big.writeUInt32BE(big.length - 4, 0);
      ws.send(big);
      const [code] = (await once(ws, 'close')) as [number];
      expect(code).toBe(1009);
      // A zero length prefix on WebSocket: FRAME_BOUNDARY, and the connection stays.
      const peer = await Peer.ws(own.wsUrl);
      peer.sendBytes(Uint8Array.of(0, 0, 0, 0));
      expect(await peer.next('error')).toMatchObject({ code: 'FRAME_BOUNDARY' });
      expect((await peer.hello('still-here')).name).toBe('still-here');
      peer.destroy();
      expect(lines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
    } finally {
      await own.close();
    }
  });
});

describe('the hello window', () => {
  it('a plain device connected 100 ms before a member speaks receives that line', async () => {
    const speaker = await Peer.ws(gateway.wsUrl);
    await speaker.hello('speaker');
    const device = await Peer.tcp(gateway.tcpPort); // says nothing: a plain device after 500 ms
    await sleep(100);
    speaker.send({ type: 'message', text: 'said inside the window' });
    await expect(device.waitForLine((line) => line === 'speaker: said inside the window', 3000)).resolves.toBeDefined();
    speaker.send({ type: 'message', text: 'said after it' });
    await device.waitForLine((line) => line === 'speaker: said after it', 3000);
    const order = device.lines.filter((l) => l.startsWith('speaker:'));
    expect(order).toEqual(['speaker: said inside the window', 'speaker: said after it']);
    speaker.destroy();
    device.destroy();
  });
});
