/**
 * The bench's message text: fixed-width ASCII, the same bytes on every system, so a receiver
 * can read who sent it, its sequence number and the time it was meant to leave without
 * parsing JSON or IRC:
 *
 *   ~B SSSSS : QQQQQQQQQ : TTTTTTTTTTTTTTT ; xxxxxxxx…   (64 bytes by default)
 *   marker  sender       sequence    intended send time, µs on CLOCK_MONOTONIC
 */
export const PAYLOAD_BYTES = 64;
export const MARKER = Buffer.from('~B');
const SENDER_AT = 2;
const SENDER_DIGITS = 5;
const SEQ_AT = SENDER_AT + SENDER_DIGITS + 1;
const SEQ_DIGITS = 9;
const TIME_AT = SEQ_AT + SEQ_DIGITS + 1;
const TIME_DIGITS = 15;
export const PAYLOAD_MIN_BYTES = TIME_AT + TIME_DIGITS + 1;

/** The payload with zeros in its fields: templates copy it, then writePayload fills it in. */
export function blankPayload(size = PAYLOAD_BYTES): Buffer {
  if (size < PAYLOAD_MIN_BYTES) throw new RangeError(`payload must be at least ${PAYLOAD_MIN_BYTES} bytes`);
  const text = `~B${'0'.repeat(SENDER_DIGITS)}:${'0'.repeat(SEQ_DIGITS)}:${'0'.repeat(TIME_DIGITS)};`;
  return Buffer.from(text.padEnd(size, 'x'), 'latin1');
}

function writeDigits(buf: Uint8Array, at: number, value: number, width: number): void {
  let v = Math.floor(value);
  for (let i = width - 1; i >= 0; i--) {
    buf[at + i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
}

function readDigits(buf: Uint8Array, at: number, width: number): number {
  let v = 0;
  for (let i = 0; i < width; i++) v = v * 10 + (buf[at + i]! - 48);
  return v;
}

/** Fills in the fields of a payload that starts at `at` (the marker). */
export function writePayload(buf: Uint8Array, at: number, sender: number, seq: number, timeUs: number): void {
  writeDigits(buf, at + SENDER_AT, sender, SENDER_DIGITS);
  writeDigits(buf, at + SEQ_AT, seq, SEQ_DIGITS);
  writeDigits(buf, at + TIME_AT, timeUs, TIME_DIGITS);
}

/** Finds the marker in buf[start, end); -1 when absent. */
export function findPayload(buf: Buffer, start: number, end: number): number {
  const at = buf.indexOf(MARKER, start);
  return at >= 0 && at + PAYLOAD_MIN_BYTES <= end ? at : -1;
}

export function payloadSender(buf: Uint8Array, at: number): number {
  return readDigits(buf, at + SENDER_AT, SENDER_DIGITS);
}

export function payloadSeq(buf: Uint8Array, at: number): number {
  return readDigits(buf, at + SEQ_AT, SEQ_DIGITS);
}

export function payloadTime(buf: Uint8Array, at: number): number {
  return readDigits(buf, at + TIME_AT, TIME_DIGITS);
}
