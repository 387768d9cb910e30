/**
 * Scenario 7's C client (bench/c/pipe-client.c): built with gcc and driven over the Node IPC
 * channel as the bench drives it, against a scripted WebSocket echo server on a real socket. The
 * server shows what the client puts on the wire (each message one masked binary WebSocket
 * message, the bench's frame with its sequence numbers in order, a key per message) and gives
 * it back the way the pipe and websockify do: a byte stream whose WebSocket messages cut frames
 * anywhere.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { buildCPipeClient } from '../../bench/src/c-receiver.js';
import { frameTemplate } from '../../bench/src/outgoing.js';
import { MARKER, PAYLOAD_BYTES, payloadSeq } from '../../bench/src/payload.js';
import { builtForThisFile, spawnOnIpc } from '../helpers/c-program.js';

const binary = builtForThisFile(buildCPipeClient, 'c-pipe-client');

interface Seen {
  path: string;
  /** Each client message: its mask key and unmasked payload. */
  messages: { opcode: number; fin: boolean; masked: boolean; key: string; payload: Buffer }[];
}

/** A WebSocket echo server that answers each read's payloads in two server messages, cut in the middle. */
function echoServer(): Promise<{ port: number; seen: Seen; close: () => void }> {
  const seen: Seen = { path: '', messages: [] };
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        seen.path = head.split(' ')[1] ?? '';
        const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        upgraded = true;
        buf = buf.subarray(end + 4);
      }
      const echo: Buffer[] = [];
      for (;;) {
        if (buf.length < 2) break;
        const masked = (buf[1]! & 0x80) !== 0;
        let length = buf[1]! & 0x7f;
        let at = 2;
        if (length === 126) {
          if (buf.length < 4) break;
          length = buf.readUInt16BE(2);
          at = 4;
        }
        const keyBytes = masked ? buf.subarray(at, at + 4) : Buffer.alloc(4);
        const start = at + (masked ? 4 : 0);
        if (buf.length < start + length) break;
        const payload = Buffer.from(buf.subarray(start, start + length));
        for (let i = 0; i < payload.length; i++) payload[i]! ^= keyBytes[i & 3]!;
        seen.messages.push({ opcode: buf[0]! & 0x0f, fin: (buf[0]! & 0x80) !== 0, masked, key: keyBytes.toString('hex'), payload });
        echo.push(payload);
        buf = buf.subarray(start + length);
      }
      if (echo.length === 0) return;
      const bytes = Buffer.concat(echo);
      const cut = Math.max(1, bytes.length >> 1);
      for (const part of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
        if (part.length === 0) continue;
        const head = part.length < 126 ? Buffer.from([0x82, part.length]) : Buffer.from([0x82, 126, part.length >> 8, part.length & 0xff]);
        socket.write(Buffer.concat([head, part]));
      }
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, seen, close: () => server.close() })),
  );
}

describe("scenario 7's C client", () => {
  it('sends each message as one masked binary WebSocket message, the bench frame in sequence order, and counts the echoes of a cut stream', async () => {
    const server = await echoServer();
    const template = frameTemplate(PAYLOAD_BYTES).build(0, 0, 0);
    const { child, stderr } = spawnOnIpc(binary());
    const messages: { type: string; what?: string; runs?: Record<string, number>[]; message?: string }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no 'done' from the C client; stderr: ${stderr()}`)), 30_000);
      child.on('message', (message: (typeof messages)[number]) => {
        messages.push(message);
        if (message.type === 'done' || message.type === 'error') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.send({
      type: 'start',
      url: `ws://127.0.0.1:${server.port}/ws/devices/d1`,
      mode: 'pipe',
      rttCount: 50,
      rttWarmup: 10,
      inFlight: 8,
      throughputMs: 400,
      runs: 1,
      frameHex: template.toString('hex'),
      payloadAt: template.indexOf(MARKER),
    });
    try {
      await done;
    } finally {
      child.kill();
      server.close();
    }

    expect(messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(messages.filter((m) => m.type === 'mark').map((m) => m.what)).toEqual(['rtt-start', 'load-start', 'load-end']);
    const run = messages.at(-1)!.runs![0]!;
    expect(run.rttSamples).toBe(50);
    expect(run.duplicates).toBe(0);
    expect(run.messagesPerSecond).toBeGreaterThan(0);
    expect(run.rttP99Ms).toBeGreaterThan(0);

    expect(server.seen.path).toBe('/ws/devices/d1');
    const sent = server.seen.messages;
    // 60 round trips, then 8 in flight until the window ends and each one out has come back.
    expect(sent.length).toBeGreaterThan(60 + 8);
    for (const m of sent) {
      expect({ opcode: m.opcode, fin: m.fin, masked: m.masked, length: m.payload.length }).toEqual({
        opcode: 2,
        fin: true,
        masked: true,
        length: template.length,
      });
      // The bench's frame; only the sequence and send-time digits differ.
      const at = template.indexOf(MARKER);
      expect(m.payload.subarray(0, at + 8)).toEqual(template.subarray(0, at + 8));
      expect(m.payload.subarray(at + 34)).toEqual(template.subarray(at + 34));
    }
    expect(sent.map((m) => payloadSeq(m.payload, template.indexOf(MARKER)))).toEqual(sent.map((_, i) => i));
    // A key per message, as a browser masks (not one key for all).
    expect(new Set(sent.map((m) => m.key)).size).toBeGreaterThan(sent.length / 2);
  });
});
