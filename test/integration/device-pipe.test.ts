import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { sleep } from '../helpers/peer.js';
import { RawSocket } from '../helpers/raw-socket.js';

// The raw pipe (GET /ws/devices/:id) reads its WebSocket frames itself (transports/pipe-reader.ts):
// these tests speak RFC 6455 by hand, so each frame lands where the reader must cope with it.

const MAX_QUEUE_BYTES = 256 * 1024;
let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({
    devices: { listen: [], targets: '127.0.0.1' },
    limits: { ratePerSecond: 1000, rateBurst: 1000, maxQueueBytes: MAX_QUEUE_BYTES },
  });
});
afterAll(async () => {
  await gateway.close();
});

/** A device on a new raw listener, and its member id (what the pipe's URL names). */
async function device(): Promise<{ socket: RawSocket; id: string }> {
  const created = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'raw', room: 'pipe-reader' });
  expect(created.status).toBe(201);
  const socket = await RawSocket.connect(created.body.port);
  for (let i = 0; i < 50; i++) {
    const member = (await api(gateway, 'GET', '/api/clients')).body.clients.find((c: { listener?: string }) => c.listener === created.body.id);
    if (member !== undefined) return { socket, id: member.id };
    await sleep(20);
  }
  throw new Error('the device did not join');
}

/** A client frame: masked, as RFC 6455 requires of clients. */
function clientFrame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const length = payload.length;
  const head = length < 126 ? Buffer.of(0, 0x80 | length) : length < 65536 ? Buffer.of(0, 0x80 | 126, length >> 8, length & 0xff) : Buffer.alloc(10);
  if (length >= 65536) {
    head[1] = 0x80 | 127;
    head.writeUInt32BE(length, 6);
  }
  head[0] = (fin ? 0x80 : 0) | opcode;
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
  return Buffer.concat([head, mask, body]);
}

/** Server frames (unmasked) as they come: opcode and payload. */
function serverFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const frames: { opcode: number; payload: Buffer }[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    let length = bytes[at + 1]! & 0x7f;
    let head = 2;
    if (length === 126) [length, head] = [bytes.readUInt16BE(at + 2), 4];
    else if (length === 127) [length, head] = [bytes.readUInt32BE(at + 6), 10];
    if (at + head + length > bytes.length) break;
    frames.push({ opcode: bytes[at]! & 0x0f, payload: bytes.subarray(at + head, at + head + length) });
    at += head + length;
  }
  return frames;
}

