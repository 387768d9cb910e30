import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { readPipeFrames } from '../src/transports/pipe-reader.js';

// The pipe's frame reader takes the socket over from the ws version this gateway ships with
// (it reaches into ws's receiver): if a ws upgrade changes what it relies on, this fails, rather
// than the pipe silently falling back to ws's slower path. Real sockets on loopback.

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function pair(maxPayload: number, deliver: (bytes: Buffer) => void): Promise<{ client: WebSocket; tookOver: boolean }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  const accepted = new Promise<boolean>((resolve) =>
    server.once('connection', (ws, request) => {
      ws.on('error', () => {}); // a protocol error closes it; that is what the test looks at
      resolve(readPipeFrames(ws, request.socket, maxPayload, deliver));
    }),
  );
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  return { client, tookOver: await accepted };
}

describe('readPipeFrames', () => {
  it('takes over from ws and delivers the payloads of binary frames in order, ws still answering pings', async () => {
    const got: Buffer[] = [];
    const { client, tookOver } = await pair(1 << 20, (bytes) => got.push(Buffer.from(bytes)));
    expect(tookOver).toBe(true);
    for (let i = 0; i < 100; i++) client.send(Buffer.from(`message ${i};`));
    const pong = new Promise<Buffer>((resolve) => client.once('pong', resolve));
    client.ping('hello?');
    expect((await pong).toString()).toBe('hello?');
    const want = Array.from({ length: 100 }, (_, i) => `message ${i};`).join('');
    for (let i = 0; i < 100 && Buffer.concat(got).length < want.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(Buffer.concat(got).toString()).toBe(want);
    // Fewer deliveries than messages: the payloads of one read go together.
    expect(got.length).toBeLessThan(100);
  });

  it('leaves a frame over maxPayload to ws, which closes with 1009', async () => {
    const got: Buffer[] = [];
    const { client } = await pair(1000, (bytes) => got.push(Buffer.from(bytes)));
    const closed = new Promise<number>((resolve) => client.once('close', resolve));
    client.send(Buffer.alloc(2000));
    expect(await closed).toBe(1009);
    expect(got.length).toBe(0);
  });
});
