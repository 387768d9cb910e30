// Message bodies: shapes per direction as PROTOCOL.md describes them, strict UTF-8, the
// encoder's own checks, names, and ProtocolError.
import { describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  FATAL_ERROR_CODES,
  FrameType,
  ProtocolError,
  decodeClientMessage,
  decodeServerMessage,
  decodeUtf8,
  encodeFrame,
  encodeMessage,
  isErrorCode,
  isValidName,
  messageTypeCode,
  utf8Length,
  type AnyMessage,
  type ErrorCode,
} from '../src/index.js';
import { fromHex, toHex } from './bytes.js';
import { protocolErrorOf } from './protocol-error.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

function codeOf(fn: () => unknown): ErrorCode {
  return protocolErrorOf(fn).code;
}

/** Decodes a JSON body of `type` as a client (or server) would send it. */
function client(type: keyof typeof messageTypeCode, body: unknown) {
  return decodeClientMessage(messageTypeCode[type], utf8(JSON.stringify(body)));
}
function server(type: keyof typeof messageTypeCode, body: unknown) {
  return decodeServerMessage(messageTypeCode[type], utf8(JSON.stringify(body)));
}

describe('decodeUtf8', () => {
  it('accepts well-formed UTF-8, 1 to 4 bytes per character', () => {
    expect(decodeUtf8(fromHex('41c3a9e282acf09f9880'))).toBe('Aé€😀');
    expect(decodeUtf8(fromHex('f48fbfbf'))).toBe('\u{10ffff}');
    expect(decodeUtf8(new Uint8Array(0))).toBe('');
  });

  it.each([
    ['c0af', 'overlong "/" in 2 bytes'],
    ['c180', 'overlong in 2 bytes (C1)'],
    ['e080af', 'overlong "/" in 3 bytes'],
    ['f08080af', 'overlong "/" in 4 bytes'],
    ['eda080', 'lone high surrogate U+D800'],
    ['edbfbf', 'lone low surrogate U+DFFF'],
    ['eda0bdedb880', 'surrogate pair encoded as two 3-byte sequences (CESU-8)'],
    ['f4908080', 'above U+10FFFF'],
    ['e282', 'truncated 3-byte sequence'],
    ['f09f98', 'truncated 4-byte sequence'],
    ['41c3', 'lead byte at the very end'],
    ['80', 'lone continuation byte'],
    ['ff', 'byte that never occurs'],
    ['c328', 'lead byte followed by ASCII'],
  ])('rejects %s (%s) with INVALID_UTF8', (hex) => {
    expect(codeOf(() => decodeUtf8(fromHex(hex)))).toBe('INVALID_UTF8');
    // The same bytes in a text frame or inside a JSON string are rejected the same way.
    expect(codeOf(() => decodeClientMessage(FrameType.Text, fromHex(hex)))).toBe('INVALID_UTF8');
    const json = concat(utf8('{"room":"'), fromHex(hex), utf8('"}'));
    expect(codeOf(() => decodeClientMessage(FrameType.Join, json))).toBe('INVALID_UTF8');
  });

  it('keeps a leading byte-order mark: it is part of the text, not a header', () => {
    // A BOM (EF BB BF) used to be stripped by TextDecoder, so "\uFEFFhi" arrived as "hi".
    expect(decodeUtf8(fromHex('efbbbf6869'))).toBe('\ufeffhi');
    const message: AnyMessage = { type: 'text', text: '\ufeffhi' };
    const frame = encodeMessage(message);
    expect(decodeClientMessage(frame[4]!, frame.subarray(5))).toStrictEqual(message);
    // In front of JSON it is not JSON, and JSON payloads are never repaired.
    expect(codeOf(() => decodeClientMessage(FrameType.Rooms, fromHex('efbbbf7b7d')))).toBe('INVALID_JSON');
  });

  it('wraps the decoder failure as the cause', () => {
    try {
      decodeUtf8(fromHex('ff'));
      expect.unreachable();
    } catch (error) {
      expect((error as ProtocolError).cause).toBeInstanceOf(Error);
    }
  });
});

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