/** The upgrade by hand on a plain TCP socket; what follows the 101 is WebSocket frames. */
async function openPipe(id: string): Promise<RawSocket> {
  const client = await RawSocket.connect(Number(new URL(gateway.httpUrl).port));
  client.socket.setNoDelay(true);
  client.write(
    `GET /ws/devices/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const response = await client.until('\r\n\r\n');
  expect(response.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
  return client;
}

describe('the raw pipe reads frames itself', () => {
  it('takes frames split at every byte and many in one read, in order, with pings, text and fragments between them', async () => {
    const { socket: dev, id } = await device();
    const pipe = await openPipe(id);
    const expected: Buffer[] = [];
    const send = (bytes: Buffer, payload?: Buffer) => {
      pipe.write(bytes);
      if (payload !== undefined) expected.push(payload);
    };

    // A frame a byte at a time (each byte its own TCP segment).
    const first = Buffer.from('split');
    for (const byte of clientFrame(2, first)) {
      pipe.write(Buffer.of(byte));
      await sleep(2);
    }
    expected.push(first);
    expect((await dev.take(first.length)).equals(first)).toBe(true);

    // Many frames in one write, a ping among them (ws answers it), and a 16-bit length.
    const small = [Buffer.from('a'), Buffer.from('bc'), randomBytes(300), Buffer.from('def')];
    send(
      Buffer.concat([
        clientFrame(2, small[0]!),
        clientFrame(2, small[1]!),
        clientFrame(9, Buffer.from('are you there')),
        clientFrame(2, small[2]!),
        clientFrame(2, small[3]!),
      ]),
    );
    expected.push(...small);
    // A text message and a fragmented binary one are ws's to read; the bytes still reach the device.
    const text = Buffer.from('MoveJ p10');
    send(clientFrame(1, text), text);
    send(Buffer.concat([clientFrame(2, Buffer.from('frag'), false), clientFrame(0, Buffer.from('mented'))]), Buffer.from('fragmented'));
    // And after ws took over: a binary frame past 64 KiB (64-bit length), then small ones again.
    const big = randomBytes(70_000);
    send(clientFrame(2, big), big);
    send(clientFrame(2, Buffer.from('after')), Buffer.from('after'));

    const all = Buffer.concat(expected);
    const got = Buffer.concat([first, await dev.take(all.length - first.length)]);
    expect(got.equals(all)).toBe(true);
    const pong = serverFrames(pipe.received).find((f) => f.opcode === 0x0a);
    expect(pong?.payload.toString()).toBe('are you there');

    // A close frame: the gateway answers with its own and ends the connection.
    send(clientFrame(8, Buffer.of(0x03, 0xe8)));
    for (let i = 0; i < 100 && !pipe.closed; i++) await sleep(10);
    expect(serverFrames(pipe.received).at(-1)).toMatchObject({ opcode: 8 });
    expect(pipe.closed).toBe(true);
    dev.socket.destroy();
  });

  it('a frame that breaks the protocol (unmasked) closes the pipe with 1002, and the device stays', async () => {
    const { socket: dev, id } = await device();
    const pipe = await openPipe(id);
    pipe.write(Buffer.of(0x82, 0x03, 0x61, 0x62, 0x63)); // no mask bit
    for (let i = 0; i < 100 && !pipe.closed; i++) await sleep(10);
    expect(pipe.closed).toBe(true);
    const close = serverFrames(pipe.received).find((f) => f.opcode === 8);
    expect(close?.payload.readUInt16BE(0)).toBe(1002);
    expect(dev.received.length).toBe(0);
    expect(dev.closed).toBe(false);
    dev.socket.destroy();
  });

  it.each([
    ['binary frames the pipe reads itself', 64 * 1024],
    ['frames past 64 KiB, read by ws', 100 * 1024],
  ])('stops reading a pipe whose device does not read, and loses nothing when it reads again (%s)', async (_what, chunkBytes) => {
    const created = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'raw', room: 'slow-device' });
    const slow = net.connect({ port: created.body.port, host: '127.0.0.1' });
    slow.pause(); // reads nothing for now
    let member: { id: string } | undefined;
    for (let i = 0; i < 50 && member === undefined; i++) {
      member = (await api(gateway, 'GET', '/api/clients')).body.clients.find((c: { listener?: string }) => c.listener === created.body.id);
      if (member === undefined) await sleep(20);
    }
    const pipe = new WebSocket(`${gateway.httpUrl.replace('http', 'ws')}/ws/devices/${member!.id}`);
    await new Promise((resolve, reject) => pipe.once('open', resolve).once('error', reject));
    const chunk = randomBytes(chunkBytes);
    const total = Math.ceil((20 * 2 ** 20) / chunkBytes); // 20 MiB
    for (let i = 0; i < total; i++) pipe.send(chunk);
    await sleep(1000);
    // What the gateway took from the pipe: its own queue is bounded, the rest waits in TCP buffers.
    const taken = () => api(gateway, 'GET', '/api/clients').then((r) => r.body.clients.find((c: { id: string }) => c.id === member!.id).bytesOut as number);
    const held = await taken();
    expect(held).toBeLessThan((total * chunk.length) / 2);
    expect(pipe.bufferedAmount).toBeGreaterThan(0); // the browser side is held back, not the gateway's memory
    // The device reads: every byte arrives, in order.
    const received: Buffer[] = [];
    let bytes = 0;
    slow.on('data', (data: Buffer) => {
      received.push(data);
      bytes += data.length;
    });
    slow.resume();
    for (let i = 0; i < 500 && bytes < total * chunk.length; i++) await sleep(20);
    expect(bytes).toBe(total * chunk.length);
    const joined = Buffer.concat(received);
    for (let i = 0; i < total; i += 37) expect(joined.subarray(i * chunk.length, (i + 1) * chunk.length).equals(chunk)).toBe(true);
    pipe.close();
    slow.destroy();
  });
});
