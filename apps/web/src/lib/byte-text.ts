// Bytes as people read and type them in the chat: base64 on the wire (a message's `data`,
// PROTOCOL.md §4), hex and printable ASCII on screen, hex or escapes in the composer.

/** The bytes of a base64 string (RFC 4648, padded). Throws on anything that is not base64. */
export function bytesFromBase64(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Base64 with padding, as the gateway expects in `data`. */
export function base64FromBytes(bytes: Uint8Array): string {
  let binary = '';
  // In slices: String.fromCharCode(...all) would overflow the stack on a 64 KiB message.
  for (let at = 0; at < bytes.length; at += 0x2000) {
    binary += String.fromCharCode(...bytes.subarray(at, at + 0x2000));
  }
  return btoa(binary);
}

/** `00 01 02 ff`: two lowercase digits a byte, spaced. */
export function formatHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** The printable-ASCII reading beside a hex dump: other bytes are `.` (as in `hexdump -C`). */
export function printableAscii(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
}

/**
 * Hex the user typed: `02 53 54 03`, `02535403`, `0x02 0x53`, `0x02535403`; spaces, commas
 * and line breaks separate. A group is pairs of digits, or one digit alone (`0x3`, `a`).
 * Throws a RangeError that says what is wrong and where.
 */
export function parseHex(text: string): Uint8Array {
  const out: number[] = [];
  for (const token of text.split(/[\s,]+/)) {
    if (token === '') continue;
    const digits = /^0x/i.test(token) ? token.slice(2) : token;
    const bad = /[^0-9a-f]/i.exec(digits);
    if (digits === '' || bad !== null) {
      const what = bad === null ? `"${token}" has no digits` : `"${bad[0]}" in "${token}" is not a hex digit`;
      throw new RangeError(`${what}: type bytes as 02 53 54 03 (0-9, a-f).`);
    }
    if (digits.length === 1) {
      out.push(parseInt(digits, 16));
      continue;
    }
    if (digits.length % 2 !== 0) {
      throw new RangeError(`"${token}" has an odd number of digits: each byte is two (0${digits} or ${digits}0?).`);
    }
    for (let i = 0; i < digits.length; i += 2) out.push(parseInt(digits.slice(i, i + 2), 16));
  }
  return Uint8Array.from(out);
}

/**
 * True when text has control characters a reader would not see (tab, line feed and carriage
 * return aside): such a message is shown as bytes, as a device console would.
 */
export function hasHiddenControls(text: string): boolean {
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text);
}

/**
 * The bytes a message is shown as (a dump), or undefined to show its text: bytes that are not
 * UTF-8 come with `bytes`; text with control characters nobody would see (a device's STX/ETX)
 * is shown as bytes too.
 */
export function shownAsBytes(message: { text: string; bytes?: Uint8Array | undefined }): Uint8Array | undefined {
  return message.bytes ?? (hasHiddenControls(message.text) ? new TextEncoder().encode(message.text) : undefined);
}
