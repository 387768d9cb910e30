import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** The largest frame read here; a bigger one goes to ws (with the rest of the connection). */
const FAST_FRAME_BYTES = 64 * 1024;

/** The part of ws's receiver this reader hands frames to. */
interface WsReceiver {
  write(chunk: Buffer): boolean;
  _bufferedBytes?: number;
}

type DataListener = (this: Socket, chunk: Buffer) => void;

/**
 * Reads a raw pipe's incoming WebSocket frames itself and hands `deliver` the payload bytes of
 * each socket read at once. Why: a pipe is a byte stream, and ws's receiver costs a buffer, an
 * event and a device write per message; with 64 small messages in one read that was most of the
 * pipe's cost (a minimal ws relay: 187,000 msg/s; the same relay reading frames like this:
 * 207,000-261,000 on the bench machine).
 *
 * Only whole, final, masked binary frames of up to 64 KiB are read here. Control frames (ping,
 * pong, close) are handed to ws's own receiver a whole frame at a time, so ws answers pings and
 * does the closing handshake as before. Anything else (text, fragments, a bigger frame, reserved
 * bits, an unmasked frame) hands ws the rest of the connection from that frame on: ws checks and
 * reassembles it, and its 'message' events carry it, as they did before this reader.
 *
 * Returns false, and leaves the socket to ws, when ws is not as this reader expects (its
 * receiver already holds bytes, or its socket listener is not there).
 */
export function readPipeFrames(ws: WebSocket, socket: Socket, maxPayload: number, deliver: (bytes: Buffer) => void): boolean {
  const receiver = (ws as unknown as { _receiver?: WsReceiver })._receiver;
  const wsOnData = socket.listeners('data').find((listener) => (listener as DataListener).name === 'socketOnData') as DataListener | undefined;
  if (receiver === undefined || wsOnData === undefined || receiver._bufferedBytes !== 0) return false;
  const fastLimit = Math.min(FAST_FRAME_BYTES, maxPayload);
  let carry: Buffer | undefined;

  const handOver = (rest: Buffer): void => {
    socket.removeListener('data', onData);
    socket.on('data', wsOnData);
    if (rest.length > 0) wsOnData.call(socket, rest);
  };

  const onData = (chunk: Buffer): void => {
    const buf = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
    carry = undefined;
    // Payloads are unmasked in place, each moved down over the headers before it: the read is
    // this reader's alone (ws's listener is off), and writing stays behind reading, since every
    // frame has at least 6 header bytes. No buffer per read; the device gets views of it.
    let from = 0; // unmasked bytes not delivered yet: buf[from, o)
    let o = 0;
    const flush = (): void => {
      if (o > from) deliver(buf.subarray(from, o));
      from = o;
    };
    let at = 0;
    while (buf.length - at >= 2) {
      const b0 = buf[at]!;
      const b1 = buf[at + 1]!;
      const opcode = b0 & 0x0f;
      let length = b1 & 0x7f;
      let head = 2;
      if (length === 126) {
        if (buf.length - at < 4) break;
        length = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (length === 127) {
        if (buf.length - at < 10) break;
        length = buf.readUInt32BE(at + 2) === 0 ? buf.readUInt32BE(at + 6) : Infinity;
        head = 10;
      }
      const control = opcode >= 0x08;
      const fast = (b0 & 0xf0) === 0x80 && (b1 & 0x80) !== 0 && (opcode === 0x02 || control) && length <= fastLimit;
      if (!fast) {
        flush();
        return handOver(buf.subarray(at));
      }
      const mask = at + head;
      const end = mask + 4 + length;
      if (end > buf.length) break;
      if (control) {
        // ws answers it (pong), or closes; what came before it goes to the device first.
        flush();
        if (!receiver.write(buf.subarray(at, end))) socket.pause();
        at = end;
        // ws may keep the control frame's bytes (a pong echoes them): nothing is written over them.
        o = from = end;
        // After a close frame ws reads no more (it stops its own listener): neither does this.
        if (opcode === 0x08) return void socket.removeListener('data', onData);
        continue;
      }
      const m0 = buf[mask]!;
      const m1 = buf[mask + 1]!;
      const m2 = buf[mask + 2]!;
      const m3 = buf[mask + 3]!;
      let i = mask + 4;
      const whole = i + (length & ~3);
      while (i < whole) {
        buf[o++] = buf[i++]! ^ m0;
        buf[o++] = buf[i++]! ^ m1;
        buf[o++] = buf[i++]! ^ m2;
        buf[o++] = buf[i++]! ^ m3;
      }
      if (i < end) buf[o++] = buf[i++]! ^ m0;
      if (i < end) buf[o++] = buf[i++]! ^ m1;
      if (i < end) buf[o++] = buf[i]! ^ m2;
      at = end;
    }
    flush();
    // A frame that is not whole yet waits for the next read (at most 64 KiB and its header).
    if (at < buf.length) carry = buf.subarray(at);
  };

  socket.removeListener('data', wsOnData);
  socket.on('data', onData);
  return true;
}
