// What the device console's send box holds, read as bytes: text with escapes, or hex typed or
// pasted in any of the shapes people copy it from (spaced, unspaced, 0x/\x prefixes, C arrays,
// colon-separated, and dumps with offsets and an ASCII column from Wireshark, hexdump -C, xxd).
import { parseEscapes } from '@switchboard/protocol';
import { parseHex } from '../byte-text.js';

export type SendMode = 'text' | 'hex';
/** The macro schema's `append` values: what is added after the bytes. */
export type AppendChoice = 'none' | 'lf' | 'crlf' | 'cr' | 'listener';

export const APPEND_LABELS: Record<AppendChoice, string> = {
  none: 'nothing',
  lf: '\\n (LF)',
  crlf: '\\r\\n (CR LF)',
  cr: '\\r (CR)',
  listener: "the listener's delimiter",
};

const FIXED_ENDINGS: Record<Exclude<AppendChoice, 'listener'>, Uint8Array> = {
  none: new Uint8Array(0),
  lf: Uint8Array.of(0x0a),
  crlf: Uint8Array.of(0x0d, 0x0a),
  cr: Uint8Array.of(0x0d),
};

/** A dump line: an offset of 4 to 8 hex digits, then `:` (xxd) or at least two spaces or a tab. */
const DUMP_LINE = /^\s*([0-9a-f]{4,8})(?::[ \t]*|[ \t]{2,}|\t)(.*)$/i;
/** Bytes in one dump line: `hexdump -C` and Wireshark show 16, xxd 16 in 4-digit groups. */
const DUMP_ROW_MAX = 32;

interface DumpLine {
  offset: number;
  rest: string;
}

/**
 * A paste is a dump when every non-blank line starts with an offset and the offsets fit: a
 * lone line starts at 0, and each next line starts where the one before ended. That keeps
 * `0001  0203` (someone's own spacing) from being read as an offset and one byte. A last line
 * that is an offset alone (`hexdump -C` ends so) says where the bytes end.
 */
function dumpLines(text: string): { lines: DumpLine[]; end: number | null } | null {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  let end: number | null = null;
  const last = lines.at(-1);
  if (lines.length > 1 && last !== undefined && /^\s*[0-9a-f]{4,8}\s*$/i.test(last)) {
    end = parseInt(last.trim(), 16);
    lines.pop();
  }
  if (lines.length === 0) return null;
  const parsed: DumpLine[] = [];
  for (const line of lines) {
    const match = DUMP_LINE.exec(line);
    if (match === null) return null;
    parsed.push({ offset: parseInt(match[1]!, 16), rest: match[2]! });
  }
  if (parsed.length === 1 && parsed[0]!.offset !== 0) return null;
  const offsets = end === null ? parsed.map((l) => l.offset) : [...parsed.map((l) => l.offset), end];
  for (let i = 1; i < offsets.length; i++) {
    const step = offsets[i]! - offsets[i - 1]!;
    if (step <= 0 || step > DUMP_ROW_MAX) return null;
  }
  return { lines: parsed, end };
}

/**
 * The bytes of one dump line after its offset. The hex column ends at the first thing that is
 * not a byte group, at a `|` (hexdump -C), at a gap of three or more spaces after a byte
 * (Wireshark and short last lines pad before the ASCII column), or once `expected` bytes are
 * read: the ASCII column may itself look like hex (`cafe`).
 */
function dumpRowBytes(rest: string, expected: number | null, lineNo: number): number[] {
  const out: number[] = [];
  const limit = expected ?? 16;
  const tokens = /(\s*)(\S+)/g;
  let match: RegExpExecArray | null;
  while ((match = tokens.exec(rest)) !== null && out.length < limit) {
    const [, gap, token] = match as unknown as [string, string, string];
    if (token.startsWith('|')) break;
    if (out.length > 0 && gap.replace(/\t/g, '    ').length >= 3) break;
    if (!/^(?:[0-9a-f]{2}){1,2}$/i.test(token)) break;
    for (let i = 0; i < token.length; i += 2) out.push(parseInt(token.slice(i, i + 2), 16));
  }
  if (expected !== null && out.length !== expected) {
    throw new RangeError(`Dump line ${lineNo} has ${out.length} bytes where its offsets say ${expected}.`);
  }
  if (out.length === 0) throw new RangeError(`Dump line ${lineNo} has no bytes after its offset.`);
  return out;
}

/**
 * Hex as typed or pasted: `02 53 54 03`, `02535403`, `0x02, 0x53`, `{0x02,0x53}`, `\x02\x53`,
 * `02:53:54`, or a dump (`0000   00 01 02 ff 41 42   ....AB`). Throws a RangeError saying what
 * is wrong.
 */
export function parseHexInput(text: string): Uint8Array {
  const dump = dumpLines(text);
  if (dump !== null) {
    const out: number[] = [];
    const { lines, end } = dump;
    lines.forEach((line, i) => {
      const next = lines[i + 1]?.offset ?? end;
      out.push(...dumpRowBytes(line.rest, next === null ? null : next - line.offset, i + 1));
    });
    return Uint8Array.from(out);
  }
  // C arrays and escape strings: braces, quotes and `\x` are separators here.
  const plain = text.replace(/\\x/gi, ' ').replace(/[{}[\]";:-]/g, ' ');
  return parseHex(plain);
}

/** The bytes a line listener's delimiter stands for (it is escape text, e.g. `\r\n`). */
export function delimiterBytes(delimiter: string | null | undefined): Uint8Array | null {
  if (delimiter === null || delimiter === undefined || delimiter === '') return null;
  try {
    return parseEscapes(delimiter);
  } catch {
    return null;
  }
}

/** What `append` adds; null when it is `listener` and the device has no delimiter. */
export function appendBytes(choice: AppendChoice, listenerDelimiter: Uint8Array | null): Uint8Array | null {
  return choice === 'listener' ? listenerDelimiter : FIXED_ENDINGS[choice];
}

export type Payload = { ok: true; bytes: Uint8Array } | { ok: false; error: string };

/** The bytes to send for what the box holds, with the chosen ending. Empty input is an error. */
export function buildPayload(data: string, mode: SendMode, append: AppendChoice, listenerDelimiter: Uint8Array | null): Payload {
  let body: Uint8Array;
  try {
    body = mode === 'hex' ? parseHexInput(data) : parseEscapes(data);
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  const ending = appendBytes(append, listenerDelimiter);
  if (ending === null) return { ok: false, error: 'This device has no listener delimiter to append (only line listeners have one).' };
  if (body.length + ending.length === 0) return { ok: false, error: 'Nothing to send.' };
  const bytes = new Uint8Array(body.length + ending.length);
  bytes.set(body, 0);
  bytes.set(ending, body.length);
  return { ok: true, bytes };
}
