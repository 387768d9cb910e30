import { describe, expect, it } from 'vitest';
import { parseEscapes } from '@switchboard/protocol';
import { HeldBudget, LineFraming, RawFraming, type DeviceMessage } from '../src/devices/framing.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (m: DeviceMessage) => new TextDecoder().decode(m.bytes);

/** Feeds `input` in every split of two chunks, and one byte at a time: the messages must not depend on it. */
function everySplit(make: () => LineFraming | RawFraming, input: Uint8Array): DeviceMessage[][] {
  const results: DeviceMessage[][] = [];
  for (let cut = 0; cut <= input.length; cut++) {
    const f = make();
    results.push([...f.push(input.subarray(0, cut)), ...f.push(input.subarray(cut))]);
  }
  const f = make();
  results.push(input.reduce<DeviceMessage[]>((out, b) => [...out, ...f.push(Uint8Array.of(b))], []));
  return results;
}

describe('line framing', () => {
  const crlf = () => new LineFraming({ delimiter: parseEscapes('\\r\\n'), maxLineBytes: 10, idleFlushMs: 0 });

  it('cuts at a two-byte delimiter however the bytes are split', () => {
    for (const messages of everySplit(crlf, bytes('hello\r\nworld\r\npart'))) {
      expect(messages.map(text)).toEqual(['hello', 'world']);
    }
  });

  it('keeps a lone CR inside a CR LF line', () => {
    const f = crlf();
    expect(f.push(bytes('a\rb\r\n')).map(text)).toEqual(['a\rb']);
  });

  it('cuts an overlong line at the limit, marks it, and drops the rest up to the delimiter', () => {
    for (const messages of everySplit(crlf, bytes('0123456789ABCDEF\r\nok\r\n'))) {
      expect(messages.map((m) => [text(m), m.cut === true])).toEqual([
        ['0123456789', true],
        ['ok', false],
      ]);
    }
  });

  it('takes an unfinished line as whole on flush (idle), and writes messages with the delimiter', () => {
    const f = new LineFraming({ delimiter: bytes('#'), maxLineBytes: 100, idleFlushMs: 50 });
    expect(f.push(bytes('MoveJ p10#READY'))).toHaveLength(1);
    expect(f.pending).toBe(5);
    expect(text(f.flush()!)).toBe('READY');
    expect(f.flush()).toBeUndefined();
    expect([...f.encode({ kind: 'text', bytes: bytes('go') })]).toEqual([...bytes('go#')]);
  });
});

describe('line framing in many reads', () => {
  it('gives the same lines (cuts included) and the same unfinished rest whatever the reads, for 1-3 byte delimiters', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = bytes('abENDE\r\n#');
    for (const delimiter of ['\\r\\n', 'END', '#']) {
      for (let round = 0; round < 300; round++) {
        const input = Uint8Array.from({ length: 1 + random(60) }, () => alphabet[random(alphabet.length)]!);
        const make = () => new LineFraming({ delimiter: parseEscapes(delimiter), maxLineBytes: 8, idleFlushMs: 10 });
        const whole = make();
        const expected = [...whole.push(input), whole.flush()].map((m) => m && [text(m), m.cut === true]);
        const split = make();
        const got: (DeviceMessage | undefined)[] = [];
        for (let at = 0; at < input.length;) {
          const size = 1 + random(6);
          got.push(...split.push(input.slice(at, at + size)));
          at += size;
        }
        got.push(split.flush());
        expect(
          got.map((m) => m && [text(m), m.cut === true]),
          `${delimiter} ${JSON.stringify(new TextDecoder().decode(input))}`,
        ).toEqual(expected);
      }
    }
  });
});

