import { randomBytes } from 'node:crypto';
import { encodeMessage } from '@switchboard/protocol';
import { blankPayload, writePayload } from './payload.js';

/**
 * Builds the bytes one chat message takes on each wire. The template is built once; each
 * message is a copy of it with the sender, sequence and intended time filled in.
 */
export interface ChatTemplate {
  build(sender: number, seq: number, timeUs: number): Buffer;
}

/** Copies of `bytes` with the blank `payload` inside them filled in. */
function templateAround(bytes: Buffer, payload: Buffer): ChatTemplate {
  const at = bytes.indexOf(payload);
  return {
    build(sender, seq, timeUs) {
      const out = Buffer.allocUnsafe(bytes.length);
      bytes.copy(out);
      writePayload(out, at, sender, seq, timeUs);
      return out;
    },
  };
}

/**
 * Switchboard's client `message` frame {"text": payload} (to the current room), {"room", "text"}
 * (to another of the member's rooms), or a `private` frame {"to", "text"}; the bare hub relays
 * the same bytes.
 */
export function frameTemplate(payloadBytes: number, target: { room?: string; to?: string } = {}): ChatTemplate {
  const payload = blankPayload(payloadBytes);
  const text = payload.toString('latin1');
  const frame =
    target.to !== undefined
      ? encodeMessage({ type: 'private', to: target.to, text })
      : encodeMessage(target.room !== undefined ? { type: 'message', room: target.room, text } : { type: 'message', text });
  return templateAround(Buffer.from(frame), payload);
}

/** A text line (Switchboard's line listener): the payload and LF. */
export function lineTemplate(payloadBytes: number): ChatTemplate {
  const payload = blankPayload(payloadBytes);
  return templateAround(Buffer.concat([payload, Buffer.from('\n')]), payload);
}

/** The same frame inside one masked binary WebSocket message, as a browser sends it. */
export function webSocketFrameTemplate(payloadBytes: number, target: { room?: string; to?: string } = {}): ChatTemplate {
  const inner = frameTemplate(payloadBytes, target);
  return {
    build(sender, seq, timeUs) {
      return maskedBinaryMessage(inner.build(sender, seq, timeUs));
    },
  };
}

/** `PRIVMSG <target> :payload` CR LF; the target is `#channel` or a nick. */
export function ircTemplate(target: string, payloadBytes: number): ChatTemplate {
  const payload = blankPayload(payloadBytes);
  return templateAround(Buffer.concat([Buffer.from(`PRIVMSG ${target} :`, 'latin1'), payload, Buffer.from('\r\n')]), payload);
}

// A client must mask what it sends (RFC 6455 §5.3). The keys come from a pool of random bytes
// refilled now and then, so masking stays cheap.
let maskPool = randomBytes(4096);
let maskAt = 0;

/** One binary WebSocket message (FIN, opcode 2), masked as a client must. */
export function maskedBinaryMessage(data: Uint8Array): Buffer {
  const n = data.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + 4 + n);
  out[0] = 0x82;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  if (maskAt + 4 > maskPool.length) {
    maskPool = randomBytes(4096);
    maskAt = 0;
  }
  const m0 = maskPool[maskAt]!;
  const m1 = maskPool[maskAt + 1]!;
  const m2 = maskPool[maskAt + 2]!;
  const m3 = maskPool[maskAt + 3]!;
  maskAt += 4;
  out[head] = m0;
  out[head + 1] = m1;
  out[head + 2] = m2;
  out[head + 3] = m3;
  const at = head + 4;
  for (let i = 0; i < n; i++) out[at + i] = data[i]! ^ (i % 4 === 0 ? m0 : i % 4 === 1 ? m1 : i % 4 === 2 ? m2 : m3);
  return out;
}

/** A masked close frame (code 1000), so servers see a clean goodbye. */
export function maskedClose(): Buffer {
  return Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
}

/** The HTTP request that opens a WebSocket (RFC 6455 §4.1), without an Origin, as a native client sends it. */
export function upgradeRequest(host: string, port: number, path: string): Buffer {
  const key = randomBytes(16).toString('base64');
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    'latin1',
  );
}
