#!/usr/bin/env node
/**
 * The floor any Node gateway pays: node:net, a FrameDecoder per socket, and every frame sent
 * on as the same bytes to every other socket. No JSON, no rooms, no names, no history.
 *
 * Two variants: by default one write (one system call) per frame per socket, no batching;
 * with --cork, the obvious batching: a socket that is written to is corked until the end of
 * the event-loop turn (setImmediate, after every read of that turn was handled), so it gets one
 * writev per turn however many frames the turn produced for it.
 * Usage: node bare-hub.js --port 9100 [--cork]
 */
import net from 'node:net';
import { FrameDecoder, FrameType, encodeFrame } from '@switchboard/protocol';

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
if (!Number.isInteger(port) || port <= 0) throw new Error('usage: bare-hub --port <n> [--cork]');
const cork = process.argv.includes('--cork');

const sockets = new Set<net.Socket>();
// An empty welcome tells a client it has been accepted and will receive what others send.
const welcome = encodeFrame(FrameType.Welcome, new Uint8Array(0));

// --cork: the sockets corked this turn, uncorked together once the turn's reads are done.
const corked: net.Socket[] = [];
let flushScheduled = false;
function flush(): void {
  flushScheduled = false;
  for (const s of corked) s.uncork();
  corked.length = 0;
}

function send(other: net.Socket, frame: Uint8Array): void {
  if (cork && other.writableCorked === 0) {
    other.cork();
    corked.push(other);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }
  other.write(frame);
}

const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.write(welcome);
  const decoder = new FrameDecoder((type, payload) => {
    const frame = encodeFrame(type, payload); // once per frame, not once per receiver
    for (const other of sockets) if (other !== socket) send(other, frame);
  });
  socket.on('data', (chunk) => {
    try {
      decoder.push(chunk);
    } catch {
      socket.destroy(); // a bad length prefix: the stream cannot be trusted
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => sockets.delete(socket));
});

server.listen({ host: '127.0.0.1', port, backlog: 511 }, () => console.log(`bare hub${cork ? ' (corked)' : ''} listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
