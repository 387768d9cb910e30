import { describe, expect, it } from 'vitest';
import { formatEscapes, parseEscapes } from '../src/escapes.js';

describe('escapes', () => {
  it('reads the usual escapes and \\xNN as bytes, the rest as UTF-8', () => {
    expect([...parseEscapes('\\r\\n')]).toEqual([13, 10]);
    expect([...parseEscapes('\\x02STATUS\\x03')]).toEqual([2, 83, 84, 65, 84, 85, 83, 3]);
    expect([...parseEscapes('a\\tb\\0\\\\')]).toEqual([97, 9, 98, 0, 92]);
    expect([...parseEscapes('#')]).toEqual([35]);
    expect([...parseEscapes('ü')]).toEqual([0xc3, 0xbc]);
    expect([...parseEscapes('\r\n')]).toEqual([13, 10]); // the bare characters work too
  });

  it('refuses a malformed escape with its position', () => {
    expect(() => parseEscapes('ok\\q')).toThrow(/position 2/);
    expect(() => parseEscapes('\\x4')).toThrow(RangeError);
    expect(() => parseEscapes('\\')).toThrow(RangeError);
  });

  it('formats bytes back so that parsing gives the same bytes', () => {
    const bytes = Uint8Array.from([0, 1, 2, 0xff, 0x41, 0x42, 13, 10, 92]);
    expect(formatEscapes(bytes)).toBe('\\0\\x01\\x02\\xffAB\\r\\n\\\\');
    expect([...parseEscapes(formatEscapes(bytes))]).toEqual([...bytes]);
  });
});
