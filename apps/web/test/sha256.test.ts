import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from '../src/lib/sha256.js';

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
  {
    name: '896 bits',
    input: utf8.encode(
      'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
    ),
    hex: 'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
  },
  { name: 'one million a', input: new Uint8Array(1_000_000).fill(0x61), hex: 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0' },
];

describe('Sha256', () => {
  for (const { name, input, hex } of vectors) {
    it(`hashes ${name} in one update`, () => {
      expect(sha256Hex(input)).toBe(hex);
    });
    it(`hashes ${name} fed in uneven pieces`, () => {
      const hash = new Sha256();
      let at = 0;
      for (let step = 1; at < input.length; step = (step * 7 + 3) % 97 || 1) {
        hash.update(input.subarray(at, at + step));
        at += step;
      }
      expect(hash.hex()).toBe(hex);
    });
  }

  it('matches node:crypto on every length around the padding boundaries', () => {
    const data = new Uint8Array(randomBytes(300));
    for (let length = 0; length <= data.length; length++) {
      const slice = data.subarray(0, length);
      expect(sha256Hex(slice), `length ${length}`).toBe(createHash('sha256').update(slice).digest('hex'));
    }
  });

  it('matches node:crypto on a multi-chunk file fed in 64 KiB pieces', () => {
    const data = new Uint8Array(randomBytes(5 * 65536 + 123));
    const hash = new Sha256();
    for (let at = 0; at < data.length; at += 65536) hash.update(data.subarray(at, at + 65536));
    expect(hash.hex()).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('refuses to be used after digest()', () => {
    const hash = new Sha256().update(utf8.encode('x'));
    hash.digest();
    expect(() => hash.update(utf8.encode('y'))).toThrow(/after digest/);
    expect(() => hash.digest()).toThrow(/twice/);
  });
});
