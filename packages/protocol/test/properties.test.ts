// Property tests (fast-check, seeded by ./seed.ts; FC_SEED=<n> to replay or explore):
// every message survives encode → chunked stream → decode, and hostile bytes only ever give
// messages or ProtocolErrors with a known code.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_FRAME_LENGTH,
  ErrorCodes,
  FrameDecoder,
  ProtocolError,
  decodeClientMessage,
  decodeServerMessage,
  encodeFrame,
  encodeMessage,
  isErrorCode,
  messageTypeCode,
  type AnyMessage,
  type ClientMessage,
  type ClientMessageOf,
  type ErrorCode,
  type HistoryEntry,
  type MemberInfo,
  type ServerMessage,
  type ServerMessageOf,
} from '../src/index.js';
import { concatBytes, filledBytes, splitAt, toHex } from './bytes.js';
import './seed.js'; // seeds fast-check (FC_SEED overrides)

// Runs per property; together 9,000, about two seconds here.
const RUNS = { roundTrip: 500, rawFrames: 500, throwingHandler: 500, randomBytes: 1500, frameLike: 1500, mutated: 2000, json: 2000 };

// ---------------------------------------------------------------------------------------
// Arbitraries for every message shape.
// ---------------------------------------------------------------------------------------

// Characters that have broken codecs before: BOM, NUL, JSON escapes, line separators,
// combining marks, astral and noncharacter code points.
const trickyChars = ['\ufeff', '\u0000', '"', '\\', '/', '\u2028', '\u2029', '\n', '\r\n', 'é', 'e\u0301', '😀', '\u{10ffff}', '\uffff', '\u00a0'];
const char = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom(...trickyChars) },
);
const text = fc.oneof(
  { weight: 16, arbitrary: fc.string({ unit: char, maxLength: 20 }) },
  { weight: 2, arbitrary: fc.constant('') },
  // A tricky character first: a leading BOM once went missing in decoding.
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom(...trickyChars), fc.string({ unit: char, maxLength: 8 })).map(([first, rest]) => first + rest),
  },
  // Large-ish: up to ~100 KB of UTF-8, more than a socket read.
  {
    weight: 1,
    arbitrary: fc.tuple(fc.string({ unit: char, minLength: 1, maxLength: 6 }), fc.integer({ min: 50, max: 4000 })).map(([piece, times]) => piece.repeat(times)),
  },
);
const uint = fc.oneof(fc.nat(1000), fc.maxSafeNat(), fc.constant(Number.MAX_SAFE_INTEGER));
const u32 = fc.oneof(fc.nat(10), fc.nat(0xffffffff), fc.constant(0xffffffff));
const bytes = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  // Large-ish binary payloads, filled from a seed (drawing 60 KB byte by byte is slow).
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 70_000 }), fc.integer()).map(([n, s]) => filledBytes(n, s)),
  },
);
const transport = fc.constantFrom('tcp' as const, 'ws' as const);
const errorCode = fc.constantFrom(...(Object.keys(ErrorCodes) as ErrorCode[]));

/** fc.record with plain objects (what a decoder returns) and `optional` keys sometimes absent. */
function rec<T extends Record<string, unknown>, K extends keyof T = never>(
  model: { [P in keyof T]: fc.Arbitrary<T[P]> },
  optional: readonly K[] = [],
): fc.Arbitrary<Omit<T, NoInfer<K>> & Partial<Pick<T, NoInfer<K>>>> {
  const requiredKeys = Object.keys(model).filter((key) => !optional.includes(key as K)) as (keyof T)[];
  return fc.record(model, { requiredKeys, noNullPrototype: true });
}
const tag = <T extends string>(type: T) => fc.constant(type);

/**
 * Arbitraries for every client and server message, built from the given text and bytes:
 * the round trips use large-ish ones, the hostile-input tests small ones (they are about
 * structure, and run many more times).
 */