describe('raw framing', () => {
  it('holds bytes until an idle gap, then takes them as one message', () => {
    const f = new RawFraming({ idleMs: 20, fixedLength: null, typeByte: false, maxMessageBytes: 1000 });
    expect(f.push(Uint8Array.of(0, 1, 2))).toEqual([]);
    expect(f.push(Uint8Array.of(0xff, 0x41, 0x42))).toEqual([]);
    expect([...f.flush()!.bytes]).toEqual([0, 1, 2, 0xff, 0x41, 0x42]);
  });

  it('keeps a message as the reads that brought it, joined only when its bytes are asked for', () => {
    const f = new RawFraming({ idleMs: 20, fixedLength: null, typeByte: false, maxMessageBytes: 5 });
    const reads = [Uint8Array.of(1, 2), Uint8Array.of(3), Uint8Array.of(4, 5, 6, 7)];
    expect(f.push(reads[0]!)).toEqual([]);
    expect(f.push(reads[1]!)).toEqual([]);
    const [message] = f.push(reads[2]!);
    // Views of the reads, not copies: the first two whole, the third cut at the limit.
    expect(message!.parts!.map((p) => [...p])).toEqual([[1, 2], [3], [4, 5]]);
    expect(message!.parts![0]!.buffer).toBe(reads[0]!.buffer);
    expect(message!.parts![2]!.buffer).toBe(reads[2]!.buffer);
    expect([...message!.bytes]).toEqual([1, 2, 3, 4, 5]);
    expect([...f.flush()!.bytes]).toEqual([6, 7]);
  });

  it('cuts a stream with no pause at the message limit', () => {
    const f = new RawFraming({ idleMs: 20, fixedLength: null, typeByte: false, maxMessageBytes: 4 });
    expect(f.push(Uint8Array.of(1, 2, 3, 4, 5, 6)).map((m) => [...m.bytes])).toEqual([[1, 2, 3, 4]]);
    expect([...f.flush()!.bytes]).toEqual([5, 6]);
  });

  it('cuts fixed-length records however the bytes are split', () => {
    const make = () => new RawFraming({ idleMs: 20, fixedLength: 4, typeByte: false, maxMessageBytes: 1000 });
    for (const messages of everySplit(make, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))) {
      expect(messages.map((m) => [...m.bytes])).toEqual([
        [1, 2, 3, 4],
        [5, 6, 7, 8],
      ]);
    }
  });

  it('reads and writes the WinForms type byte: 0 text, 1 file', () => {
    const f = new RawFraming({ idleMs: 20, fixedLength: null, typeByte: true, maxMessageBytes: 1000 });
    const plain = (m: DeviceMessage | undefined) => m && { kind: m.kind, bytes: [...m.bytes] };
    f.push(Uint8Array.of(0, ...bytes('hi')));
    expect(plain(f.flush())).toEqual({ kind: 'text', bytes: [...bytes('hi')] });
    f.push(Uint8Array.of(1, 9, 8, 7));
    expect(plain(f.flush())).toEqual({ kind: 'file', bytes: [9, 8, 7] });
    // The type byte alone in its read, the rest in the next ones.
    f.push(Uint8Array.of(1));
    f.push(Uint8Array.of(6, 5));
    f.push(Uint8Array.of(4));
    expect(plain(f.flush())).toEqual({ kind: 'file', bytes: [6, 5, 4] });
    expect([...f.encode({ kind: 'text', bytes: bytes('ok') })]).toEqual([0, ...bytes('ok')]);
    expect([...f.encode({ kind: 'file', bytes: Uint8Array.of(5) })]).toEqual([1, 5]);
  });
});

describe('raw framing with the type byte: what a connection holds', () => {
  const typed = (budget: HeldBudget) =>
    new RawFraming({ idleMs: 20, fixedLength: null, typeByte: true, maxMessageBytes: 5, maxFileMessageBytes: 9, fileBudget: budget });

  it('cuts text at the text limit; the continuation has no type byte of its own', () => {
    const f = typed(new HeldBudget(100));
    const out = f.push(Uint8Array.of(0, ...bytes('abcdefghij')));
    expect(out.map((m) => [m.kind, text(m)])).toEqual([
      ['text', 'abcd'],
      ['text', 'efgh'],
    ]);
    expect(text(f.flush()!)).toBe('ij');
  });

  it('holds a file whole within its limit and the shared budget, and gives the budget back when it ends', () => {
    const budget = new HeldBudget(12);
    const f = typed(budget);
    expect(f.push(Uint8Array.of(1, 1, 2, 3))).toEqual([]);
    expect(budget.used).toBe(4);
    const file = f.flush()!;
    expect([file.kind, [...file.bytes]]).toEqual(['file', [1, 2, 3]]);
    expect(budget.used).toBe(0);
  });

  it('refuses a file past the size limit or past the budget: nothing kept, the rest dropped until the idle gap', () => {
    const budget = new HeldBudget(12);
    const big = typed(budget);
    expect(big.push(Uint8Array.of(1, 1, 2, 3, 4, 5, 6, 7, 8, 9))).toEqual([{ kind: 'file', bytes: new Uint8Array(0), refused: 'too-large' }]);
    expect(big.push(Uint8Array.of(10, 11))).toEqual([]);
    expect(big.pending).toBeGreaterThan(0); // the idle gap is still awaited
    expect(big.flush()).toBeUndefined();
    expect(budget.used).toBe(0);

    const first = typed(budget);
    const second = typed(budget);
    first.push(Uint8Array.of(1, 1, 2, 3, 4, 5, 6, 7));
    expect(second.push(Uint8Array.of(1, 1, 2, 3, 4, 5))).toEqual([{ kind: 'file', bytes: new Uint8Array(0), refused: 'busy' }]);
    expect(budget.used).toBe(8);
    first.discard(); // its connection closed
    expect(budget.used).toBe(0);
  });
});
