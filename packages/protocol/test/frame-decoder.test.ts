// FrameDecoder: the same frames whatever the chunking, views on the fast path, limits on the
// length prefix, and a consistent state whatever the handler does.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_FRAME_LENGTH,
  FrameDecoder,
  FrameType,
  ProtocolError,
  decodeClientMessage,
  encodeFrame,
  encodeMessage,
  type ClientMessage,
} from '../src/index.js';
import { byteByByte, concatBytes, filledBytes, fromHex, randomChunks, seededRandom, splitAt, toHex } from './bytes.js';
import { seed } from './seed.js';
import { frameVectors } from './vectors.js';
import { protocolErrorOf } from './protocol-error.js';

interface Frame {
  type: number;
  payload: string; // hex, so a later overwrite of a view cannot change what was recorded
}

/** Pushes every chunk into a fresh decoder and returns the frames, checking nothing is left over. */
function framesOf(chunks: readonly Uint8Array[], maxFrameLength?: number): Frame[] {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder((type, payload) => frames.push({ type, payload: toHex(payload) }), { maxFrameLength });
  for (const chunk of chunks) decoder.push(chunk);
  expect(decoder.midFrame).toBe(false);
  expect(decoder.bufferedBytes).toBe(0);
  return frames;
}

function u32be(n: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n);
  return bytes;
}

// A stream mixing the vectors, empty-payload frames, a 200 KiB file chunk (larger than any
// socket read) and a frame of a type nobody knows (the decoder does not care about types).
const big = filledBytes(200 * 1024, seed);
const streamFrames: Frame[] = [
  ...frameVectors.map((v) => ({ type: v.bytes[4]!, payload: toHex(v.bytes.subarray(5)) })),
  { type: FrameType.Ping, payload: '' },
  { type: FrameType.FileData, payload: '0000002a' + toHex(big) },
  { type: FrameType.Rooms, payload: '' },
  { type: 0xfe, payload: '00ff' },
  { type: FrameType.Text, payload: toHex(new TextEncoder().encode('last')) },
  { type: FrameType.Pong, payload: '' },
];
const stream = concatBytes(streamFrames.map((f) => encodeFrame(f.type, fromHex(f.payload))));

describe('split feeding', () => {
  it('gives the same frames from one chunk', () => {
    expect(framesOf([stream])).toEqual(streamFrames);
  });

  it('gives the same frames one byte at a time', () => {
    expect(framesOf(byteByByte(stream))).toEqual(streamFrames);
  });

  it('gives the same frames at random split points', () => {
    const random = seededRandom(seed);
    for (const maxChunk of [7, 100, 4096, 70_000]) {
      for (let round = 0; round < 3; round++) {
        expect(framesOf(randomChunks(stream, random, maxChunk)), `maxChunk ${maxChunk}`).toEqual(streamFrames);
      }
    }
  });

  it('gives the same frames when cut at every single offset', () => {
    const small = concatBytes(frameVectors.map((v) => v.bytes));
    const expected = framesOf([small]);
    for (let cut = 0; cut <= small.length; cut++) {
      expect(framesOf(splitAt(small, [cut])), `cut at ${cut}`).toEqual(expected);
    }
  });

  it('ignores empty chunks anywhere', () => {
    const chunks = splitAt(stream, [0, 0, 3, 3, 4, 9, 9, stream.length]);
    expect(chunks.filter((c) => c.length === 0).length).toBeGreaterThan(3);
    expect(framesOf(chunks)).toEqual(streamFrames);
  });
});

