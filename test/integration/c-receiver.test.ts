/**
 * The bench's C receiver (bench/c/receiver.c, scenario 3): built with gcc, driven over the Node
 * IPC channel as the bench drives it, against servers on real sockets. A scripted server shows
 * exactly what it counts (losses, duplicates, unknown senders, echoes, error codes; frames and
 * lines cut across reads) and what it answers (pong, PONG); a real gateway shows it joins and
 * receives as a Node member does.
 */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '@switchboard/protocol';
import { buildCReceiver } from '../../bench/src/c-receiver.js';
import { nowUs } from '../../bench/src/clock.js';
import { blankPayload, writePayload } from '../../bench/src/payload.js';
import { frameTemplate } from '../../bench/src/outgoing.js';
import { builtForThisFile, spawnOnIpc } from '../helpers/c-program.js';
import { spawnGateway } from '../helpers/gateway-process.js';

const binary = builtForThisFile(buildCReceiver, 'c-receiver');

interface Report {
  type: string;
  [key: string]: unknown;
}

/** The receiver as a child on an IPC channel; `ask` sends a command and waits for the next message. */
function startReceiver(): { child: ChildProcess; ask: (command: object, timeoutMs?: number) => Promise<Report> } {
  const { child, stderr } = spawnOnIpc(binary());
  const ask = (command: object, timeoutMs = 10_000): Promise<Report> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(command).slice(0, 80)}; stderr: ${stderr()}`)), timeoutMs);
      child.once('message', (message: Report) => {
        clearTimeout(timer);
        resolve(message);
      });
      child.send(command);
    });
  return { child, ask };
}

function frame(type: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head[4] = type;
  return Buffer.concat([head, body]);
}

function payloadText(sender: number, seq: number, timeUs: number): string {
  const p = blankPayload(64);
  writePayload(p, 0, sender, seq, timeUs);
  return p.toString('latin1');
}

/** A chat message as the gateway sends it to room members. */
function chatFrame(sender: number, seq: number, timeUs: number): Buffer {
  return frame(0x04, JSON.stringify({ id: 1, room: 'bench', from: `b${sender}`, transport: 'tcp', ts: 0, text: payloadText(sender, seq, timeUs) }));
}

/** Reads length-prefixed frames from a socket; `next()` resolves with each in turn. */
function frameReader(socket: net.Socket): () => Promise<Buffer> {
  let buffered = Buffer.alloc(0);
  const waiting: ((f: Buffer) => void)[] = [];
  const ready: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
      const n = 4 + buffered.readUInt32BE(0);
      const f = buffered.subarray(0, n);
      buffered = buffered.subarray(n);
      const w = waiting.shift();
      if (w) w(f);
      else ready.push(f);
    }
  });
  return () => new Promise((resolve) => (ready.length > 0 ? resolve(ready.shift()!) : waiting.push(resolve)));
}

function listen(onSocket: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer({ noDelay: true }, onSocket);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const port = (server: net.Server): number => (server.address() as net.AddressInfo).port;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the C receiver', () => {
  it('counts every message once per member by sender and sequence, over frames cut across reads, and answers pings with their bytes', async () => {
    // Members 0, 1, 2 receive; senders are members 100 and 101 (elsewhere); 6 messages: g → sender g % 2, sequence ⌊g / 2⌋.
    const sockets = new Map<number, { socket: net.Socket; next: () => Promise<Buffer> }>();
    let allIn: () => void = () => {};
    const joined = new Promise<void>((resolve) => (allIn = resolve));
    const server = await listen((socket) => {
      const next = frameReader(socket);
      void next().then((hello) => {
        expect(hello[4]).toBe(0x02);
        const { v, name, room } = JSON.parse(hello.subarray(5).toString()) as { v: number; name: string; room: string };
        expect([v, room]).toEqual([1, 'bench']);
        const index = Number(name.slice(1));
        sockets.set(index, { socket, next });
        // welcome, presence, roster, then history: the last thing hello answers.
        socket.write(Buffer.concat([frame(0x03, '{}'), frame(0x06, '{}'), frame(0x07, '{}'), frame(0x10, '{"room":"bench","entries":[]}')]));
        if (sockets.size === 3) allIn();
      });
    });
    const { child, ask } = startReceiver();
    try {
      const ready = await ask({
        type: 'setup',
        wire: 'sb-tcp',
        host: '127.0.0.1',
        port: port(server),
        room: 'bench',
        concurrency: 2,
        timeoutMs: 5000,
        members: [0, 1, 2],
        samples: [0],
        senderIndex: [100, 101],
      });
      await joined;
      expect(ready).toMatchObject({ type: 'ready', members: 3 });

      const t0 = nowUs();
      const run = ask({ type: 'run', id: 7, t0, rate: 1000, senders: 2, totalMessages: 6, windowStart: t0 - 1e6, windowEnd: t0 + 400_000, drainMs: 300 });
      const at = t0 - 500; // intended send time of every message: inside the window
      const all = [0, 1, 2, 3, 4, 5].map((g) => chatFrame(100 + (g % 2), Math.floor(g / 2), at));
      // Member 0: all six, then the third again (a duplicate); each write cuts a frame in two.
      const m0 = Buffer.concat([...all, all[2]!]);
      for (let i = 0; i < m0.length; i += 97) {
        sockets.get(0)!.socket.write(m0.subarray(i, i + 97));
        await sleep(2);
      }
      // Member 1: five (message 4 never comes), an error frame, an unknown frame type, a ping.
      const ping = frame(0x0a, Buffer.from([1, 2, 3, 250]));
      sockets
        .get(1)!
        .socket.write(
          Buffer.concat([all[0]!, all[1]!, all[2]!, all[3]!, frame(0x09, '{"code":"RATE_LIMITED","message":"slow down"}'), frame(0x42, 'x'), ping, all[5]!]),
        );
      // Member 2: all six, one from a sender that is not one (member 55), one of its own (an echo).
      sockets.get(2)!.socket.write(Buffer.concat([...all, chatFrame(55, 0, at), chatFrame(2, 0, at)]));
      const pong = await sockets.get(1)!.next();
      expect([...pong]).toEqual([0, 0, 0, 5, 0x0b, 1, 2, 3, 250]);

      const report = await run;
      expect(report).toMatchObject({
        type: 'report',
        id: 7,
        members: 3,
        expected: 18,
        received: 17,
        missing: 1,
        surplus: 0,
        receivedInWindow: 17,
        duplicates: 1,
        unexpected: 1,
        echoes: 1,
        closed: 0,
        errorFrames: { RATE_LIMITED: 1 },
        sent: 0,
      });
      // Only member 0 samples: its six messages, each about 0.5 ms late or more.
      const latency = report.latency as { count: number; max: number };
      expect(latency.count).toBe(6);
      expect(latency.max).toBeGreaterThanOrEqual(500);
      expect((report.latencyByWire as Record<string, { count: number }>)['sb-tcp']!.count).toBe(6);
      expect(report.windowUs as number).toBeGreaterThan(0);

      expect(await ask({ type: 'close' })).toEqual({ type: 'closed' });
    } finally {
      child.kill();
      server.close();
      for (const { socket } of sockets.values()) socket.destroy();
    }
  });

  it('registers with ngircd-style IRC (NICK, USER, JOIN), counts PRIVMSG lines cut across reads and answers PING', async () => {
    const lines: string[] = [];
    let client!: net.Socket;
    let joined: () => void = () => {};
    const isJoined = new Promise<void>((resolve) => (joined = resolve));
    let ponged: (line: string) => void = () => {};
    const pong = new Promise<string>((resolve) => (ponged = resolve));
    const server = await listen((socket) => {
      client = socket;
      let carry = '';
      socket.on('data', (chunk: Buffer) => {
        carry += chunk.toString('latin1');
        let nl;
        while ((nl = carry.indexOf('\n')) >= 0) {
          const line = carry.slice(0, nl + 1);
          carry = carry.slice(nl + 1);
          lines.push(line);
          if (line.startsWith('USER ')) socket.write(':irc.test 001 b3 :Welcome\r\n');
          if (line.startsWith('JOIN ')) {
            socket.write(':b3!~b3@127.0.0.1 JOIN :#bench\r\n:irc.test 353 b3 = #bench :b3\r\n:irc.test 366 b3 #bench :End of NAMES list\r\n');
            joined();
          }
          if (line.startsWith('PONG')) ponged(line);
        }
      });
    });
    const { child, ask } = startReceiver();
    try {
      const ready = await ask({
        type: 'setup',
        wire: 'irc',
        host: '127.0.0.1',
        port: port(server),
        room: 'bench',
        concurrency: 8,
        timeoutMs: 5000,
        members: [3],
        samples: [],
        senderIndex: [0],
      });
      await isJoined;
      expect(ready).toMatchObject({ type: 'ready', members: 1 });
      expect(lines).toEqual(['NICK b3\r\n', 'USER b3 0 * :bench\r\n', 'JOIN #bench\r\n']);

      const t0 = nowUs();
      const run = ask({ type: 'run', id: 1, t0, rate: 1000, senders: 1, totalMessages: 4, windowStart: t0, windowEnd: t0 + 300_000, drainMs: 300 });
      const privmsg = (seq: number): string => `:b0!~b0@127.0.0.1 PRIVMSG #bench :${payloadText(0, seq, t0)}\r\n`;
      const bytes = Buffer.from(privmsg(0) + privmsg(1) + 'PING :irc.test\r\n' + privmsg(2) + privmsg(1) + privmsg(3), 'latin1');
      for (let i = 0; i < bytes.length; i += 50) {
        client.write(bytes.subarray(i, i + 50));
        await sleep(2);
      }
      expect(await pong).toBe('PONG :irc.test\r\n');
      expect(await run).toMatchObject({ type: 'report', expected: 4, received: 4, missing: 0, duplicates: 1, unexpected: 0, closed: 0 });
    } finally {
      child.kill();
      server.close();
      client.destroy();
    }
  });

  it('joins a real gateway with hello and receives every message of the room exactly once', async () => {
    const gateway = await spawnGateway(['--heartbeat-ms', '0', '--rate', '1000000', '--rate-burst', '1000000']);
    const { child, ask } = startReceiver();
    const sender = net.connect({ host: '127.0.0.1', port: gateway.tcpPort });
    try {
      // The sender (member 9) says hello first, so the receivers' joins do not race its messages.
      const next = frameReader(sender);
      sender.write(encodeMessage({ type: 'hello', v: 1, name: 'b9', room: 'bench' }));
      while ((await next())[4] !== 0x10);
      const ready = await ask({
        type: 'setup',
        wire: 'sb-tcp',
        host: '127.0.0.1',
        port: gateway.tcpPort,
        room: 'bench',
        concurrency: 4,
        timeoutMs: 10_000,
        members: [0, 1, 2, 3, 4],
        samples: [2],
        senderIndex: [9],
      });
      expect(ready).toMatchObject({ type: 'ready', members: 5 });
      const t0 = nowUs();
      const run = ask({ type: 'run', id: 1, t0, rate: 1000, senders: 1, totalMessages: 40, windowStart: t0, windowEnd: t0 + 500_000, drainMs: 3000 }, 15_000);
      const template = frameTemplate(64);
      for (let seq = 0; seq < 40; seq++) sender.write(template.build(9, seq, nowUs()));
      const report = await run;
      expect(report).toMatchObject({ expected: 200, received: 200, missing: 0, duplicates: 0, unexpected: 0, echoes: 0, closed: 0, errorFrames: {} });
      expect((report.latency as { count: number }).count).toBe(40);
    } finally {
      sender.destroy();
      child.kill();
      await gateway.stop();
    }
  });
});
