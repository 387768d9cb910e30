import { describe, expect, it } from 'vitest';
import { appendBytes, buildPayload, delimiterBytes, parseHexInput } from '../src/lib/console/send-input.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const sample = bytes(0x00, 0x01, 0x02, 0xff, 0x41, 0x42);
const sixteen = Uint8Array.from({ length: 16 }, (_, i) => 0x30 + i);
const eighteen = Uint8Array.from({ length: 18 }, (_, i) => 0x61 + i);

describe('hex as typed or pasted', () => {
  const vectors: { name: string; text: string; bytes: Uint8Array }[] = [
    { name: 'spaced', text: '00 01 02 ff 41 42', bytes: sample },
    { name: 'unspaced', text: '000102ff4142', bytes: sample },
    { name: 'upper case with 0x and commas', text: '0x00, 0x01, 0x02, 0xFF, 0x41, 0x42', bytes: sample },
    { name: 'a C array', text: '{ 0x00, 0x01, 0x02, 0xff, 0x41, 0x42 };', bytes: sample },
    { name: 'an escape string', text: '"\\x00\\x01\\x02\\xff\\x41\\x42"', bytes: sample },
    { name: 'colon separated', text: '00:01:02:ff:41:42', bytes: sample },
    { name: 'dash separated', text: '00-01-02-ff-41-42', bytes: sample },
    { name: 'spread over lines', text: '00 01 02\nff 41 42\n', bytes: sample },
    // Wireshark: Copy → as Hex + ASCII Dump (offset, three spaces, bytes, three spaces, ASCII).
    { name: 'a one-line Wireshark dump', text: '0000   00 01 02 ff 41 42   ....AB', bytes: sample },
    { name: 'a Wireshark dump whose ASCII looks like hex', text: '0000   ca fe be ef   cafe', bytes: bytes(0xca, 0xfe, 0xbe, 0xef) },
    {
      name: 'a two-line Wireshark dump with the gap in the middle',
      text: '0000  61 62 63 64 65 66 67 68  69 6a 6b 6c 6d 6e 6f 70   abcdefghijklmnop\n' + '0010  71 72                                              qr\n',
      bytes: eighteen,
    },
    {
      name: 'hexdump -C with its closing offset',
      text:
        '00000000  30 31 32 33 34 35 36 37  38 39 3a 3b 3c 3d 3e 3f  |0123456789:;<=>?|\n' +
        '00000010  61 62                                             |ab|\n' +
        '00000012\n',
      bytes: Uint8Array.from([...sixteen, 0x61, 0x62]),
    },
    {
      name: 'xxd',
      text: '00000000: 3031 3233 3435 3637 3839 3a3b 3c3d 3e3f  0123456789:;<=>?\n00000010: 6162                                     ab\n',
      bytes: Uint8Array.from([...sixteen, 0x61, 0x62]),
    },
    { name: 'blank', text: ' \n ', bytes: bytes() },
  ];
  for (const vector of vectors) {
    it(`reads ${vector.name}`, () => expect(parseHexInput(vector.text)).toEqual(vector.bytes));
  }

  it('does not take two spaced groups for an offset and a byte', () => {
    // `0001  0203` is not a dump (a lone dump line starts at offset 0): four bytes.
    expect(parseHexInput('0001  0203')).toEqual(bytes(0x00, 0x01, 0x02, 0x03));
  });

  it('says where a dump does not add up', () => {
    expect(() => parseHexInput('0000  61 62 63\n0010  64\n')).toThrow(/line 1 has 3 bytes where its offsets say 16/);
  });

  const refused: { name: string; text: string; says: RegExp }[] = [
    { name: 'a letter past f', text: '02 5g', says: /"g" in "5g" is not a hex digit/ },
    { name: 'an odd run', text: '025', says: /odd number of digits/ },
  ];
  for (const vector of refused) {
    it(`refuses ${vector.name}`, () => expect(() => parseHexInput(vector.text)).toThrow(vector.says));
  }
});

describe('the payload', () => {
  it('reads escapes: \\x02STATUS\\x03 is 8 bytes', () => {
    const payload = buildPayload('\\x02STATUS\\x03', 'text', 'none', null);
    expect(payload).toEqual({ ok: true, bytes: bytes(0x02, 0x53, 0x54, 0x41, 0x54, 0x55, 0x53, 0x03) });
  });

  it('reads every escape the issue names', () => {
    expect(buildPayload('\\r\\n\\t\\0\\x7f\\\\', 'text', 'none', null)).toEqual({ ok: true, bytes: bytes(0x0d, 0x0a, 0x09, 0x00, 0x7f, 0x5c) });
  });

  it('appends the chosen ending', () => {
    expect(buildPayload('OK', 'text', 'crlf', null)).toEqual({ ok: true, bytes: bytes(0x4f, 0x4b, 0x0d, 0x0a) });
    expect(buildPayload('4f4b', 'hex', 'lf', null)).toEqual({ ok: true, bytes: bytes(0x4f, 0x4b, 0x0a) });
    expect(buildPayload('OK', 'text', 'cr', null)).toEqual({ ok: true, bytes: bytes(0x4f, 0x4b, 0x0d) });
  });

  it("appends the listener's delimiter, read from its escape text", () => {
    const hash = delimiterBytes('#');
    expect(buildPayload('READY', 'text', 'listener', hash)).toEqual({ ok: true, bytes: bytes(0x52, 0x45, 0x41, 0x44, 0x59, 0x23) });
    expect(delimiterBytes('\\r\\n')).toEqual(bytes(0x0d, 0x0a));
    expect(delimiterBytes(undefined)).toBeNull();
  });

  it('an ending alone is something to send; nothing at all is not', () => {
    expect(buildPayload('', 'text', 'crlf', null)).toEqual({ ok: true, bytes: bytes(0x0d, 0x0a) });
    expect(buildPayload('', 'text', 'none', null)).toEqual({ ok: false, error: 'Nothing to send.' });
  });

  it("says so when there is no listener's delimiter", () => {
    expect(appendBytes('listener', null)).toBeNull();
    expect(buildPayload('x', 'text', 'listener', null)).toMatchObject({ ok: false, error: /no listener delimiter/ });
  });

  it('passes on what is wrong with the input', () => {
    expect(buildPayload('\\q', 'text', 'none', null)).toMatchObject({ ok: false, error: /Unknown escape/ });
    expect(buildPayload('0g', 'hex', 'none', null)).toMatchObject({ ok: false, error: /not a hex digit/ });
  });
});
