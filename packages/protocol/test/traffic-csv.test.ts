import { describe, expect, it } from 'vitest';
import { trafficCsv, type TrafficCsvEntry } from '../src/index.js';

const ts = Date.UTC(2026, 10, 22, 8, 30, 1, 234);
const entry = (direction: TrafficCsvEntry['direction'], bytes: number[] | string, extra: Partial<TrafficCsvEntry> = {}): TrafficCsvEntry => {
  const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : Uint8Array.from(bytes);
  return { ts, direction, length: b.length, bytes: b, auto: false, ...extra };
};

describe('trafficCsv', () => {
  it('writes the header alone for no bytes, and leaves events out', () => {
    expect(trafficCsv([])).toBe('time,direction,length,hex,text,auto\r\n');
    expect(trafficCsv([entry('event', 'connected from 127.0.0.1:5000')])).toBe('time,direction,length,hex,text,auto\r\n');
  });

  it('quotes as RFC 4180 says, shows other bytes as dots, and keeps the length of a cut entry', () => {
    expect(trafficCsv([entry('in', [0x00, 0x01, 0xff, 0x41]), entry('out', 'a,"b"\r\n', { auto: true }), entry('in', 'xy', { length: 5000 })])).toBe(
      'time,direction,length,hex,text,auto\r\n' +
        '2026-11-22T08:30:01.234Z,in,4,00 01 ff 41,...A,false\r\n' +
        '2026-11-22T08:30:01.234Z,out,7,61 2c 22 62 22 0d 0a,"a,""b""..",true\r\n' +
        '2026-11-22T08:30:01.234Z,in,5000,78 79,xy,false\r\n',
    );
  });
});
