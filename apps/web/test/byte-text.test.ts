import { describe, expect, it } from 'vitest';
import { base64FromBytes, bytesFromBase64, formatHex, hasHiddenControls, parseHex, printableAscii } from '../src/lib/byte-text.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe('hex the user types', () => {
  const vectors: { name: string; text: string; bytes: Uint8Array }[] = [
    { name: 'spaced', text: '02 53 54 03', bytes: bytes(0x02, 0x53, 0x54, 0x03) },
    { name: 'unspaced', text: '02535403', bytes: bytes(0x02, 0x53, 0x54, 0x03) },
    { name: '0x on each byte', text: '0x02 0x53 0X54 0x03', bytes: bytes(0x02, 0x53, 0x54, 0x03) },
    { name: 'one 0x for a run', text: '0x02535403', bytes: bytes(0x02, 0x53, 0x54, 0x03) },
    { name: 'upper case, commas, line breaks', text: '00, FF,\nAb', bytes: bytes(0x00, 0xff, 0xab) },
    { name: 'a lone digit is a byte', text: '0x3 a', bytes: bytes(0x03, 0x0a) },
    { name: 'blank', text: '  \n ', bytes: bytes() },
  ];
  for (const vector of vectors) {
    it(`reads ${vector.name}`, () => expect(parseHex(vector.text)).toEqual(vector.bytes));
  }

  const refused: { name: string; text: string; says: RegExp }[] = [
    { name: 'a letter past f', text: '02 5g', says: /"g" in "5g" is not a hex digit/ },
    { name: 'an odd run', text: '025', says: /odd number of digits/ },
    { name: '0x alone', text: '0x', says: /has no digits/ },
    { name: 'a stray escape', text: '\\x02', says: /not a hex digit/ },
  ];
  for (const vector of refused) {
    it(`refuses ${vector.name}`, () => expect(() => parseHex(vector.text)).toThrow(vector.says));
  }
});

describe('bytes on screen', () => {
  const sample = bytes(0x00, 0x01, 0x02, 0xff, 0x41, 0x42);
  it('shows hex spaced and lower case', () => expect(formatHex(sample)).toBe('00 01 02 ff 41 42'));
  it('shows printable ASCII beside it, dots for the rest', () => expect(printableAscii(sample)).toBe('....AB'));
  it('keeps space and tilde, dots DEL', () => expect(printableAscii(bytes(0x20, 0x7e, 0x7f))).toBe(' ~.'));
});

describe('base64 data', () => {
  it('round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(bytesFromBase64(base64FromBytes(all))).toEqual(all);
  });
  it('matches the protocol example', () => {
    expect(base64FromBytes(bytes(0x00, 0x01, 0x02, 0xff, 0x41, 0x42))).toBe('AAEC/0FC');
    expect(bytesFromBase64('AAEC/0FC')).toEqual(bytes(0x00, 0x01, 0x02, 0xff, 0x41, 0x42));
  });
  it('encodes a message as long as the text limit without overflowing the stack', () => {
    const big = Uint8Array.from({ length: 65_536 }, (_, i) => i % 251);
    expect(Buffer.from(bytesFromBase64(base64FromBytes(big))).equals(big)).toBe(true);
  });
  it('refuses what is not base64', () => expect(() => bytesFromBase64('a*b')).toThrow());
});

describe('hidden control characters', () => {
  it('sees STX and ETX', () => expect(hasHiddenControls('\u0002ST\u0003')).toBe(true));
  it('sees NUL and DEL', () => expect(hasHiddenControls('a\u0000') && hasHiddenControls('\u007f')).toBe(true));
  it('leaves tab, line breaks and other text alone', () => expect(hasHiddenControls('a\tb\r\nc é ✓')).toBe(false));
});
