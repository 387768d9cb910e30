// PROTOCOL.md is the contract other implementations are written from: its byte examples,
// error tables and frame-type table must say what the code and test/vectors.json say.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, FrameType, frameTypeName, messageTypeCode } from '../src/index.js';
import { fromHex, toHex } from './bytes.js';
import { errorVectors, frameVectors } from './vectors.js';

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8');

/** The text from a `## <number>.` heading up to the next `## ` heading. */
function section(number: number): string {
  const start = doc.indexOf(`\n## ${number}. `);
  expect(start, `PROTOCOL.md has a section ${number}`).toBeGreaterThanOrEqual(0);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

/** Rows of the first Markdown table in `text`, cells trimmed, header and rule dropped. */
function tableRows(text: string): string[][] {
  const lines = text.split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const rows: string[][] = [];
  for (let i = first + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(
      lines[i]!.slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

function unquote(cell: string): string {
  const match = /^`([^`]*)`$/.exec(cell);
  expect(match, `cell ${cell} is in backquotes`).not.toBeNull();
  return match![1]!;
}

interface DocExample {
  name: string;
  direction: 'client' | 'server';
  lines: { bytes: Uint8Array; comment: string }[];
}

/** Each `#### name (client → server)` heading of section 10 and the byte block under it. */
function docExamples(): DocExample[] {
  const text = section(10);
  const examples: DocExample[] = [];
  const heading = /^#### (.+) \((client|server) → (client|server)\)\n[\s\S]*?```\n([\s\S]*?)```/gm;
  for (const match of text.matchAll(heading)) {
    const [, name, from, to, block] = match;
    expect(from, `${name}: goes between client and server`).not.toBe(to);
    const lines = block!
      .trimEnd()
      .split('\n')
      .map((line) => {
        const parsed = /^((?:[0-9a-f]{2} )*[0-9a-f]{2}) +# (.*)$/.exec(line);
        expect(parsed, `${name}: line "${line}" is "hex bytes   # comment"`).not.toBeNull();
        return { bytes: fromHex(parsed![1]!), comment: parsed![2]! };
      });
    examples.push({ name: name!, direction: from as 'client' | 'server', lines });
  }
  return examples;
}

describe('PROTOCOL.md section 10 (byte-exact examples)', () => {
  const examples = docExamples();

  it('has one example per frame vector, under the same name and direction', () => {
    expect(examples.map((e) => `${e.name} (${e.direction})`).sort()).toEqual(frameVectors.map((v) => `${v.name} (${v.direction})`).sort());
    // Every `#### ... (` heading was parsed: none was skipped by a malformed block.
    expect(examples.length).toBe((section(10).match(/^#### .+\(/gm) ?? []).length);
  });

  describe.each(examples)('$name', ({ name, lines }) => {
    const bytes = new Uint8Array(lines.flatMap((line) => [...line.bytes]));

    it('shows exactly the vector bytes', () => {
      const vector = frameVectors.find((v) => v.name === name);
      expect(vector).toBeDefined();
      expect(toHex(bytes)).toBe(toHex(vector!.bytes));
    });

    it('has notes that match its bytes', () => {
      const [lengthLine, typeLine, ...payloadLines] = lines;
      // The first line is the 4-byte length, noted in decimal.
      expect(lengthLine!.bytes.length).toBe(4);
      const n = new DataView(lengthLine!.bytes.buffer).getUint32(0);
      expect(lengthLine!.comment).toBe(`length N = ${n}`);
      expect(bytes.length).toBe(4 + n);
      // The second line is the type byte, noted as 0xNN and the type's name.
      expect(typeLine!.bytes.length).toBe(1);
      const type = typeLine!.bytes[0]!;
      const typeNote = /^type 0x([0-9A-F]{2}) (\S+)$/.exec(typeLine!.comment);
      expect(typeNote, typeLine!.comment).not.toBeNull();
      expect(parseInt(typeNote![1]!, 16)).toBe(type);
      expect(typeNote![2]).toBe(Object.entries(messageTypeCode).find(([, code]) => code === type)?.[0]);
      // A "payload: ..." note spells out the UTF-8 text of all the payload lines.
      const first = payloadLines[0];
      if (first?.comment.startsWith('payload: ')) {
        const payload = new Uint8Array(payloadLines.flatMap((line) => [...line.bytes]));
        expect(new TextDecoder().decode(payload)).toBe(first.comment.slice('payload: '.length));
        for (const more of payloadLines.slice(1)) expect(more.comment).toBe('…');
      }
    });
  });

  it('lists every error vector in its Errors table, with the same bytes and code', () => {
    const errorsTable = section(10).slice(section(10).indexOf('#### Errors'));
    const rows = tableRows(errorsTable).map(([bytes, code]) => `${toHex(fromHex(unquote(bytes!)))} ${unquote(code!)}`);
    expect(rows).toEqual(errorVectors.map((v) => `${toHex(v.bytes)} ${v.code}`));
  });
});

describe('PROTOCOL.md error table', () => {
  it('lists exactly the codes and texts of ErrorCodes, in order', () => {
    const start = doc.indexOf('<!-- error-table:start -->');
    const end = doc.indexOf('<!-- error-table:end -->');
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const rows = tableRows(doc.slice(start, end));
    expect(rows.every((row) => row.length === 2)).toBe(true);
    const documented = rows.map(([code, text]) => [unquote(code!), text]);
    expect(documented).toEqual(Object.entries(ErrorCodes));
  });
});

describe('PROTOCOL.md frame type table', () => {
  it('names every type byte the code defines, and no other', () => {
    const rows = tableRows(section(1).slice(section(1).indexOf('### Frame types')));
    const documented = rows.map(([code, name]) => [parseInt(unquote(code!), 16), name]);
    expect(documented).toEqual(Object.entries(messageTypeCode).map(([name, code]) => [code, name]));
    // FrameType (the byte constants) and the message type names agree with each other too.
    for (const [code] of documented) {
      expect(frameTypeName(code as number)).toBeDefined();
      expect(FrameType[frameTypeName(code as number)!]).toBe(code);
    }
    expect(Object.keys(FrameType).length).toBe(documented.length);
  });
});
