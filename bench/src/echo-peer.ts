#!/usr/bin/env node
/**
 * The raw TCP peer of the bridge scenario, in one of two roles:
 *
 *   --listen <port>          a TCP echo server: every byte read is written back (behind websockify).
 *   --device <host>:<port>   a Switchboard plain device: it connects without hello, and every
 *                            type-0 chat line it receives ("name: text") goes back as a type-0
 *                            frame carrying the text alone. Presence lines ("* …") are ignored.
 */
import net from 'node:net';
import { FrameDecoder, FrameType, encodeFrame } from '@switchboard/protocol';

const args = process.argv.slice(2);
const listenAt = args.indexOf('--listen');
const deviceAt = args.indexOf('--device');

if (listenAt >= 0) {
  const port = Number(args[listenAt + 1]);
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => {});
  });
  server.listen({ host: '127.0.0.1', port }, () => console.log(`echo peer listening on 127.0.0.1:${port}`));
} else if (deviceAt >= 0) {
  const [host = '127.0.0.1', port = '9000'] = (args[deviceAt + 1] ?? '').split(':');
  const socket = net.connect({ host, port: Number(port), noDelay: true });
  const colonSpace = Buffer.from(': ');
  const decoder = new FrameDecoder((type, payload) => {
    if (type !== FrameType.Text || payload[0] === 0x2a /* "* " presence and notices */) return;
    const line = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    const at = line.indexOf(colonSpace);
    if (at >= 0) socket.write(encodeFrame(FrameType.Text, line.subarray(at + 2)));
  });
  socket.on('data', (chunk) => decoder.push(chunk));
  socket.on('connect', () => console.log(`echo device connected to ${host}:${port}`));
  socket.on('error', (error) => {
    console.error(`echo device: ${error.message}`);
    process.exit(1);
  });
  socket.on('close', () => process.exit(0));
} else {
  console.error('usage: echo-peer --listen <port> | --device <host>:<port>');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