describe('views and copies', () => {
  it('hands out a view into the chunk when a frame arrives whole (no copy)', () => {
    // The chunk is itself a view at an offset in a larger buffer, as Node's pooled reads are.
    const backing = new Uint8Array(64);
    const frames = [encodeFrame(0x0b, Uint8Array.of(1, 2, 3)), encodeFrame(0x0a, new Uint8Array(0))];
    backing.set(concatBytes(frames), 10);
    const chunk = backing.subarray(10, 10 + 8 + 5);
    const seen: Uint8Array[] = [];
    new FrameDecoder((_type, payload) => seen.push(payload)).push(chunk);
    expect(seen.length).toBe(2);
    expect(seen[0]!.buffer).toBe(backing.buffer);
    expect(seen[0]!.byteOffset).toBe(10 + 5);
    expect([...seen[0]!]).toEqual([1, 2, 3]);
    expect(seen[1]!.buffer).toBe(backing.buffer);
    expect(seen[1]!.length).toBe(0);
  });

  it('still hands out a view when only the length prefix came in an earlier chunk', () => {
    const frame = encodeFrame(0x0b, Uint8Array.of(9, 8, 7));
    const [prefix, body] = [frame.slice(0, 4), frame.slice(4)];
    const seen: Uint8Array[] = [];
    const decoder = new FrameDecoder((_type, payload) => seen.push(payload));
    decoder.push(prefix);
    expect(decoder.midFrame).toBe(true);
    expect(decoder.bufferedBytes).toBe(4);
    decoder.push(body);
    expect(seen[0]!.buffer).toBe(body.buffer);
    expect([...seen[0]!]).toEqual([9, 8, 7]);
  });

  it('assembles a frame split across chunks into its own buffer', () => {
    const payload = filledBytes(1000, seed + 1);
    const frame = encodeFrame(0x0b, payload);
    const chunks = [frame.slice(0, 2), frame.slice(2, 7), frame.slice(7, 600), frame.slice(600)];
    const seen: Uint8Array[] = [];
    const decoder = new FrameDecoder((_type, p) => seen.push(p));
    const buffered: number[] = [];
    for (const chunk of chunks) {
      decoder.push(chunk);
      buffered.push(decoder.bufferedBytes);
    }
    expect(buffered).toEqual([2, 7, 600, 0]);
    expect(seen.length).toBe(1);
    expect(toHex(seen[0]!)).toBe(toHex(payload));
    for (const chunk of chunks) expect(seen[0]!.buffer).not.toBe(chunk.buffer);
  });

  it('does not mix up frames when the prefix is split and the body spans chunks', () => {
    const a = encodeFrame(0x0b, filledBytes(300, 1));
    const b = encodeFrame(0x0a, filledBytes(5, 2));
    const bytes = concatBytes([a, b]);
    const frames = framesOf(splitAt(bytes, [1, 3, 150, a.length + 2, a.length + 6]));
    expect(frames).toEqual([
      { type: 0x0b, payload: toHex(filledBytes(300, 1)) },
      { type: 0x0a, payload: toHex(filledBytes(5, 2)) },
    ]);
  });
});