describe('text encoded straight into its frame', () => {
  // The encoder sizes a frame by the text's length and writes the UTF-8 into it; text that is
  // not all ASCII takes the exact size. Each must give the bytes TextEncoder gives, no more.
  const texts = [
    '',
    'plain ASCII',
    'a\u0000b', // JSON escapes it: still ASCII
    'é', // 2 bytes
    'aé', // a 2-byte character that does not fit what is left of the guess
    'éa',
    '€ and 中文', // 3 bytes each
    'x🎉y', // a surrogate pair: 4 bytes
    '🎉', // the pair is the whole text
    'lone \ud800 high', // a lone surrogate: U+FFFD, 3 bytes
    'lone \udc00 low',
    'ends high \ud83c',
    'x'.repeat(70_000) + 'é'.repeat(3),
  ];
  it.each(texts)('text frame of %j', (text) => {
    expect(toHex(encodeMessage({ type: 'text', text }))).toBe(toHex(encodeFrame(FrameType.Text, utf8(text))));
  });
  it.each(texts)('utf8Length of %j is what TextEncoder writes', (text) => {
    expect(utf8Length(text)).toBe(utf8(text).length);
    expect(utf8Length(text, 1)).toBe(utf8(text.slice(1)).length);
  });
  it.each(texts)('JSON frame of %j', (text) => {
    const message = { type: 'message', id: 1, room: 'lobby', from: 'ann', transport: 'tcp', ts: 2, text } as const;
    const { type, ...body } = message;
    expect(toHex(encodeMessage(message))).toBe(toHex(encodeFrame(messageTypeCode[type], utf8(JSON.stringify(body)))));
  });
});

describe('frame types by direction', () => {
  const clientOnly = ['hello', 'join', 'leave', 'nick'] as const;
  const serverOnly = ['welcome', 'presence', 'notice', 'error'] as const;

  it.each(serverOnly)('a client may not send %s (UNEXPECTED_TYPE)', (type) => {
    expect(codeOf(() => client(type, {}))).toBe('UNEXPECTED_TYPE');
  });

  it.each(clientOnly)('a server may not send %s (UNEXPECTED_TYPE)', (type) => {
    expect(codeOf(() => server(type, {}))).toBe('UNEXPECTED_TYPE');
  });

  it('rejects every undefined type byte with UNKNOWN_TYPE, both ways', () => {
    for (let type = 0x15; type <= 0xff; type++) {
      expect(codeOf(() => decodeClientMessage(type, new Uint8Array(0)))).toBe('UNKNOWN_TYPE');
      expect(codeOf(() => decodeServerMessage(type, new Uint8Array(0)))).toBe('UNKNOWN_TYPE');
    }
  });

  it('says which type byte was unknown', () => {
    expect(() => decodeClientMessage(0x7f, new Uint8Array(0))).toThrow('0x7f');
  });

  it('checks the direction before the payload', () => {
    expect(codeOf(() => decodeClientMessage(FrameType.Welcome, fromHex('ff')))).toBe('UNEXPECTED_TYPE');
  });
});

describe('raw frames', () => {
  it('reads file-data as a 4-byte big-endian transfer id and the rest as data', () => {
    const payload = fromHex('ffffffff0102');
    const message = decodeServerMessage(FrameType.FileData, payload);
    expect(message).toStrictEqual({ type: 'file-data', transfer: 0xffffffff, data: Uint8Array.of(1, 2) });
    expect(decodeClientMessage(FrameType.FileData, fromHex('00000001'))).toStrictEqual({
      type: 'file-data',
      transfer: 1,
      data: new Uint8Array(0),
    });
    for (const short of ['', '00', '000000']) {
      expect(codeOf(() => decodeClientMessage(FrameType.FileData, fromHex(short)))).toBe('INVALID_MESSAGE');
    }
  });

  it('reads ping and pong payloads as opaque bytes, even when they are not UTF-8', () => {
    expect(decodeClientMessage(FrameType.Ping, fromHex('ff00'))).toStrictEqual({ type: 'ping', data: Uint8Array.of(0xff, 0) });
    expect(decodeServerMessage(FrameType.Pong, fromHex('c0af'))).toStrictEqual({ type: 'pong', data: Uint8Array.of(0xc0, 0xaf) });
  });

  it('reads an empty text payload as empty text', () => {
    expect(decodeServerMessage(FrameType.Text, new Uint8Array(0))).toStrictEqual({ type: 'text', text: '' });
  });
});

