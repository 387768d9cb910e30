// The byte vectors of test/vectors.json drive encode, decode and error tests.
import { describe, expect, it } from 'vitest';
import { FrameDecoder, decodeClientMessage, decodeServerMessage, encodeMessage, isErrorCode, type AnyMessage } from '../src/index.js';
import { toHex } from './bytes.js';
import { errorVectors, frameVectors, type Direction } from './vectors.js';
import { protocolErrorOf } from './protocol-error.js';

function decodeAll(bytes: Uint8Array, direction: Direction): AnyMessage[] {
  const decode = direction === 'client' ? decodeClientMessage : decodeServerMessage;
  const messages: AnyMessage[] = [];
  const decoder = new FrameDecoder((type, payload) => messages.push(decode(type, payload)));
  decoder.push(bytes);
  expect(decoder.midFrame).toBe(false);
  return messages;
}

describe('frame vectors', () => {
  it('cover both directions and every raw frame kind', () => {
    const types = new Set(frameVectors.map((v) => v.message.type));
    for (const type of ['text', 'file-data', 'ping', 'pong', 'hello', 'welcome', 'message', 'error']) {
      expect(types).toContain(type);
    }
    expect(new Set(frameVectors.map((v) => v.direction))).toEqual(new Set(['client', 'server']));
  });

  describe.each(frameVectors)('$name ($direction)', ({ message, bytes, direction }) => {
    it('encodes to exactly the vector bytes', () => {
      expect(toHex(encodeMessage(message))).toBe(toHex(bytes));
    });

    it('decodes back to the message', () => {
      expect(decodeAll(bytes, direction)).toStrictEqual([message]);
    });
  });
});

describe('error vectors', () => {
  describe.each(errorVectors)('$name', ({ bytes, code, direction }) => {
    it(`is rejected with ${code}`, () => {
      expect(isErrorCode(code)).toBe(true);
      const decode = direction === 'client' ? decodeClientMessage : decodeServerMessage;
      let frames = 0;
      const decoder = new FrameDecoder((type, payload) => {
        frames++;
        decode(type, payload);
      });
      const error = protocolErrorOf(() => decoder.push(bytes));
      expect(error.code).toBe(code);
      if (code === 'FRAME_EMPTY' || code === 'FRAME_TOO_LARGE') {
        // Framing errors come from the decoder itself, on the length prefix alone.
        expect(frames).toBe(0);
        expect(bytes.length).toBe(4);
      } else {
        // Content errors: the frame was read whole and the decoder is ready for the next one.
        expect(frames).toBe(1);
        expect(decoder.midFrame).toBe(false);
      }
    });
  });
});
