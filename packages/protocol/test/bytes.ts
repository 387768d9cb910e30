// Byte helpers shared by the protocol tests: hex (the vectors' notation), joining and
// cutting streams, and a seeded generator for split points.

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`not hex bytes: ${hex}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  const out: string[] = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = HEX[bytes[i]!]!;
  return out.join('');
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Cuts `bytes` at the given offsets (any order, duplicates and 0/length allowed: empty chunks). */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...cuts].map((c) => Math.max(0, Math.min(bytes.length, c))).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

/** One-byte chunks, each in its own buffer (as a socket would deliver them). */
export function byteByByte(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (byte) => Uint8Array.of(byte));
}

/** mulberry32: a small seeded PRNG, so "random" split points are the same on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random cut points for `length` bytes, each chunk copied into its own buffer like a socket read. */
export function randomChunks(bytes: Uint8Array, random: () => number, maxChunk: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = Math.min(bytes.length - at, Math.floor(random() * (maxChunk + 1)));
    chunks.push(bytes.slice(at, at + size)); // size 0 gives an empty push, which must be harmless
    at += size;
  }
  return chunks;
}

/** Bytes from a seed, for large payloads that would be slow to draw byte by byte. */
export function filledBytes(length: number, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (random() * 256) | 0;
  return out;
}