describe('JSON bodies', () => {
  it('reads an empty payload as {}', () => {
    expect(decodeClientMessage(FrameType.Rooms, new Uint8Array(0))).toStrictEqual({ type: 'rooms' });
    expect(decodeClientMessage(FrameType.Roster, new Uint8Array(0))).toStrictEqual({ type: 'roster' });
    // ...which is still checked: join needs a room.
    expect(codeOf(() => decodeClientMessage(FrameType.Join, new Uint8Array(0)))).toBe('INVALID_MESSAGE');
  });

  it.each(['[]', 'null', '"hi"', '42', 'true', '[{"room":"ops"}]'])('rejects %s where an object is needed', (json) => {
    expect(codeOf(() => decodeClientMessage(FrameType.Join, utf8(json)))).toBe('INVALID_MESSAGE');
  });

  it.each(['{', '{"room":}', "{'room':'ops'}", '{"room":"ops"} x', ' ', 'undefined', '{"a":1,}'])(
    'rejects %s as INVALID_JSON, with the parser error as cause',
    (json) => {
      try {
        decodeClientMessage(FrameType.Join, utf8(json));
        expect.unreachable();
      } catch (error) {
        expect((error as ProtocolError).code).toBe('INVALID_JSON');
        expect((error as ProtocolError).cause).toBeInstanceOf(SyntaxError);
      }
    },
  );

  it('ignores unknown fields, so later versions can add some', () => {
    expect(client('join', { room: 'ops', colour: 'red', nested: { deep: [1] } })).toStrictEqual({ type: 'join', room: 'ops' });
  });

  it('reads an optional field that is null as absent', () => {
    expect(client('hello', { v: 1, name: null, room: null, since: null })).toStrictEqual({ type: 'hello', v: 1 });
    expect(server('notice', { text: 'x', ts: 1, room: null, private: null, code: null })).toStrictEqual({
      type: 'notice',
      text: 'x',
      ts: 1,
    });
  });

  it('rejects a required field that is null or missing', () => {
    expect(codeOf(() => client('hello', { v: null }))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => client('private', { to: 'bob' }))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => server('error', { code: 'KICKED' }))).toBe('INVALID_MESSAGE');
  });

  it('rejects an optional field of the wrong type', () => {
    expect(codeOf(() => client('hello', { v: 1, name: 7 }))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => client('history', { limit: '50' }))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => client('history', { private: 'yes' }))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => server('notice', { text: 'x', ts: 1, private: 'yes' }))).toBe('INVALID_MESSAGE');
  });

  it('names the field at fault', () => {
    expect(() => client('hello', { v: -1 })).toThrow('v must be a non-negative integer');
    expect(() => server('roster', { room: 'r', members: [{ id: 'm1', name: 'a', transport: 'udp', address: 'x' }] })).toThrow(
      'members[0].transport must be one of tcp, ws',
    );
    expect(() => server('history', { entries: [{ kind: 'gossip' }], more: false })).toThrow('entries[0].kind');
  });

  it('takes ids, times and sizes as non-negative safe integers', () => {
    for (const bad of [-1, 1.5, 2 ** 53, '1', true]) {
      expect(
        codeOf(() => client('history', { before: bad })),
        String(bad),
      ).toBe('INVALID_MESSAGE');
    }
    expect(client('history', { before: 2 ** 53 - 1, after: 0, limit: 500 })).toStrictEqual({
      type: 'history',
      before: 2 ** 53 - 1,
      after: 0,
      limit: 500,
    });
  });

  it('reads -0 as plain 0, so a decoded number re-encodes to the same message', () => {
    const message = decodeClientMessage(FrameType.History, utf8('{"before":-0,"after":-0.0}'));
    expect(message).toStrictEqual({ type: 'history', before: 0, after: 0 });
    expect(Object.is((message as { before: number }).before, 0)).toBe(true);
    const offer = decodeClientMessage(FrameType.FileEnd, utf8('{"transfer":-0,"sha256":""}'));
    expect(Object.is((offer as { transfer: number }).transfer, 0)).toBe(true);
  });

  it('takes transfer ids as u32, as file-data carries them', () => {
    expect(client('file-end', { transfer: 0xffffffff, sha256: 'x' })).toMatchObject({ transfer: 0xffffffff });
    for (const bad of [-1, 2 ** 32, 0.5]) {
      expect(
        codeOf(() => client('file-abort', { transfer: bad })),
        String(bad),
      ).toBe('INVALID_MESSAGE');
    }
  });

  it('takes only known error codes in error, notice and file-abort', () => {
    expect(server('error', { code: 'NAME_TAKEN', message: 'm', fatal: false })).toStrictEqual({
      type: 'error',
      code: 'NAME_TAKEN',
      message: 'm',
      fatal: false,
    });
    expect(codeOf(() => server('error', { code: 'NOPE', message: 'm' }))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => server('error', { code: 'toString', message: 'm' }))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => server('notice', { text: 't', ts: 0, code: 'NOPE' }))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => server('file-abort', { transfer: 1, code: 'NOPE', reason: 'r' }))).toBe('INVALID_MESSAGE');
  });
});

