import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameDecoder, FrameType, decodeServerMessage, encodeMessage } from '@switchboard/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { until } from '../helpers/until.js';

// Issue 26: a wide room at a moderate rate has its flush window stretched (up to 50 µs per
// member written, never past --flush-window-max-ms) so that each write carries more frames.
// Over real sockets, with the stretch at work: every member still gets every message once, in
// order, as the same bytes, and a plain device gets exactly its lines and nothing else. (When a
// flush is stretched is timing, shown with fake timers in apps/gateway/test/flush-scheduler.test.ts.)

const RECEIVERS = 200;
const SENDERS = 4;
const ROUNDS = 60;

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

/** A framed TCP member that keeps the payload of every `message` frame it gets, in order. */
class Receiver {
  readonly messages: Buffer[] = [];
  private constructor(readonly socket: net.Socket) {
    const decoder = new FrameDecoder((type, payload) => void (type === FrameType.Message && this.messages.push(Buffer.from(payload))), {
      maxFrameLength: 1 << 20,
    });
    socket.on('data', (chunk) => decoder.push(chunk));
  }

  static connect(port: number, name: string): Promise<Receiver> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => {
        socket.write(encodeMessage({ type: 'hello', v: 1, name }));
        resolve(new Receiver(socket));
      });
      socket.once('error', reject);
    });
  }
}

describe('fan-out batches', () => {
  it('a room of 200 at about 4,000 msg/s: every message once, in order, the same bytes for every member', async () => {
    const receivers: Receiver[] = [];
    for (let i = 0; i < RECEIVERS; i++) receivers.push(await Receiver.connect(gateway.tcpPort, `r${String(i)}`));
    const senders: Peer[] = [];
    for (let i = 0; i < SENDERS; i++) {
      const sender = await Peer.tcp(gateway.tcpPort);
      await sender.hello(`s${String(i)}`);
      senders.push(sender);
    }
    // A plain device in the room (it never says hello): it hears the people's messages as text lines.
    const device = await RawSocket.connect(gateway.tcpPort);
    const deviceName = `127.0.0.1:${String(device.socket.localPort)}`;
    await senders[0]!.next('presence', (p) => p.event === 'join' && p.member.name === deviceName);

    // One message from each sender every millisecond (or as often as the loaded machine lets us).
    const text = (s: number, n: number) => `s${String(s)} #${String(n).padStart(3, '0')} `.padEnd(64, '.');
    for (let n = 0; n < ROUNDS; n++) {
      senders.forEach((sender, s) => void sender.send({ type: 'message', text: text(s, n) }));
      await sleep(1);
    }
    const total = SENDERS * ROUNDS;
    await until('every receiver to get every message', () => (receivers.every((r) => r.messages.length >= total) ? true : undefined), 20_000);

    // Every member got the very same frames in the same order: each message once, each sender's in order.
    const first = receivers[0]!.messages;
    expect(first).toHaveLength(total);
    // (Compared joined: toEqual on 48,000 buffers takes vitest seconds.)
    const joined = Buffer.concat(first);
    const differing = receivers.filter((r) => r.messages.length !== total || !Buffer.concat(r.messages).equals(joined)).length;
    expect(differing).toBe(0);
    const said = first.map((payload) => decodeServerMessage(FrameType.Message, payload)).map((m) => (m.type === 'message' ? m : undefined));
    for (let s = 0; s < SENDERS; s++) {
      const texts = said.filter((m) => m?.from === `s${String(s)}`).map((m) => m?.text);
      expect(texts).toEqual(Array.from({ length: ROUNDS }, (_, n) => text(s, n)));
    }
    expect(said.every((m) => m?.room === 'lobby')).toBe(true);

    // The device got exactly its lines, in the room's order, and nothing else.
    const lines = Buffer.concat(said.map((m) => encodeMessage({ type: 'text', text: `${m!.from}: ${m!.text}` })));
    expect(await device.take(lines.length, 10_000)).toEqual(lines);
    await sleep(50);
    expect(device.received).toHaveLength(0);

    device.end();
    for (const receiver of receivers) receiver.socket.end();
    for (const sender of senders) sender.end();
  });
});