function messageArbitraries(text: fc.Arbitrary<string>, bytes: fc.Arbitrary<Uint8Array>) {
  const member: fc.Arbitrary<MemberInfo> = rec({ id: text, name: text, transport, address: text, legacy: fc.boolean() }, ['legacy']);
  const chatFields = { id: uint, room: text, from: text, transport, ts: uint, text };
  const privateFields = { id: uint, from: text, to: text, transport, ts: uint, text };
  const fileFields = { id: uint, from: text, transport, ts: uint, name: text, size: uint, mime: text, sha256: text, room: text, to: text };
  const historyEntry: fc.Arbitrary<HistoryEntry> = fc.oneof(
    rec({ kind: tag('message'), ...chatFields }),
    rec({ kind: tag('private'), ...privateFields }),
    rec({ kind: tag('file'), ...fileFields }, ['sha256', 'room', 'to']),
  );

  // Raw frames, the same both ways.
  const rawMessages = [
    rec({ type: tag('text'), text }),
    rec({ type: tag('file-data'), transfer: u32, data: bytes }),
    rec({ type: tag('ping'), data: bytes }),
    rec({ type: tag('pong'), data: bytes }),
  ] as const;

  const clientArbitraries: { [T in ClientMessage['type']]: fc.Arbitrary<ClientMessageOf<T>> } = {
    text: rawMessages[0],
    'file-data': rawMessages[1],
    ping: rawMessages[2],
    pong: rawMessages[3],
    hello: rec({ type: tag('hello'), v: uint, name: text, room: text, since: uint }, ['name', 'room', 'since']),
    message: rec({ type: tag('message'), room: text, text }, ['room']),
    private: rec({ type: tag('private'), to: text, text }),
    roster: rec({ type: tag('roster'), room: text }, ['room']),
    join: rec({ type: tag('join'), room: text }),
    leave: rec({ type: tag('leave'), room: text }),
    rooms: rec({ type: tag('rooms') }),
    nick: rec({ type: tag('nick'), name: text }),
    history: rec({ type: tag('history'), room: text, before: uint, after: uint, limit: uint }, ['room', 'before', 'after', 'limit']),
    'file-offer': rec({ type: tag('file-offer'), transfer: u32, name: text, size: uint, mime: text, room: text, to: text }, ['mime', 'room', 'to']),
    'file-end': rec({ type: tag('file-end'), transfer: u32, sha256: text }),
    'file-abort': rec({ type: tag('file-abort'), transfer: u32, reason: text }, ['reason']),
    search: rec({ type: tag('search'), q: text, room: text, before: uint, limit: uint }, ['room', 'before', 'limit']),
  };

  const serverArbitraries: { [T in ServerMessage['type']]: fc.Arbitrary<ServerMessageOf<T>> } = {
    text: rawMessages[0],
    'file-data': rawMessages[1],
    ping: rawMessages[2],
    pong: rawMessages[3],
    welcome: rec({
      type: tag('welcome'),
      v: uint,
      id: text,
      name: text,
      room: text,
      rooms: fc.array(text, { maxLength: 4 }),
      server: text,
      maxFrameLength: uint,
      maxFileBytes: uint,
      heartbeatMs: uint,
    }),
    message: rec({ type: tag('message'), ...chatFields }),
    private: rec({ type: tag('private'), ...privateFields }),
    presence: rec(
      {
        type: tag('presence'),
        room: text,
        event: fc.constantFrom('join' as const, 'leave' as const, 'rename' as const),
        member,
        reason: text,
        previousName: text,
        ts: uint,
      },
      ['reason', 'previousName'],
    ),
    roster: rec({ type: tag('roster'), room: text, members: fc.array(member, { maxLength: 4 }) }),
    notice: rec({ type: tag('notice'), text, ts: uint, room: text, private: fc.boolean(), code: errorCode }, ['room', 'private', 'code']),
    error: rec({ type: tag('error'), code: errorCode, message: text, fatal: fc.boolean() }, ['fatal']),
    rooms: rec({ type: tag('rooms'), rooms: fc.array(rec({ name: text, members: uint }), { maxLength: 4 }) }),
    history: rec({ type: tag('history'), room: text, entries: fc.array(historyEntry, { maxLength: 4 }), more: fc.boolean() }, ['room']),
    'file-offer': rec(
      { type: tag('file-offer'), transfer: u32, id: uint, from: text, transport, ts: uint, name: text, size: uint, mime: text, room: text, to: text },
      ['room', 'to'],
    ),
    'file-end': rec({ type: tag('file-end'), transfer: u32, sha256: text }),
    'file-abort': rec({ type: tag('file-abort'), transfer: u32, code: errorCode, reason: text }),
    search: rec({ type: tag('search'), q: text, room: text, entries: fc.array(historyEntry, { maxLength: 4 }), more: fc.boolean() }, ['room']),
  };

  const client: fc.Arbitrary<ClientMessage> = fc.oneof(...Object.values(clientArbitraries));
  const server: fc.Arbitrary<ServerMessage> = fc.oneof(...Object.values(serverArbitraries));
  return { client, server, clientArbitraries, serverArbitraries };
}

