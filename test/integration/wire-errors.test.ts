import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, encodeMessage } from '@switchboard/protocol';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

const json = (value: string) => new TextEncoder().encode(value);

describe('bad input on the wire', () => {
  it('answers bad frames with error codes and keeps the connection and the room working', async () => {
    const bad = await Peer.tcp(gateway.tcpPort);
    const witness = await Peer.ws(gateway.wsUrl);
    await bad.hello('mallory');
    await witness.hello('walter');
    const cases: [Uint8Array, string][] = [
      [encodeFrame(0x7f, new Uint8Array([1, 2, 3])), 'UNKNOWN_TYPE'],
      [encodeFrame(0x00, new Uint8Array([0xff, 0xfe])), 'INVALID_UTF8'],
      [encodeFrame(0x04, json('{"text":')), 'INVALID_JSON'],
      [encodeFrame(0x04, json('{"txt":"x"}')), 'INVALID_MESSAGE'],
      [encodeFrame(0x03, json('{}')), 'UNEXPECTED_TYPE'],
      [encodeFrame(0x0c, json('{"room":"no spaces allowed"}')), 'ROOM_INVALID'],
      [encodeFrame(0x05, json('{"to":"nobody-here","text":"hi"}')), 'NO_SUCH_MEMBER'],
      [encodeFrame(0x12, json('{"transfer":99,"sha256":"00"}')), 'FILE_UNKNOWN_TRANSFER'],
      [encodeMessage({ type: 'hello', v: 1, name: 'again' }), 'UNEXPECTED_TYPE'],
    ];
    for (const [bytes, code] of cases) {
      bad.sendBytes(bytes);
      const error = await bad.next('error');
      expect(error.code, code).toBe(code);
      expect(error.fatal).toBeUndefined();
    }
    bad.send({ type: 'message', text: 'after all that' });
    await expect(witness.next('message', (m) => m.text === 'after all that')).resolves.toMatchObject({ from: 'mallory' });
    bad.end();
    witness.end();
  });

  it('rejects an oversized length prefix on the header alone, closes only that connection', async () => {
    const attacker = await Peer.tcp(gateway.tcpPort);
    const witness = await Peer.tcp(gateway.tcpPort);
    await attacker.hello('big');
    await witness.hello('small');
    // 4 bytes claiming 2 GiB, and nothing else: the gateway must not wait for (or buffer) the payload.
    attacker.sendBytes(new Uint8Array([0x80, 0x00, 0x00, 0x00]));
    const error = await attacker.next('error');
    expect(error).toMatchObject({ code: 'FRAME_TOO_LARGE', fatal: true });
    await attacker.waitClosed();
    const left = await witness.next('presence', (p) => p.event === 'leave' && p.member.name === 'big');
    expect(left.reason).toBe('error');
    witness.send({ type: 'message', text: 'fine here' });
    await expect(witness.next('message', (m) => m.text === 'fine here')).resolves.toBeDefined();
    witness.end();
  });

  it('a zero length prefix is fatal too', async () => {
    const peer = await Peer.tcp(gateway.tcpPort);
    peer.sendBytes(new Uint8Array([0, 0, 0, 0]));
    await expect(peer.next('error')).resolves.toMatchObject({ code: 'FRAME_EMPTY', fatal: true });
    await peer.waitClosed();
  });

  it('an unsupported protocol version is refused', async () => {
    const peer = await Peer.tcp(gateway.tcpPort);
    peer.send({ type: 'hello', v: 2, name: 'future' });
    await expect(peer.next('error')).resolves.toMatchObject({ code: 'UNSUPPORTED_VERSION', fatal: true });
    await peer.waitClosed();
  });

  it('on WebSocket, a message must hold exactly one frame', async () => {
    const peer = await Peer.ws(gateway.wsUrl);
    await peer.hello('wsuser');
    const one = encodeMessage({ type: 'message', text: 'a' });
    peer.sendBytes(Buffer.concat([one, one]));
    await expect(peer.next('error')).resolves.toMatchObject({ code: 'FRAME_BOUNDARY' });
    peer.sendBytes(one.subarray(0, one.length - 1));
    await expect(peer.next('error')).resolves.toMatchObject({ code: 'FRAME_BOUNDARY' });
    peer.sendBytes(new Uint8Array([1, 2]));
    await expect(peer.next('error')).resolves.toMatchObject({ code: 'FRAME_BOUNDARY' });
    peer.sendBytes(one);
    await expect(peer.next('message', (m) => m.text === 'a')).resolves.toBeDefined();
    peer.end();
  });

  it('a text WebSocket message is a chat line (for consoles like wscat)', async () => {
    const console_ = await Peer.ws(gateway.wsUrl);
    await console_.hello('console');
    console_.ws!.send('typed in wscat');
    await expect(console_.next('message', (m) => m.text === 'typed in wscat')).resolves.toMatchObject({ from: 'console', transport: 'ws' });
    console_.end();
  });

  it('names are unique ignoring case and checked', async () => {
    const first = await Peer.tcp(gateway.tcpPort);
    await first.hello('Unique');
    const second = await Peer.ws(gateway.wsUrl);
    second.send({ type: 'hello', v: 1, name: 'UNIQUE' });
    await expect(second.next('error')).resolves.toMatchObject({ code: 'NAME_TAKEN' });
    second.send({ type: 'hello', v: 1, name: 'has space' });
    await expect(second.next('error')).resolves.toMatchObject({ code: 'NAME_INVALID' });
    // Still un-joined: anything but hello is refused until a hello succeeds.
    second.send({ type: 'message', text: 'too early' });
    await expect(second.next('error')).resolves.toMatchObject({ code: 'UNEXPECTED_TYPE' });
    await expect(second.hello('unique2')).resolves.toMatchObject({ name: 'unique2' });
    first.end();
    second.end();
  });
});
