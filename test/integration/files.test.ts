import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES, type ServerMessage } from '@switchboard/protocol';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({ limits: { maxFileBytes: 8 * 1024 * 1024 } });
});
afterAll(async () => {
  await gateway.close();
});

/** Sends a file with the protocol, chunk by chunk, yielding to the event loop between chunks. */
async function sendFile(
  peer: Peer,
  transfer: number,
  data: Uint8Array,
  target: { room?: string; to?: string } = {},
  sha = createHash('sha256').update(data).digest('hex'),
) {
  peer.send({ type: 'file-offer', transfer, name: 'payload.bin', size: data.length, mime: 'application/octet-stream', ...target });
  for (let at = 0; at < data.length; at += FILE_CHUNK_BYTES) {
    peer.send({ type: 'file-data', transfer, data: data.subarray(at, at + FILE_CHUNK_BYTES) });
    if ((at / FILE_CHUNK_BYTES) % 8 === 0) await new Promise((r) => setImmediate(r));
  }
  peer.send({ type: 'file-end', transfer, sha256: sha });
}

/** Collects a file announced to `peer` and returns its bytes once file-end arrives. */
async function receiveFile(peer: Peer, from: string): Promise<{ offer: Extract<ServerMessage, { type: 'file-offer' }>; bytes: Buffer; sha256: string }> {
  const offer = await peer.next('file-offer', (o) => o.from === from);
  const end = await peer.next('file-end', (e) => e.transfer === offer.transfer, 20_000);
  const chunks = peer.received.filter((m): m is Extract<ServerMessage, { type: 'file-data' }> => m.type === 'file-data' && m.transfer === offer.transfer);
  return { offer, bytes: Buffer.concat(chunks.map((c) => Buffer.from(c.data))), sha256: end.sha256 };
}

