import { describe, expect, it } from 'vitest';
import { indexOfBytes, makeFilter } from '../src/lib/console/traffic-filter.js';
import { exportFileName, trafficCsv, trafficJsonLines, trafficText } from '../src/lib/console/traffic-export.js';
import {
  dumpLineCount,
  dumpRows,
  formatTimeMs,
  itemFromEntry,
  textLineCount,
  textReading,
  textSegments,
  wrapSegments,
  type TrafficItem,
} from '../src/lib/console/traffic-item.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
let seq = 0;
const item = (direction: 'in' | 'out', data: Uint8Array | string, ts = Date.UTC(2026, 10, 22, 8, 30, 1, 234), auto = false): TrafficItem => {
  const b = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return { seq: seq++, ts, direction, length: b.length, bytes: b, auto };
};

describe('hex dump rows', () => {
  it('shows offsets, padded hex and the ASCII column', () => {
    expect(dumpRows(bytes(0x00, 0x01, 0x02, 0xff, 0x41, 0x42))).toEqual([{ offset: '0000', hex: '00 01 02 ff 41 42'.padEnd(48), ascii: '....AB' }]);
  });
  it('breaks every 16 bytes', () => {
    const rows = dumpRows(Uint8Array.from({ length: 40 }, (_, i) => 0x41 + (i % 26)));
    expect(rows.map((r) => r.offset)).toEqual(['0000', '0010', '0020']);
    expect(rows[0]!.hex).toBe('41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50'); // a gap after the 8th byte
    expect(rows[2]!.ascii).toBe('GHIJKLMN'); // bytes 32-39: (i % 26) 6-13
    expect(dumpLineCount(new Uint8Array(40))).toBe(3);
    expect(dumpLineCount(new Uint8Array(0))).toBe(1);
  });
  it('shows one empty row for no bytes', () => expect(dumpRows(bytes())).toEqual([{ offset: '0000', hex: ''.padEnd(48), ascii: '' }]));
});

describe('text with escapes', () => {
  it('shows printable text as it is and the rest as escapes', () => {
    expect(textReading(bytes(0x00, 0x01, 0x02, 0xff, 0x41, 0x42))).toBe('\\0\\x01\\x02\\xffAB');
    expect(textSegments(bytes(0x02, 0x53, 0x03))).toEqual([
      { text: '\\x02', escape: true },
      { text: 'S', escape: false },
      { text: '\\x03', escape: true },
    ]);
  });
  it('reads UTF-8 and escapes a backslash', () => {
    expect(textReading(new TextEncoder().encode('21.5 °C ✓ \\'))).toBe('21.5 °C ✓ \\\\');
    // A lone continuation byte and a truncated sequence are not text.
    expect(textReading(bytes(0x80, 0xe2, 0x9c))).toBe('\\x80\\xe2\\x9c');
  });
  it('wraps at the width, never splits an escape, and breaks after \\n', () => {
    const lines = wrapSegments(textSegments(new TextEncoder().encode('abcdef\x02gh\nij')), 8);
    expect(lines.map((l) => l.map((s) => s.text).join(''))).toEqual(['abcdef', '\\x02gh\\n', 'ij']);
  });
  it('counts lines per width and caches them', () => {
    const it1 = item('in', 'x'.repeat(100));
    expect(textLineCount(it1, 40)).toBe(3);
    expect(textLineCount(it1, 100)).toBe(1);
  });
  it('times have milliseconds', () => expect(formatTimeMs(new Date(2026, 0, 2, 3, 4, 5, 6).getTime())).toBe('03:04:05.006'));
});

