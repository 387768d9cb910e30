// Saving under a sender's file name: every hostile name lands in a new file directly inside
// the download directory. The name rules themselves are tested with sanitizeFileName in
// packages/protocol/test/safe-file-name.test.ts.
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as protocol from '@switchboard/protocol';
import { FALLBACK_FILE_NAME, MAX_FILE_NAME_BYTES, createUniqueFile, numberedName, safeFileName, sanitizeFileName } from '../src/index.js';

// What a hostile or careless sender may put in file-offer.name.
const hostile = [
  'report.pdf',
  '../../etc/passwd',
  '..\\..\\x',
  '/abs/path',
  'C:\\Windows\\System32\\drivers\\etc\\hosts',
  'C:evil.txt',
  '\\\\server\\share\\doc.txt',
  '.bashrc',
  '.',
  '..',
  'a/b/..',
  '',
  '///\\\\',
  'a\u0000b',
  'evil.sh\u0000.txt',
  '\u001b[31mred.txt',
  'invoice\u202Efdp.exe',
  'notes.txt. . ',
  'a<b>c:d"e|f?g*h.txt',
  'file.txt:hidden',
  'CON',
  'NUL.txt',
  'aux.tar.gz',
  'COM¹',
  'Grüße ✓ 日本語.txt',
  `${'a'.repeat(1000)}.pdf`,
  '😀'.repeat(200),
];

it('exports the same name rules as the protocol package (one copy for the client and the page)', () => {
  expect(sanitizeFileName).toBe(protocol.sanitizeFileName);
  expect(numberedName).toBe(protocol.numberedName);
  expect([MAX_FILE_NAME_BYTES, FALLBACK_FILE_NAME]).toEqual([protocol.MAX_FILE_NAME_BYTES, protocol.FALLBACK_FILE_NAME]);
});

describe('saving with hostile names', () => {
  let parent: string;
  let dir: string;

  beforeEach(async () => {
    parent = await mkdtemp(path.join(tmpdir(), 'switchboard-safe-'));
    dir = path.join(parent, 'downloads');
    await mkdir(dir);
  });
  afterEach(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it('safeFileName resolves inside the directory for every case', () => {
    for (const input of hostile) {
      const full = safeFileName(input, dir);
      expect(path.dirname(full)).toBe(dir);
      expect(path.isAbsolute(full)).toBe(true);
    }
  });

  it('safeFileName skips names that exist, dangling symlinks included', async () => {
    await writeFile(path.join(dir, 'report.pdf'), 'first');
    expect(safeFileName('report.pdf', dir)).toBe(path.join(dir, 'report (1).pdf'));
    await symlink(path.join(parent, 'nowhere'), path.join(dir, 'report (1).pdf'));
    expect(safeFileName('../report.pdf', dir)).toBe(path.join(dir, 'report (2).pdf'));
  });

  it('creates every hostile name inside the directory and nothing outside it', async () => {
    const before = (await readdir(parent)).sort();
    const created: string[] = [];
    for (const input of hostile) {
      const file = await createUniqueFile(dir, input);
      await file.handle.writeFile(input);
      await file.handle.close();
      expect(path.dirname(file.path)).toBe(dir);
      created.push(file.name);
    }
    expect((await readdir(parent)).sort()).toEqual(before);
    expect(new Set(created).size).toBe(hostile.length); // Collisions got numbered, nothing was reused.
    expect((await readdir(dir)).sort()).toEqual([...created].sort());
  });

  it('never overwrites: an existing file keeps its bytes and the new one is numbered', async () => {
    await writeFile(path.join(dir, 'notes.txt'), 'precious');
    const first = await createUniqueFile(dir, '../notes.txt');
    const second = await createUniqueFile(dir, 'notes.txt');
    await first.handle.close();
    await second.handle.close();
    expect(first.name).toBe('notes (1).txt');
    expect(second.name).toBe('notes (2).txt');
    expect(await readFile(path.join(dir, 'notes.txt'), 'utf8')).toBe('precious');
  });

  it('does not follow a symlink planted under the target name', async () => {
    const outside = path.join(parent, 'outside.txt');
    await writeFile(outside, 'do not touch');
    await symlink(outside, path.join(dir, 'trap.txt'));
    const file = await createUniqueFile(dir, 'trap.txt');
    await file.handle.writeFile('new bytes');
    await file.handle.close();
    expect(file.name).toBe('trap (1).txt');
    expect(await readFile(outside, 'utf8')).toBe('do not touch');
  });

  it('gives concurrent creators of the same name distinct files', async () => {
    const files = await Promise.all(Array.from({ length: 20 }, () => createUniqueFile(dir, 'same.bin')));
    await Promise.all(files.map((f) => f.handle.close()));
    expect(new Set(files.map((f) => f.path)).size).toBe(20);
    expect((await readdir(dir)).length).toBe(20);
  });
});