describe('shapes of PROTOCOL.md', () => {
  // One full example per direction and type, with every optional field, from the spec's text.
  const member = { id: 'm2', name: 'bob', transport: 'ws', address: '127.0.0.1:50123', legacy: true };
  const clientExamples: AnyMessage[] = [
    { type: 'hello', v: 1, name: 'alice', room: 'lobby', since: 1234 },
    { type: 'message', room: 'ops', text: 'hi' },
    { type: 'private', to: 'bob', text: 'psst' },
    { type: 'roster', room: 'ops' },
    { type: 'join', room: 'ops' },
    { type: 'leave', room: 'ops' },
    { type: 'rooms' },
    { type: 'nick', name: 'alice2' },
    { type: 'history', room: 'ops', before: 10, after: 2, limit: 50 },
    { type: 'history', with: 'bob', private: true, before: 10, limit: 50 },
    { type: 'file-offer', transfer: 7, name: 'report.pdf', size: 48213, mime: 'application/pdf', room: 'ops', to: 'bob' },
    { type: 'file-end', transfer: 7, sha256: 'ab'.repeat(32) },
    { type: 'file-abort', transfer: 7, reason: 'cancelled' },
    { type: 'search', q: 'pump pressure', room: 'ops', before: 90, limit: 20 },
  ];
  const chat = { id: 42, room: 'lobby', from: 'alice', transport: 'tcp', ts: 1763769600000, text: 'hi' } as const;
  const priv = { id: 43, from: 'alice', to: 'bob', transport: 'ws', ts: 1763769600001, text: 'psst' } as const;
  const file = {
    id: 44,
    from: 'alice',
    transport: 'tcp',
    ts: 1,
    name: 'a.txt',
    size: 2,
    mime: 'text/plain',
    sha256: 'cd'.repeat(32),
    room: 'ops',
    to: 'bob',
  } as const;
  const serverExamples: AnyMessage[] = [
    {
      type: 'welcome',
      v: 1,
      id: 'm7',
      name: 'alice',
      room: 'lobby',
      rooms: ['lobby'],
      server: 'switchboard/0.1.0',
      maxFrameLength: 1048576,
      maxFileBytes: 52428800,
      heartbeatMs: 30000,
    },
    { type: 'message', ...chat },
    { type: 'private', ...priv },
    { type: 'presence', room: 'lobby', event: 'rename', member: { ...member, transport: 'ws' }, reason: 'left', previousName: 'bobby', ts: 5 },
    {
      type: 'roster',
      room: 'ops',
      members: [
        { ...member, transport: 'ws' },
        { id: 'm3', name: '127.0.0.1:5000', transport: 'tcp', address: '127.0.0.1:5000' },
      ],
    },
    { type: 'notice', text: 'maintenance at noon', ts: 9, room: 'lobby', private: true, code: 'SERVER_SHUTTING_DOWN' },
    { type: 'error', code: 'NAME_TAKEN', message: 'taken', fatal: true },
    { type: 'rooms', rooms: [{ name: 'lobby', members: 3 }] },
    {
      type: 'history',
      room: 'lobby',
      entries: [
        { kind: 'message', ...chat },
        { kind: 'private', ...priv },
        { kind: 'file', ...file },
      ],
      more: true,
    },
    { type: 'history', with: 'bob', private: true, entries: [{ kind: 'private', ...priv }], more: false },
    {
      type: 'file-offer',
      transfer: 90,
      id: 43,
      from: 'alice',
      transport: 'tcp',
      ts: 1,
      name: 'report.pdf',
      size: 48213,
      mime: 'application/pdf',
      room: 'ops',
      to: 'bob',
    },
    { type: 'file-end', transfer: 90, sha256: 'ab'.repeat(32) },
    { type: 'file-abort', transfer: 90, code: 'FILE_ABORTED', reason: 'sender left' },
    {
      type: 'search',
      q: 'pump',
      room: 'ops',
      entries: [
        { kind: 'message', ...chat },
        { kind: 'file', ...file },
      ],
      more: true,
    },
  ];

  it.each(clientExamples)('client $type survives encode and decode with every field', (message) => {
    const frame = encodeMessage(message);
    expect(decodeClientMessage(frame[4]!, frame.subarray(5))).toStrictEqual(message);
  });

  it.each(serverExamples)('server $type survives encode and decode with every field', (message) => {
    const frame = encodeMessage(message);
    expect(decodeServerMessage(frame[4]!, frame.subarray(5))).toStrictEqual(message);
  });

  it('has an example for every JSON type a side sends', () => {
    const json = Object.keys(messageTypeCode).filter((t) => !['text', 'file-data', 'ping', 'pong'].includes(t));
    const sent = new Set([...clientExamples, ...serverExamples].map((m) => m.type));
    expect(json.filter((t) => !sent.has(t as AnyMessage['type']))).toEqual([]);
  });

  it('drops fields a history entry of that kind does not have', () => {
    const entry = { kind: 'message', ...chat, sha256: 'x', mime: 'y' };
    expect(server('history', { entries: [entry], more: false })).toStrictEqual({
      type: 'history',
      entries: [{ kind: 'message', ...chat }],
      more: false,
    });
  });

  it('makes mime optional for a client file-offer and required for the server one', () => {
    expect(client('file-offer', { transfer: 1, name: 'a', size: 0 })).toStrictEqual({ type: 'file-offer', transfer: 1, name: 'a', size: 0 });
    const { mime: _omitted, ...withoutMime } = serverExamples.find((m) => m.type === 'file-offer') as { mime: string };
    expect(codeOf(() => server('file-offer', withoutMime))).toBe('INVALID_MESSAGE');
  });
});