describe('the filter', () => {
  const entries = [item('in', bytes(0x00, 0x01, 0x02, 0xff, 0x41, 0x42)), item('out', '\x02STATUS\x03'), item('in', 'temp=21.5\r\n')];

  it('finds bytes in a row', () => {
    expect(indexOfBytes(bytes(1, 2, 3, 2, 3, 4), bytes(3, 4))).toBe(4);
    expect(indexOfBytes(bytes(1, 2), bytes(2, 3))).toBe(-1);
    expect(indexOfBytes(bytes(1), bytes())).toBe(0);
  });

  it('matches a hex pattern in any shape', () => {
    for (const pattern of ['ff 41', 'FF41', '0xff,0x41', '\\xff\\x41']) {
      const filter = makeFilter('hex', pattern);
      if (!filter.ok) throw new Error(filter.error);
      expect(
        entries.filter(filter.test).map((e) => e.seq),
        pattern,
      ).toEqual([entries[0]!.seq]);
    }
  });

  it('matches text case-insensitively, escapes included', () => {
    const filter = makeFilter('text', 'status');
    expect(filter.ok && entries.filter(filter.test).length).toBe(1);
    const crlf = makeFilter('text', '\\r\\n');
    expect(crlf.ok && entries.filter(crlf.test).map((e) => e.seq)).toEqual([entries[2]!.seq]);
    const stx = makeFilter('text', '\\x02S');
    expect(stx.ok && entries.filter(stx.test).length).toBe(1);
  });

  it('is off when empty and says what is wrong with bad hex', () => {
    expect(makeFilter('text', '  ')).toMatchObject({ ok: true, active: false });
    expect(makeFilter('hex', 'zz')).toMatchObject({ ok: false, error: /not a hex digit/ });
  });
});

describe('export', () => {
  const ts = Date.UTC(2026, 10, 22, 8, 30, 1, 234);
  const log = [item('in', bytes(0x00, 0x01, 0x02, 0xff, 0x41, 0x42), ts), item('out', 'a,"b"\r\n', ts + 5, true)];

  it('writes CSV with exactly time,direction,length,hex,text,auto, as the gateway does, quoting as RFC 4180 says', () => {
    expect(trafficCsv(log)).toBe(
      'time,direction,length,hex,text,auto\r\n' +
        '2026-11-22T08:30:01.234Z,in,6,00 01 02 ff 41 42,....AB,false\r\n' +
        '2026-11-22T08:30:01.239Z,out,7,61 2c 22 62 22 0d 0a,"a,""b""..",true\r\n',
    );
  });

  it('writes JSON Lines, one object a line', () => {
    const lines = trafficJsonLines(log)
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { time: '2026-11-22T08:30:01.234Z', ts, direction: 'in', length: 6, hex: '00 01 02 ff 41 42', text: '\\0\\x01\\x02\\xffAB', auto: false },
      { time: '2026-11-22T08:30:01.239Z', ts: ts + 5, direction: 'out', length: 7, hex: '61 2c 22 62 22 0d 0a', text: 'a,"b"\\r\\n', auto: true },
    ]);
  });

  it('writes text a line an entry, with arrows', () => {
    expect(trafficText(log)).toBe(
      '2026-11-22T08:30:01.234Z <-     6  00 01 02 ff 41 42  |\\0\\x01\\x02\\xffAB|\n' +
        '2026-11-22T08:30:01.239Z ->     7 auto  61 2c 22 62 22 0d 0a  |a,"b"\\r\\n|\n',
    );
  });

  it('names files after the device and the time', () => {
    expect(exportFileName('127.0.0.1:5000', 'csv', new Date(ts))).toBe('switchboard-127.0.0.1_5000-2026-11-22T083001Z.csv');
    expect(exportFileName('robot1', 'jsonl', new Date(ts))).toBe('switchboard-robot1-2026-11-22T083001Z.jsonl');
  });

  it('reads the gateway log into items', () => {
    const entry = itemFromEntry({ seq: 7, ts, time: '', direction: 'in', length: 5000, hex: '41 42', text: 'AB', auto: false });
    expect(entry).toMatchObject({ seq: 7, ts, direction: 'in', length: 5000, bytes: bytes(0x41, 0x42) });
    // A connection's event: its text as the item's bytes.
    const event = itemFromEntry({ seq: 8, ts, time: '', direction: 'event', length: 0, hex: '', text: 'connected from 127.0.0.1:5000', auto: false });
    expect(new TextDecoder().decode(event.bytes)).toBe('connected from 127.0.0.1:5000');
  });
});
