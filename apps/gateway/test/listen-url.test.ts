import { parseEscapes } from '@switchboard/protocol';
import { describe, expect, it } from 'vitest';
import { completeOptions, escapeBytes, parseListenUrl } from '../src/devices/device-settings.js';

// --listen URLs: the REST body's fields as query fields, a delimiter kept as escaped text as a
// REST body gives it, and the device options of issue 23 (hears, notices, rate).

describe('--listen', () => {
  it('keeps a delimiter as escaped text, whether the URL has its bytes or its escapes', () => {
    expect(parseListenUrl('line://0.0.0.0:9100?delimiter=%0D%0A').delimiter).toBe('\\r\\n');
    expect(parseListenUrl('line://0.0.0.0:9100?delimiter=%5Cr%5Cn').delimiter).toBe('\\r\\n');
    expect(parseListenUrl('line://0.0.0.0:9100?delimiter=%03').delimiter).toBe('\\x03');
    expect(parseListenUrl('line://0.0.0.0:9100?delimiter=%23').delimiter).toBe('#');
    // A REST body or config file that gives the bytes themselves ("\r\n" in JSON) is shown the same way.
    expect(completeOptions({ delimiter: '\r\n' }).delimiter).toBe('\\r\\n');
    expect(completeOptions({ delimiter: '\\r\\n' }).delimiter).toBe('\\r\\n');
    for (const text of ['\r\n', '#', '\x03\x00', 'a\\b']) expect(parseEscapes(escapeBytes(text))).toEqual(new TextEncoder().encode(text));
  });

  it('takes hears, notices and rate, with the defaults for what it leaves out', () => {
    const given = parseListenUrl('raw://127.0.0.1:0?hears=everyone&notices=true&rate=20/40&id=plc');
    expect(given).toMatchObject({ framing: 'raw', port: 0, id: 'plc', hears: 'everyone', notices: true, rate: { perSecond: 20, burst: 40 } });
    expect(completeOptions(parseListenUrl('line://127.0.0.1:9100?rate=20'))).toMatchObject({
      hears: 'people',
      notices: false,
      rate: { perSecond: 20, burst: 1000 },
    });
    expect(completeOptions(parseListenUrl('line://127.0.0.1:9100'))).toMatchObject({ hears: 'people', notices: false, rate: { perSecond: 500, burst: 1000 } });
    expect(() => parseListenUrl('line://127.0.0.1:9100?rate=fast')).toThrow(/rate is messages a second/);
    expect(() => completeOptions(parseListenUrl('line://127.0.0.1:9100?hears=robots'))).toThrow(/hears: "robots" is not one of people, everyone, addressed/);
    expect(() => completeOptions(parseListenUrl('line://127.0.0.1:9100?rate=0'))).toThrow(/rate: perSecond and burst/);
    expect(() => parseListenUrl('line://127.0.0.1?room=x')).toThrow(/a port is needed/);
  });
});
