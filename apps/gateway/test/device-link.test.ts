import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage, type ServerMessage } from '@switchboard/protocol';
import { DeviceLink, type DeviceLinkOptions } from '../src/devices/device-link.js';
import { LineFraming } from '../src/devices/framing.js';

// A listener's devices hear a flush's frames as one buffer, translated and joined once for all of
// them: each device's socket gets exactly its lines, in order, and nothing else (real sockets).

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** `count` device sockets accepted by a server: the gateway's ends and the devices' ends. */
async function devicePairs(count: number): Promise<{ gateway: net.Socket; device: net.Socket }[]> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const devices: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    const device = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => device.once('connect', resolve));
    devices.push(device);
  }
  for (let i = 0; i < 500 && accepted.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  closers.push(() => [...accepted, ...devices].forEach((s) => s.destroy()));
  // The server accepts in the order the devices connected.
  return devices.map((device, i) => ({ gateway: accepted[i]!, device }));
}

function linkOptions(alike: object | undefined, senderPrefix: boolean): DeviceLinkOptions {
  return {
    origin: { framing: 'line', listener: 'l1' },
    framing: new LineFraming({ delimiter: Buffer.from('\r\n'), maxLineBytes: 1000, idleFlushMs: 0 }),
    encoding: 'utf8',
    senderPrefix,
    notices: false,
    rate: { perSecond: 500, burst: 1000 },
    maxFileBytes: 1 << 20,
    closeTimeoutMs: 1000,
    translatedAlike: alike,
  };
}

/** Every byte a device reads until `length` have come (or 10 s pass). */
function readBytes(device: net.Socket, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${got} of ${length} bytes: ${Buffer.concat(chunks).toString()}`)), 10_000);
    device.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= length) {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks));
      }
    });
  });
}

const said = (id: number, text: string, from = 'alice'): ServerMessage => ({ type: 'message', id, room: 'lab', from, transport: 'tcp', ts: 1, text });

describe('DeviceLink writes a flush', () => {
  it("as one buffer shared by a listener's devices: each gets exactly its lines in order, and the traffic tap sees that same buffer", async () => {
    const pairs = await devicePairs(3);
    const alike = {};
    const links = pairs.map(({ gateway }) => new DeviceLink(gateway, linkOptions(alike, false)));
    const seen: { bytes: Uint8Array; shared: boolean }[][] = links.map(() => []);
    links.forEach((link, i) => link.taps.add((direction, bytes, _auto, shared) => direction === 'out' && seen[i]!.push({ bytes, shared })));
    // One flush: the same frame objects for every member of the room (Delivery's outboxes), in new arrays each.
    const frames = [said(1, 'MoveJ p10'), said(2, 'héllo'), said(3, 'stop')].map((m) => encodeMessage(m));
    for (const link of links) link.write([...frames]);
    const expected = Buffer.from('MoveJ p10\r\nhéllo\r\nstop\r\n');
    const read = await Promise.all(pairs.map(({ device }) => readBytes(device, expected.length)));
    for (const bytes of read) expect(bytes.toString('hex')).toBe(expected.toString('hex'));
    // The same buffer object for all three, marked shared (the log keeps it by reference), one write each.
    expect(seen.map((s) => s.length)).toEqual([1, 1, 1]);
    expect(seen.every((s) => s[0]!.shared)).toBe(true);
    expect(seen[1]![0]!.bytes).toBe(seen[0]![0]!.bytes);
    expect(seen[2]![0]!.bytes).toBe(seen[0]![0]!.bytes);
    expect(Buffer.from(seen[0]![0]!.bytes).equals(expected)).toBe(true);
    // Nothing else reaches them afterwards.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(links.map((link) => link.wire.bytesOut)).toEqual([expected.length, expected.length, expected.length]);
  });

  it('translates for each group alike on its own, and a batch with a file frame per device (not shared)', async () => {
    const pairs = await devicePairs(3);
    const [a, b] = [{}, {}];
    // Two listeners: one with the sender's name in front of each line, one without; and a device link of its own.
    const links = [new DeviceLink(pairs[0]!.gateway, linkOptions(a, true)), new DeviceLink(pairs[1]!.gateway, linkOptions(b, false))];
    links.push(new DeviceLink(pairs[2]!.gateway, linkOptions(undefined, false)));
    const shared: boolean[] = [];
    for (const link of links) link.taps.add((_d, _bytes, _auto, isShared) => shared.push(isShared));
    const frames = [encodeMessage(said(1, 'one', 'bob')), encodeMessage(said(2, 'two', 'bob'))];
    for (const link of links) link.write(frames);
    const withName = Buffer.from('[lab] bob: one\r\n[lab] bob: two\r\n');
    const bare = Buffer.from('one\r\ntwo\r\n');
    const read = await Promise.all([
      readBytes(pairs[0]!.device, withName.length),
      readBytes(pairs[1]!.device, bare.length),
      readBytes(pairs[2]!.device, bare.length),
    ]);
    expect(read.map((r) => r.toString())).toEqual([withName.toString(), bare.toString(), bare.toString()]);
    expect(shared).toEqual([true, true, false]);
    // A file offer in the batch: each device keeps its own transfer state, so nothing is shared (notices off: the offer itself writes nothing).
    shared.length = 0;
    const offer = encodeMessage({
      type: 'file-offer',
      transfer: 1,
      id: 4,
      from: 'bob',
      transport: 'tcp',
      ts: 1,
      name: 'f.bin',
      size: 3,
      mime: 'application/octet-stream',
      room: 'lab',
    });
    const withFile = [encodeMessage(said(3, 'three', 'bob')), offer];
    links[0]!.write(withFile);
    const three = Buffer.from('[lab] bob: three\r\n');
    expect((await readBytes(pairs[0]!.device, three.length)).toString()).toBe(three.toString());
    expect(shared).toEqual([false]);
  });
});