describe('limits', () => {
  it('rejects a length over maxFrameLength on the 4 length bytes alone, then ignores input', () => {
    const frames: number[] = [];
    const decoder = new FrameDecoder((type) => frames.push(type));
    const error = protocolErrorOf(() => decoder.push(u32be(DEFAULT_MAX_FRAME_LENGTH + 1)));
    expect(error.code).toBe('FRAME_TOO_LARGE');
    expect(error.fatal).toBe(true);
    expect(error.message).toContain(String(DEFAULT_MAX_FRAME_LENGTH + 1));
    expect(decoder.bufferedBytes).toBe(0);
    // The stream can no longer be trusted: even valid frames are dropped, silently.
    decoder.push(encodeMessage({ type: 'text', text: 'after' }));
    decoder.push(u32be(0));
    expect(frames).toEqual([]);
    expect(decoder.midFrame).toBe(false);
  });

  it('rejects the largest possible length too, when the prefix arrives one byte at a time', () => {
    const decoder = new FrameDecoder(() => {
      throw new Error('no frame expected');
    });
    decoder.push(Uint8Array.of(0xff));
    decoder.push(Uint8Array.of(0xff, 0xff));
    expect(decoder.bufferedBytes).toBe(3);
    expect(protocolErrorOf(() => decoder.push(Uint8Array.of(0xff))).code).toBe('FRAME_TOO_LARGE');
  });

  it('rejects N = 0 with FRAME_EMPTY, after delivering the frames before it', () => {
    const frames: number[] = [];
    const decoder = new FrameDecoder((type) => frames.push(type));
    const bytes = concatBytes([encodeFrame(0x0a, new Uint8Array(0)), u32be(0), encodeFrame(0x0b, new Uint8Array(0))]);
    const error = protocolErrorOf(() => decoder.push(bytes));
    expect(error.code).toBe('FRAME_EMPTY');
    expect(error.fatal).toBe(true);
    expect(frames).toEqual([0x0a]);
    decoder.push(encodeFrame(0x0b, new Uint8Array(0)));
    expect(frames).toEqual([0x0a]);
  });

  it('accepts N exactly at the default limit (1 MiB)', () => {
    const payload = filledBytes(DEFAULT_MAX_FRAME_LENGTH - 1, seed + 2);
    const frame = encodeFrame(0x01, payload);
    expect(toHex(frame.subarray(0, 4))).toBe('00100000');
    let got: Uint8Array | undefined;
    const decoder = new FrameDecoder((_type, p) => (got = p));
    for (const chunk of splitAt(frame, [4, 65_536, 500_000])) decoder.push(chunk);
    expect(got?.length).toBe(payload.length);
    expect(got!.every((byte, i) => byte === payload[i])).toBe(true);
  });

  it('honours a custom maxFrameLength: N at the limit passes, N + 1 does not', () => {
    expect(framesOf([encodeFrame(0x0b, new Uint8Array(15))], 16)).toEqual([{ type: 0x0b, payload: '00'.repeat(15) }]);
    const decoder = new FrameDecoder(() => {}, { maxFrameLength: 16 });
    expect(decoder.maxFrameLength).toBe(16);
    const error = protocolErrorOf(() => decoder.push(u32be(17)));
    expect(error.code).toBe('FRAME_TOO_LARGE');
    expect(error.message).toContain('16');
    // A limit of 1 allows only type-only frames.
    expect(framesOf([encodeFrame(0x0a, new Uint8Array(0))], 1)).toEqual([{ type: 0x0a, payload: '' }]);
  });

  it('refuses a maxFrameLength that is not an integer from 1 to 2^32-1', () => {
    for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new FrameDecoder(() => {}, { maxFrameLength: bad }), String(bad)).toThrow(RangeError);
    }
    expect(new FrameDecoder(() => {}, { maxFrameLength: 2 ** 32 - 1 }).maxFrameLength).toBe(2 ** 32 - 1);
  });

  it('can be reset after a framing error and used again', () => {
    const frames: number[] = [];
    const decoder = new FrameDecoder((type) => frames.push(type));
    expect(protocolErrorOf(() => decoder.push(u32be(0))).code).toBe('FRAME_EMPTY');
    decoder.reset();
    decoder.push(encodeFrame(0x0a, new Uint8Array(0)));
    expect(frames).toEqual([0x0a]);
  });
});

