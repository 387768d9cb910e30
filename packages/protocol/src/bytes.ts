// Big-endian u32: the length prefix and the transfer id in file-data frames. One home for the
// shifts, so no copy of them can get the sign or the byte order wrong. And UTF-8 lengths, counted.

/** Reads a big-endian u32 at `at`. The caller makes sure 4 bytes are there. */
export function readU32BE(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** Writes `value` big-endian at `at`. Out-of-range values would wrap silently, so they throw. */
export function writeU32BE(target: Uint8Array, at: number, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`A u32 must be an integer from 0 to 4294967295, got ${value}.`);
  }
  target[at] = value >>> 24;
  target[at + 1] = (value >>> 16) & 0xff;
  target[at + 2] = (value >>> 8) & 0xff;
  target[at + 3] = value & 0xff;
}

/** `value` as 4 big-endian bytes. */
export function u32be(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  writeU32BE(bytes, 0, value);
  return bytes;
}

/** UTF-8 bytes of `text` from `from` on, as TextEncoder writes them (a lone surrogate becomes U+FFFD: 3 bytes), counted without encoding. */
export function utf8Length(text: string, from = 0): number {
  let bytes = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
