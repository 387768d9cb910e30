// Escapes in text that stands for bytes: listener delimiters (`"\\r\\n"` in a JSON body), and
// what people type into a device console. One reader for both, runtime-neutral.

const utf8 = new TextEncoder();

/**
 * The bytes `text` stands for: UTF-8, with `\r`, `\n`, `\t`, `\0`, `\\` and `\xNN` (two hex
 * digits: one byte) read as escapes. Throws a RangeError naming the position of a malformed one.
 */
export function parseEscapes(text: string): Uint8Array {
  const out: number[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal.length > 0) out.push(...utf8.encode(literal));
    literal = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      literal += c;
      continue;
    }
    const next = text[i + 1];
    const simple: Record<string, number> = { r: 0x0d, n: 0x0a, t: 0x09, '0': 0x00, '\\': 0x5c };
    if (next !== undefined && next in simple) {
      flush();
      out.push(simple[next]!);
      i++;
    } else if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
      flush();
      out.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      throw new RangeError(`Unknown escape at position ${i}: use \\r, \\n, \\t, \\0, \\\\ or \\xNN.`);
    }
  }
  flush();
  return Uint8Array.from(out);
}

/** Bytes back as escaped text: printable ASCII as it is, the usual escapes, `\xNN` for the rest. */
export function formatEscapes(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) {
    if (b === 0x0d) text += '\\r';
    else if (b === 0x0a) text += '\\n';
    else if (b === 0x09) text += '\\t';
    else if (b === 0x00) text += '\\0';
    else if (b === 0x5c) text += '\\\\';
    else if (b >= 0x20 && b < 0x7f) text += String.fromCharCode(b);
    else text += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return text;
}
