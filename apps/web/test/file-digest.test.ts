import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createFileDigest, sha256Hex } from '../src/lib/file-digest.js';

const utf8 = new TextEncoder();

// FIPS 180-4 / NIST CAVS examples.
const vectors: { name: string; input: Uint8Array; hex: string }[] = [
  { name: 'empty', input: new Uint8Array(0), hex: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  { name: 'abc', input: utf8.encode('abc'), hex: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  {
    name: '448 bits (two blocks after padding)',
    input: utf8.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
    hex: '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  },
];

/** Feeds `data` to a digest in pieces of `size` bytes, as the page does with a file's chunks. */
function inChunks(data: Uint8Array, size: number): string {
  const digest = createFileDigest();
  for (let at = 0; at < data.length; at += size) digest.update(data.subarray(at, at + size));
  return digest.hex();
}

describe('file digest (SHA-256 from @noble/hashes)', () => {
  for (const { name, input, hex } of vectors) {
    it(`hashes ${name}`, () => {
      expect(sha256Hex(input)).toBe(hex);
      expect(inChunks(input, 7)).toBe(hex);
    });
  }

  it('gives the empty digest when nothing was fed', () => {
    expect(createFileDigest().hex()).toBe(vectors[0]!.hex);
  });

  it('hashes a multi-chunk file fed in 64 KiB pieces to the one-shot digest', () => {
    const data = new Uint8Array(randomBytes(5 * 65536 + 123));
    const oneShot = sha256Hex(data);
    expect(inChunks(data, 65536)).toBe(oneShot);
    expect(oneShot).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('does not depend on where the chunks are cut', () => {
    const data = new Uint8Array(randomBytes(1000));
    const expected = createHash('sha256').update(data).digest('hex');
    for (const size of [1, 63, 64, 65, 999]) expect(inChunks(data, size), `pieces of ${size}`).toBe(expected);
  });
});