const large = messageArbitraries(text, bytes);
const small = messageArbitraries(fc.string({ unit: char, maxLength: 12 }), fc.uint8Array({ maxLength: 24 }));

/** Cut points as fractions, so they fit a stream whose length is only known later. */
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });
function cutStream(stream: Uint8Array, fractions: readonly number[]): Uint8Array[] {
  return splitAt(
    stream,
    fractions.map((f) => Math.floor(f * stream.length)),
  );
}

// ---------------------------------------------------------------------------------------
// Round trips.
// ---------------------------------------------------------------------------------------

function roundTrip(messages: AnyMessage[], fractions: number[], decode: (type: number, payload: Uint8Array) => AnyMessage) {
  const stream = concatBytes(messages.map(encodeMessage));
  const decoded: AnyMessage[] = [];
  const decoder = new FrameDecoder((type, payload) => decoded.push(decode(type, payload)));
  for (const chunk of cutStream(stream, fractions)) decoder.push(chunk);
  expect(decoder.midFrame).toBe(false);
  expect(decoded.map(comparable)).toStrictEqual(messages.map(comparable));
}

/** The message with its bytes as hex: comparing 70 KB element by element is slow. */
function comparable(message: AnyMessage): unknown {
  return 'data' in message && message.data instanceof Uint8Array ? { ...message, data: toHex(message.data) } : message;
}

describe('round trip: decode(encode(x)) equals x through a chunked stream', () => {
  it('covers every client and server message type', () => {
    // The arbitraries above are keyed by type, so a type missing from either is a type error;
    // this checks the runtime side agrees with the type table.
    const types = Object.keys(messageTypeCode).sort();
    expect([...new Set([...Object.keys(large.clientArbitraries), ...Object.keys(large.serverArbitraries)])].sort()).toEqual(types);
  });

  it('for client messages', () => {
    fc.assert(
      fc.property(fc.array(large.client, { minLength: 1, maxLength: 6 }), cuts, (messages, fractions) => roundTrip(messages, fractions, decodeClientMessage)),
      { numRuns: RUNS.roundTrip },
    );
  });

  it('for server messages', () => {
    fc.assert(
      fc.property(fc.array(large.server, { minLength: 1, maxLength: 6 }), cuts, (messages, fractions) => roundTrip(messages, fractions, decodeServerMessage)),
      { numRuns: RUNS.roundTrip },
    );
  });

  it('for raw frames of any type byte: the decoder does not care what the type means', () => {
    const frame = rec({ type: fc.nat(255), payload: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 8 }), cuts, (frames, fractions) => {
        const stream = concatBytes(frames.map((f) => encodeFrame(f.type, f.payload)));
        const seen: { type: number; payload: Uint8Array }[] = [];
        const decoder = new FrameDecoder((type, payload) => seen.push({ type, payload: payload.slice() }));
        for (const chunk of cutStream(stream, fractions)) decoder.push(chunk);
        expect(seen).toStrictEqual(frames);
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: RUNS.rawFrames },
    );
  });
});

describe('a throwing handler', () => {
  it('loses no frame and repeats none, when the caller catches and pushes on', () => {
    const frame = rec({ type: fc.nat(255), payload: fc.uint8Array({ maxLength: 60 }), fails: fc.boolean() });
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 10 }), cuts, (frames, fractions) => {
        const stream = concatBytes(frames.map((f) => encodeFrame(f.type, f.payload)));
        const seen: { type: number; payload: Uint8Array }[] = [];
        const decoder = new FrameDecoder((type, payload) => {
          seen.push({ type, payload: payload.slice() });
          if (frames[seen.length - 1]!.fails) throw new Error(`frame ${seen.length - 1} fails`);
        });
        for (let chunk of cutStream(stream, fractions)) {
          // The documented recovery: after a handler error, push again (empty) to read on.
          for (;;) {
            try {
              decoder.push(chunk);
              break;
            } catch (error) {
              expect(String(error)).toMatch(/frame \d+ fails/);
              chunk = new Uint8Array(0);
            }
          }
        }
        expect(seen).toStrictEqual(frames.map(({ type, payload }) => ({ type, payload })));
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: RUNS.throwingHandler },
    );
  });
});