describe('state while the handler runs', () => {
  const frameA = encodeMessage({ type: 'text', text: 'a' });
  const badJson = encodeFrame(FrameType.Hello, new TextEncoder().encode('{'));
  const frameC = encodeMessage({ type: 'hello', v: 1, name: 'c' });
  const frameD = encodeMessage({ type: 'text', text: 'd'.repeat(40) });

  it('keeps the rest of the chunk when the handler throws, so no frame is lost or misread', () => {
    // A server decodes in its handler; a bad frame must not cost the frames after it.
    const messages: ClientMessage[] = [];
    const decoder = new FrameDecoder((type, payload) => messages.push(decodeClientMessage(type, payload)));
    const [head, tail] = splitAt(concatBytes([frameA, badJson, frameC, frameD]), [frameA.length + badJson.length + frameC.length + 10]);
    const error = protocolErrorOf(() => decoder.push(head!));
    expect(error.code).toBe('INVALID_JSON');
    expect(messages).toEqual([{ type: 'text', text: 'a' }]);
    // frameC and the start of frameD are held, unread.
    expect(decoder.midFrame).toBe(true);
    expect(decoder.bufferedBytes).toBe(frameC.length + 10);
    decoder.push(new Uint8Array(0));
    expect(messages.at(-1)).toEqual({ type: 'hello', v: 1, name: 'c' });
    expect(decoder.bufferedBytes).toBe(10);
    decoder.push(tail!);
    expect(messages.at(-1)).toEqual({ type: 'text', text: 'd'.repeat(40) });
    expect(decoder.midFrame).toBe(false);
  });

  it('reads the held rest before a new chunk', () => {
    const seen: string[] = [];
    let fail = true;
    const decoder = new FrameDecoder((type, payload) => {
      const message = decodeClientMessage(type, payload);
      if (message.type === 'text' && message.text === 'a' && fail) {
        fail = false;
        throw new Error('handler failed');
      }
      seen.push(message.type === 'text' ? message.text : message.type);
    });
    const both = concatBytes([frameA, frameC, frameD]);
    expect(() => decoder.push(both.subarray(0, both.length - 3))).toThrow('handler failed');
    decoder.push(both.subarray(both.length - 3));
    expect(seen).toEqual(['hello', 'd'.repeat(40)]);
  });

  it('keeps the rest when a handler throws on a frame that was assembled from pieces', () => {
    const seen: number[] = [];
    let calls = 0;
    const decoder = new FrameDecoder((type) => {
      if (++calls === 1) throw new Error('first frame fails');
      seen.push(type);
    });
    const bytes = concatBytes([frameD, frameA, frameC]);
    decoder.push(bytes.subarray(0, 10));
    expect(() => decoder.push(bytes.subarray(10))).toThrow('first frame fails');
    decoder.push(new Uint8Array(0));
    expect(seen).toEqual([FrameType.Text, FrameType.Hello]);
  });

  it('drops the rest of the chunk when the handler resets the decoder', () => {
    // E.g. a WebSocket message that must hold exactly one frame: after the first, reset.
    const seen: number[] = [];
    const decoder = new FrameDecoder((type) => {
      seen.push(type);
      decoder.reset();
    });
    decoder.push(concatBytes([frameA, frameC, frameD.subarray(0, 5)]));
    expect(seen).toEqual([FrameType.Text]);
    expect(decoder.midFrame).toBe(false);
    decoder.push(frameC);
    expect(seen).toEqual([FrameType.Text, FrameType.Hello]);
  });

  it('drops the rest of the chunk when the handler resets and then throws', () => {
    const seen: number[] = [];
    const decoder = new FrameDecoder((type) => {
      seen.push(type);
      if (seen.length === 1) {
        decoder.reset();
        throw new ProtocolError('FRAME_BOUNDARY');
      }
    });
    expect(protocolErrorOf(() => decoder.push(concatBytes([frameA, frameC]))).code).toBe('FRAME_BOUNDARY');
    expect(decoder.bufferedBytes).toBe(0);
    decoder.push(frameD);
    expect(seen).toEqual([FrameType.Text, FrameType.Text]);
  });

  it('reset forgets a partial frame', () => {
    const seen: number[] = [];
    const decoder = new FrameDecoder((type) => seen.push(type));
    decoder.push(frameD.subarray(0, 7));
    expect(decoder.bufferedBytes).toBe(7);
    decoder.reset();
    expect(decoder.midFrame).toBe(false);
    expect(decoder.bufferedBytes).toBe(0);
    decoder.push(frameC);
    expect(seen).toEqual([FrameType.Hello]);
  });
});

describe('pause and resume from inside a handler', () => {
  it('holds the rest of the chunk and what arrives meanwhile, then hands it all out in order', async () => {
    const { FrameDecoder, encodeFrame } = await import('../src/index.js');
    const seen: number[] = [];
    const decoder: InstanceType<typeof FrameDecoder> = new FrameDecoder((type) => {
      seen.push(type);
      if (type === 2 || type === 5) decoder.pause();
    });
    const frames = [1, 2, 3, 4, 5, 6].map((t) => encodeFrame(t, new Uint8Array([t])));
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames.slice(0, 4)) {
      all.set(f, at);
      at += f.length;
    }
    decoder.push(all.subarray(0, at)); // frames 1-4 in one chunk: pauses after 2
    expect(seen).toEqual([1, 2]);
    expect(decoder.paused).toBe(true);
    decoder.push(frames[4]!); // arrives while paused: held
    expect(seen).toEqual([1, 2]);
    decoder.resume(); // 3, 4, then 5 pauses again
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    decoder.push(frames[5]!.subarray(0, 3));
    decoder.resume();
    decoder.push(frames[5]!.subarray(3));
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(decoder.midFrame).toBe(false);
  });
});
