// The file name a sender puts in file-offer, reduced to one harmless path component. Pure:
// the disk side (free names, O_EXCL) is tested in packages/client/test/safe-file-name.test.ts.
import { describe, expect, it } from 'vitest';
import { FALLBACK_FILE_NAME, MAX_FILE_NAME_BYTES, numberedName, sanitizeFileName } from '../src/index.js';

const utf8 = new TextEncoder();
const bytes = (s: string): number => utf8.encode(s).length;

// What a hostile or careless sender may put in file-offer.name, and what must be left.
const cases: { name: string; input: string; expected: string }[] = [
  { name: 'plain name is kept', input: 'report.pdf', expected: 'report.pdf' },
  { name: 'unix traversal keeps the last component', input: '../../etc/passwd', expected: 'passwd' },
  { name: 'windows traversal keeps the last component', input: '..\\..\\x', expected: 'x' },
  { name: 'mixed separators', input: '..\\../..\\win.ini', expected: 'win.ini' },
  { name: 'absolute unix path', input: '/abs/path', expected: 'path' },
  { name: 'absolute windows path with drive', input: 'C:\\Windows\\System32\\drivers\\etc\\hosts', expected: 'hosts' },
  { name: 'drive-relative windows name', input: 'C:evil.txt', expected: 'C_evil.txt' },
  { name: 'UNC path', input: '\\\\server\\share\\doc.txt', expected: 'doc.txt' },
  { name: 'trailing separator keeps the last non-empty component', input: 'reports/', expected: 'reports' },
  { name: 'hidden file loses its dot', input: '.bashrc', expected: 'bashrc' },
  { name: 'several leading dots', input: '...ssh', expected: 'ssh' },
  { name: 'dot alone', input: '.', expected: FALLBACK_FILE_NAME },
  { name: 'dot dot alone', input: '..', expected: FALLBACK_FILE_NAME },
  { name: 'path ending in dot dot', input: 'a/b/..', expected: FALLBACK_FILE_NAME },
  { name: 'empty', input: '', expected: FALLBACK_FILE_NAME },
  { name: 'only separators', input: '///\\\\', expected: FALLBACK_FILE_NAME },
  { name: 'only spaces and dots', input: ' . . ', expected: FALLBACK_FILE_NAME },
  { name: 'NUL is removed', input: 'a\u0000b', expected: 'ab' },
  { name: 'NUL used to cut an extension', input: 'evil.sh\u0000.txt', expected: 'evil.sh.txt' },
  { name: 'control characters are removed', input: 'a\u0001\u001f\u007f\u0085b\n\r\t.txt', expected: 'ab.txt' },
  { name: 'ANSI escape loses its ESC', input: '\u001b[31mred.txt', expected: '[31mred.txt' },
  { name: 'right-to-left override is removed', input: 'invoice\u202Efdp.exe', expected: 'invoicefdp.exe' },
  { name: 'trailing dots and spaces are removed', input: 'notes.txt. . ', expected: 'notes.txt' },
  { name: 'leading spaces are removed', input: '   notes.txt', expected: 'notes.txt' },
  { name: 'windows-reserved characters are replaced', input: 'a<b>c:d"e|f?g*h.txt', expected: 'a_b_c_d_e_f_g_h.txt' },
  { name: 'NTFS stream syntax', input: 'file.txt:hidden', expected: 'file.txt_hidden' },
  { name: 'device CON', input: 'CON', expected: '_CON' },
  { name: 'device con lower case', input: 'con', expected: '_con' },
  { name: 'device NUL with extension', input: 'NUL.txt', expected: '_NUL.txt' },
  { name: 'device with two extensions', input: 'aux.tar.gz', expected: '_aux.tar.gz' },
  { name: 'device with space before the dot', input: 'PRN .txt', expected: '_PRN .txt' },
  { name: 'device COM1', input: 'COM1', expected: '_COM1' },
  { name: 'device LPT9 in a path', input: 'dir/LPT9.log', expected: '_LPT9.log' },
  { name: 'device with superscript digit', input: 'COM¹', expected: '_COM¹' },
  { name: 'device CONIN$', input: 'CONIN$', expected: '_CONIN$' },
  { name: 'device name followed by a dot', input: 'con.', expected: '_con' },
  { name: 'not a device: longer word', input: 'CONSOLE.txt', expected: 'CONSOLE.txt' },
  { name: 'not a device: COM10', input: 'COM10', expected: 'COM10' },
  { name: 'Unicode letters are kept', input: 'Grüße ✓ 日本語.txt', expected: 'Grüße ✓ 日本語.txt' },
  { name: 'decomposed Unicode is composed (NFC)', input: 're\u0301sume\u0301.pdf', expected: 'r\u00e9sum\u00e9.pdf' },
  { name: 'emoji with ZWJ survive', input: '👩‍💻 notes.md', expected: '👩‍💻 notes.md' },
  { name: 'inner spaces are kept', input: 'my report (final).pdf', expected: 'my report (final).pdf' },
];