describe('files', () => {
  it('a multi-MiB file from TCP reaches a browser and a TCP member intact, interleaved with chat', async () => {
    const sender = await Peer.tcp(gateway.tcpPort);
    const web = await Peer.ws(gateway.wsUrl);
    const tcp = await Peer.tcp(gateway.tcpPort);
    const device = await Peer.tcp(gateway.tcpPort);
    await sender.hello('file-sender');
    await web.hello('file-web');
    await tcp.hello('file-tcp');
    await new Promise((r) => setTimeout(r, 250)); // the device becomes a plain member
    const data = randomBytes(5 * 1024 * 1024 + 123);
    const expected = createHash('sha256').update(data).digest('hex');
    const sending = sendFile(sender, 1, data);
    // Chat keeps flowing while the file is on its way.
    tcp.send({ type: 'message', text: 'chat during transfer' });
    await sending;
    for (const receiver of [web, tcp]) {
      const got = await receiveFile(receiver, 'file-sender');
      expect(got.offer).toMatchObject({ name: 'payload.bin', size: data.length, room: 'lobby', transport: 'tcp' });
      expect(got.bytes.length).toBe(data.length);
      expect(createHash('sha256').update(got.bytes).digest('hex')).toBe(expected);
      expect(got.sha256).toBe(expected);
    }
    await expect(web.find('message', (m) => m.text === 'chat during transfer')).resolves.toBeDefined();
    // The sender's own copy of the offer is its acknowledgement; it gets no chunks back.
    await expect(sender.next('file-offer')).resolves.toMatchObject({ from: 'file-sender' });
    expect(sender.received.some((m) => m.type === 'file-data')).toBe(false);
    // Plain devices get room text only: no line about the file, and no binary data (PROTOCOL.md §2).
    sender.send({ type: 'message', text: 'after the file' });
    await device.waitForLine((l) => l === 'file-sender: after the file');
    expect(device.lines.filter((l) => l.includes('sent a file'))).toEqual([]);
    expect(device.received.some((m) => m.type === 'file-data' || m.type === 'file-offer')).toBe(false);
    // History keeps the announcement with its checksum.
    const history = await api(gateway, 'GET', '/api/history?room=lobby');
    expect(history.body.entries).toContainEqual(expect.objectContaining({ kind: 'file', name: 'payload.bin', size: data.length, sha256: expected }));
    for (const p of [sender, web, tcp, device]) p.end();
  });

  it('a file to one member reaches only that member', async () => {
    const sender = await Peer.ws(gateway.wsUrl);
    const target = await Peer.tcp(gateway.tcpPort);
    const other = await Peer.tcp(gateway.tcpPort);
    await sender.hello('pf-sender');
    await target.hello('pf-target');
    await other.hello('pf-other');
    const data = randomBytes(300_000);
    await sendFile(sender, 7, data, { to: 'pf-target' });
    const got = await receiveFile(target, 'pf-sender');
    expect(got.offer.to).toBe('pf-target');
    expect(Buffer.compare(got.bytes, data)).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(other.received.some((m) => m.type === 'file-offer' || m.type === 'file-data')).toBe(false);
    for (const p of [sender, target, other]) p.end();
  });

  it('refuses files over the limit, wrong checksums and wrong sizes, and tells receivers', async () => {
    const sender = await Peer.tcp(gateway.tcpPort);
    const receiver = await Peer.tcp(gateway.tcpPort);
    await sender.hello('bad-sender');
    await receiver.hello('bad-receiver');
    sender.send({ type: 'file-offer', transfer: 1, name: 'huge.iso', size: 9 * 1024 * 1024 });
    await expect(sender.next('error')).resolves.toMatchObject({ code: 'FILE_TOO_LARGE' });

    const data = randomBytes(100_000);
    await sendFile(sender, 2, data, {}, '0'.repeat(64));
    await expect(sender.next('error')).resolves.toMatchObject({ code: 'FILE_CHECKSUM_MISMATCH' });
    const offer = await receiver.next('file-offer', (o) => o.from === 'bad-sender');
    await expect(receiver.next('file-abort', (a) => a.transfer === offer.transfer)).resolves.toMatchObject({ code: 'FILE_CHECKSUM_MISMATCH' });

    sender.send({ type: 'file-offer', transfer: 3, name: 'short.bin', size: 10 });
    sender.send({ type: 'file-data', transfer: 3, data: new Uint8Array(11) });
    await expect(sender.next('error')).resolves.toMatchObject({ code: 'FILE_SIZE_MISMATCH' });
    sender.send({ type: 'file-offer', transfer: 4, name: 'short.bin', size: 10 });
    sender.send({ type: 'file-data', transfer: 4, data: new Uint8Array(5) });
    sender.send({ type: 'file-end', transfer: 4, sha256: '0'.repeat(64) });
    await expect(sender.next('error')).resolves.toMatchObject({ code: 'FILE_SIZE_MISMATCH' });
    sender.send({ type: 'file-offer', transfer: 5, name: 'a', size: 1 });
    sender.send({ type: 'file-offer', transfer: 5, name: 'a', size: 1 });
    await expect(sender.next('error')).resolves.toMatchObject({ code: 'FILE_TRANSFER_EXISTS' });
    sender.end();
    receiver.end();
  });

  it('an interrupted transfer is cleaned up: receivers are told when the sender disconnects', async () => {
    const sender = await Peer.tcp(gateway.tcpPort);
    const receiver = await Peer.ws(gateway.wsUrl);
    await sender.hello('quitter');
    await receiver.hello('waiter');
    sender.send({ type: 'file-offer', transfer: 9, name: 'half.bin', size: 1_000_000 });
    sender.send({ type: 'file-data', transfer: 9, data: new Uint8Array(400_000) });
    const offer = await receiver.next('file-offer', (o) => o.from === 'quitter');
    await receiver.next('file-data', (d) => d.transfer === offer.transfer);
    sender.destroy();
    await expect(receiver.next('file-abort', (a) => a.transfer === offer.transfer)).resolves.toMatchObject({ code: 'FILE_ABORTED' });
    receiver.end();
  });
});