// ---------------------------------------------------------------------------------------
// Hostile input.
// ---------------------------------------------------------------------------------------

interface Outcomes {
  messages: number;
  contentErrors: number;
  framingErrors: number;
}
const noOutcomes = (): Outcomes => ({ messages: 0, contentErrors: 0, framingErrors: 0 });

/**
 * Feeds chunks the way a server does, decoding every frame both ways. Passes only if every
 * outcome is a message (which then survives re-encoding unchanged) or a ProtocolError with a
 * known code, and if the decoder's byte accounting adds up.
 */
function feedHostile(outcomes: Outcomes, chunks: readonly Uint8Array[], maxFrameLength = DEFAULT_MAX_FRAME_LENGTH): void {
  let pushed = 0;
  let delivered = 0;
  const decoder = new FrameDecoder(
    (type, payload) => {
      delivered += 5 + payload.length;
      expect(5 + payload.length).toBeLessThanOrEqual(4 + maxFrameLength);
      for (const decode of [decodeClientMessage, decodeServerMessage]) {
        let message: AnyMessage;
        try {
          message = decode(type, payload);
        } catch (error) {
          if (!(error instanceof ProtocolError) || !isErrorCode(error.code)) throw error;
          outcomes.contentErrors++;
          continue;
        }
        outcomes.messages++;
        // Whatever the decoder accepts, the encoder can say again, and it reads the same.
        const again = encodeMessage(message);
        expect(decode(again[4]!, again.subarray(5))).toStrictEqual(message);
      }
    },
    { maxFrameLength },
  );
  let failed = false;
  for (const chunk of chunks) {
    try {
      decoder.push(chunk);
    } catch (error) {
      expect(failed, 'a failed decoder throws only once').toBe(false);
      expect(error).toBeInstanceOf(ProtocolError);
      expect(['FRAME_EMPTY', 'FRAME_TOO_LARGE']).toContain((error as ProtocolError).code);
      outcomes.framingErrors++;
      failed = true;
    }
    pushed += chunk.length;
    if (failed) {
      // A failed decoder neither delivers nor holds anything more.
      expect(decoder.midFrame).toBe(false);
    } else {
      expect(delivered + decoder.bufferedBytes).toBe(pushed);
    }
  }
}

const maxFrameLength = fc.constantFrom(DEFAULT_MAX_FRAME_LENGTH, 1, 64, 200);

/**
 * Bytes that often look like frames: known type bytes and random payloads behind a length
 * that is mostly right, sometimes a little off or anything at all; now and then plain noise.
 */
const frameLike = fc
  .array(
    fc.oneof(
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }) },
      {
        weight: 6,
        arbitrary: fc
          .tuple(
            fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.integer({ min: -2, max: 2 }), fc.nat(0xffffffff)),
            fc.nat(0x15),
            fc.uint8Array({ maxLength: 40 }),
          )
          .map(([off, type, payload]) => {
            const n = off === 0 || Math.abs(off) > 2 ? (off === 0 ? payload.length + 1 : off) : Math.max(0, payload.length + 1 + off);
            return concatBytes([u32be(n), Uint8Array.of(type), payload]);
          }),
      },
    ),
    { maxLength: 8 },
  )
  .map(concatBytes);

function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'length'; frame: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    kind: fc.constant('length' as const),
    frame: fc.nat(),
    value: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(0, 1, DEFAULT_MAX_FRAME_LENGTH, DEFAULT_MAX_FRAME_LENGTH + 1), fc.nat(0xffffffff)),
  }),
);

