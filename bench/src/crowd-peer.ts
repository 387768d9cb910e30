/**
 * A crowd of idle members for scenario 12, in one child process driven over IPC: it opens
 * `count` connections (a share of them WebSocket), each says hello into one of 100 rooms and
 * then only answers pings, from several loopback source addresses so that the 28,000-odd
 * ephemeral ports of one address do not run out.
 */
import net from 'node:net';
import WebSocket from 'ws';
import { FrameDecoder, FrameType, decodeServerMessage, encodeMessage } from '@switchboard/protocol';

export interface CrowdCommand {
  type: 'connect';
  host: string;
  tcpPort: number;
  httpPort: number;
  /** Index of the first member (names are c<index>). */
  first: number;
  count: number;
  /** Every n-th member (by index parity) on WebSocket: 0 none, 0.5 half, 1 all. */
  wsShare: number;
  sources: string[];
  concurrency: number;
}

export type CrowdReport = { type: 'connected'; connected: number; failed: number; firstError?: string; seconds: number } | { type: 'error'; message: string };

function hello(index: number): Uint8Array {
  return encodeMessage({ type: 'hello', v: 1, name: `c${index}`, room: `crowd-${index % 100}` });
}

const held: { destroy(): void }[] = [];

function tcpMember(command: CrowdCommand, index: number, source: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: command.host, port: command.tcpPort, localAddress: source });
    const decoder = new FrameDecoder(
      (type, payload) => {
        if (type === FrameType.Welcome) resolve();
        else if (type === FrameType.Ping) {
          const ping = decodeServerMessage(type, payload);
          if (ping.type === 'ping') socket.write(encodeMessage({ type: 'pong', data: ping.data }));
        } else if (type === FrameType.Error) reject(new Error(Buffer.from(payload).toString()));
      },
      { maxFrameLength: 16 * 1024 * 1024 },
    );
    socket.on('data', (chunk) => decoder.push(chunk));
    socket.once('connect', () => socket.write(hello(index)));
    socket.on('error', reject);
    held.push(socket);
  });
}

function wsMember(command: CrowdCommand, index: number, source: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${command.host}:${command.httpPort}/ws`, { localAddress: source, perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer) => {
      const type = data[4]!;
      if (type === FrameType.Ping) {
        const ping = decodeServerMessage(type, data.subarray(5));
        if (ping.type === 'ping') ws.send(encodeMessage({ type: 'pong', data: ping.data }));
      } else if (type === FrameType.Welcome) resolve();
      else if (type === FrameType.Error) reject(new Error(data.subarray(5).toString()));
    });
    ws.once('open', () => ws.send(hello(index)));
    ws.on('error', reject);
    held.push({ destroy: () => ws.terminate() });
  });
}

async function connectAll(command: CrowdCommand): Promise<CrowdReport> {
  const started = Date.now();
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < command.count) {
      const i = next++;
      const index = command.first + i;
      const source = command.sources[index % command.sources.length]!;
      const onWs = command.wsShare >= 1 || (command.wsShare > 0 && index % 2 === 1);
      try {
        await (onWs ? wsMember(command, index, source) : tcpMember(command, index, source));
        connected++;
      } catch (error) {
        failed++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, worker));
  return { type: 'connected', connected, failed, ...(firstError !== undefined && { firstError }), seconds: (Date.now() - started) / 1000 };
}

process.on('message', (command: CrowdCommand | { type: 'close' }) => {
  if (command.type === 'close') {
    for (const member of held) member.destroy();
    process.exit(0);
  }
  connectAll(command).then(
    (report) => process.send!(report),
    (error: unknown) => process.send!({ type: 'error', message: (error as Error).message } satisfies CrowdReport),
  );
});