describe('encoding', () => {
  it('builds N from the payload length, big-endian', () => {
    expect(toHex(encodeFrame(0x0b, new Uint8Array(0x0102 - 1)).subarray(0, 5))).toBe('000001020b');
    expect(toHex(encodeFrame(0x01, fromHex('cafe'), fromHex('00000007')))).toBe('000000070100000007cafe');
  });

  it('writes a JSON body without the type and without undefined fields', () => {
    const frame = encodeMessage({ type: 'message', room: undefined, text: 'hi' });
    expect(new TextDecoder().decode(frame.subarray(5))).toBe('{"text":"hi"}');
    expect(toHex(encodeMessage({ type: 'rooms' }))).toBe('000000030e7b7d');
  });

  it('refuses a type that is not a byte', () => {
    for (const bad of [-1, 256, 1.5, Number.NaN]) {
      expect(() => encodeFrame(bad, new Uint8Array(0)), String(bad)).toThrow(RangeError);
    }
    // A message type the encoder does not know used to come out as a type 0x00 text frame.
    expect(() => encodeMessage({ type: 'shout', text: 'hi' } as unknown as AnyMessage)).toThrow(RangeError);
  });

  it('refuses a file-data transfer id that does not fit 4 bytes, instead of wrapping it', () => {
    // 2^32 + 7 used to be written as transfer 7, and -1 as 4294967295.
    for (const bad of [2 ** 32 + 7, -1, 1.5, Number.NaN]) {
      expect(() => encodeMessage({ type: 'file-data', transfer: bad, data: new Uint8Array(1) }), String(bad)).toThrow(RangeError);
    }
    expect(toHex(encodeMessage({ type: 'file-data', transfer: 0xffffffff, data: new Uint8Array(0) }))).toBe('0000000501ffffffff');
  });
});

describe('isValidName', () => {
  it.each(['a', 'alice', 'Bob_2', 'x.y-z', 'Jürgen', 'Ωμέγα', '名前', '7', 'a'.repeat(32), '𝒜'.repeat(32)])('accepts %s', (name) => {
    expect(isValidName(name)).toBe(true);
  });

  // Invisible: U+3164 HANGUL FILLER and U+115F are letters, yet draw nothing (default-ignorable).
  it.each([
    '',
    'a'.repeat(33),
    'has space',
    'semi;colon',
    'new\nline',
    'tab\t',
    'emoji😀',
    'slash/',
    'colon:',
    '127.0.0.1:5000',
    '<b>',
    'a\u0000',
    'alice\u3164',
    '\u3164',
    'ali\u200Bce',
    'alice\uFE0F',
    '\u115Falice',
    'al\u00ADice',
  ])('rejects %j', (name) => {
    expect(isValidName(name)).toBe(false);
  });
});

describe('ProtocolError', () => {
  it('carries the code, the table text by default, and whether it is fatal', () => {
    const error = new ProtocolError('NAME_TAKEN');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ProtocolError');
    expect(error.code).toBe('NAME_TAKEN');
    expect(error.message).toBe(ErrorCodes.NAME_TAKEN);
    expect(error.fatal).toBe(false);
    expect(new ProtocolError('KICKED', 'bye').message).toBe('bye');
    expect(new ProtocolError('KICKED').fatal).toBe(true);
  });

  it('knows its codes', () => {
    for (const code of Object.keys(ErrorCodes)) expect(isErrorCode(code)).toBe(true);
    for (const code of FATAL_ERROR_CODES) expect(isErrorCode(code)).toBe(true);
    for (const other of ['', 'nope', 'toString', '__proto__', 'hasOwnProperty', 42, null, undefined]) {
      expect(isErrorCode(other)).toBe(false);
    }
  });
});