/** Applies mutations to a stream of frames; `starts` are the frames' offsets in `stream`. */
function mutate(stream: Uint8Array, starts: number[], mutations: readonly Mutation[]): Uint8Array {
  let bytes: Uint8Array = stream.slice();
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.kind === 'length' ? 0 : m.at % bytes.length;
    switch (m.kind) {
      case 'flip':
        if (bytes.length > 0) bytes[at]! ^= m.mask;
        break;
      case 'truncate':
        bytes = bytes.slice(0, at);
        break;
      case 'insert':
        bytes = concatBytes([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = concatBytes([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
        break;
      case 'length': {
        // Small values nudge N by a few bytes; large ones replace it.
        const start = starts[m.frame % starts.length]!;
        if (start + 4 > bytes.length) break;
        const view = new DataView(bytes.buffer, bytes.byteOffset);
        const n = Math.abs(m.value) <= 3 ? (view.getUint32(start) + m.value) >>> 0 : m.value;
        view.setUint32(start, n);
        break;
      }
    }
  }
  return bytes;
}

/** Valid JSON bodies of every JSON type, then damaged: a field replaced, removed or added. */
const jsonFrame = fc
  .tuple(
    fc.oneof(small.client, small.server).filter((m) => !['text', 'file-data', 'ping', 'pong'].includes(m.type)),
    fc.nat(),
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom('replace', 'remove', 'add', 'retype', 'whole'),
  )
  .map(([message, pick, value, how]) => {
    const { type, ...body } = message as AnyMessage & Record<string, unknown>;
    const keys = Object.keys(body);
    const key = keys.length > 0 ? keys[pick % keys.length]! : 'extra';
    let out: unknown = body;
    if (how === 'replace') out = { ...body, [key]: value };
    else if (how === 'remove') out = Object.fromEntries(Object.entries(body).filter(([k]) => k !== key));
    else if (how === 'add') out = { ...body, [`x${pick}`]: value };
    else if (how === 'whole') out = value;
    // 'retype' keeps the body but sends it under another type byte.
    const code = how === 'retype' ? pick % 0x16 : messageTypeCode[type];
    return encodeFrame(code, new TextEncoder().encode(JSON.stringify(out)));
  });

describe('hostile input gives messages or ProtocolErrors, nothing else', () => {
  // Each test also checks that its inputs reached the outcomes it is about, so a change to
  // the arbitraries cannot quietly make the property vacuous.

  it('random bytes', () => {
    const outcomes = noOutcomes();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cuts, maxFrameLength, (stream, fractions, max) =>
        feedHostile(outcomes, cutStream(stream, fractions), max),
      ),
      { numRuns: RUNS.randomBytes },
    );
    expect(outcomes.framingErrors).toBeGreaterThan(RUNS.randomBytes / 2);
  });

  it('random bytes shaped like frames', () => {
    const outcomes = noOutcomes();
    fc.assert(
      fc.property(frameLike, cuts, maxFrameLength, (stream, fractions, max) => feedHostile(outcomes, cutStream(stream, fractions), max)),
      { numRuns: RUNS.frameLike },
    );
    expect(outcomes).toEqual({
      messages: expect.toSatisfy((n: number) => n > 100),
      contentErrors: expect.toSatisfy((n: number) => n > 100),
      framingErrors: expect.toSatisfy((n: number) => n > 100),
    });
  });

  it('valid frames with flipped bytes, cuts, insertions and changed lengths', () => {
    const outcomes = noOutcomes();
    const messages = fc.array(fc.oneof(small.client, small.server), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(messages, fc.array(mutation, { minLength: 1, maxLength: 4 }), cuts, (messages, mutations, fractions) => {
        const frames = messages.map(encodeMessage);
        const starts = frames.map((_, i) => frames.slice(0, i).reduce((sum, f) => sum + f.length, 0));
        feedHostile(outcomes, cutStream(mutate(concatBytes(frames), starts, mutations), fractions));
      }),
      { numRuns: RUNS.mutated },
    );
    expect(outcomes).toEqual({
      messages: expect.toSatisfy((n: number) => n > 100),
      contentErrors: expect.toSatisfy((n: number) => n > 100),
      framingErrors: expect.toSatisfy((n: number) => n > 100),
    });
  });

  it('JSON bodies with fields replaced, removed, added, or sent under another type', () => {
    const outcomes = noOutcomes();
    fc.assert(
      fc.property(fc.array(jsonFrame, { minLength: 1, maxLength: 4 }), cuts, (frames, fractions) =>
        feedHostile(outcomes, cutStream(concatBytes(frames), fractions)),
      ),
      { numRuns: RUNS.json },
    );
    // Well-framed: only content errors, and plenty of damaged bodies still accepted.
    expect(outcomes.framingErrors).toBe(0);
    expect(outcomes.messages).toBeGreaterThan(RUNS.json / 2);
    expect(outcomes.contentErrors).toBeGreaterThan(RUNS.json / 2);
  });
});