describe('sanitizeFileName', () => {
  it.each(cases)('$name', ({ input, expected }) => {
    expect(sanitizeFileName(input)).toBe(expected);
  });

  it('cuts long ASCII names to 255 bytes and keeps the extension', () => {
    const result = sanitizeFileName(`${'a'.repeat(1000)}.pdf`);
    expect(bytes(result)).toBe(MAX_FILE_NAME_BYTES);
    expect(result.endsWith('.pdf')).toBe(true);
  });

  it('cuts long multi-byte names on whole code points', () => {
    const result = sanitizeFileName(`${'日本語'.repeat(100)}.txt`); // 3 bytes per character
    expect(bytes(result)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(result.endsWith('.txt')).toBe(true);
    expect(result).not.toContain('\ufffd');
    expect(new TextDecoder('utf-8', { fatal: true }).decode(utf8.encode(result))).toBe(result);
  });

  it('never splits a surrogate pair', () => {
    const result = sanitizeFileName('😀'.repeat(200)); // 4 bytes each, no extension
    expect(bytes(result)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(result).toBe('😀'.repeat(63));
  });

  it('treats a very long "extension" as part of the name', () => {
    const result = sanitizeFileName(`a.${'b'.repeat(400)}`);
    expect(bytes(result)).toBe(MAX_FILE_NAME_BYTES);
    expect(result.startsWith('a.bbb')).toBe(true);
  });

  it('does not leave a trailing dot or space where it cut', () => {
    const result = sanitizeFileName(`${'a'.repeat(250)}    .   ${'b'.repeat(300)}`);
    expect(result).not.toMatch(/[. ]$/);
    expect(bytes(result)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
  });

  it('holds its promises for random hostile input', () => {
    // A seeded generator, so a failure can be replayed; the alphabet favours the dangerous.
    let seed = 0x5eed;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['.', '..', '/', '\\', ' ', '\u0000', '\u001b', '\u202e', ':', '*', 'CON', 'nul', 'a', 'é', '日', '😀', '\n', '~', '$'];
    for (let i = 0; i < 3000; i++) {
      let input = '';
      const length = random(40);
      for (let j = 0; j < length; j++) input += alphabet[random(alphabet.length)]!;
      if (random(10) === 0) input += 'x'.repeat(random(600));
      const result = sanitizeFileName(input);
      expect(result.length, JSON.stringify(input)).toBeGreaterThan(0);
      expect(bytes(result)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
      expect(result).not.toMatch(/[/\\\u0000-\u001f\u007f<>:"|?*\u202e]/);
      expect(result).not.toMatch(/^[.\s]|[.\s]$/u);
      expect(result.split('.')[0]!.trimEnd()).not.toMatch(/^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i);
      expect(sanitizeFileName(result)).toBe(result); // Idempotent: a safe name stays as it is.
    }
  });
});

describe('numberedName', () => {
  it('puts the number before the extension and the suffix after it', () => {
    expect(numberedName('report.pdf', 0)).toBe('report.pdf');
    expect(numberedName('report.pdf', 2)).toBe('report (2).pdf');
    expect(numberedName('README', 1)).toBe('README (1)');
    expect(numberedName('report.pdf', 0, '.part')).toBe('report.pdf.part');
    expect(numberedName('report.pdf', 3, '.part')).toBe('report (3).pdf.part');
  });

  it('still fits 255 bytes with a number and a suffix', () => {
    const long = sanitizeFileName(`${'a'.repeat(300)}.pdf`);
    const numbered = numberedName(long, 12345, '.part');
    expect(bytes(numbered)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(numbered.endsWith(' (12345).pdf.part')).toBe(true);
  });
});
