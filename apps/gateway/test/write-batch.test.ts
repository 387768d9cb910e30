import { describe, expect, it } from 'vitest';
import { JoinCache, joinStream, joinWebSocket, webSocketHeader } from '../src/transports/write-batch.js';

describe('write batches', () => {
  it('builds RFC 6455 headers for unmasked binary frames at each length boundary', () => {
    expect([...webSocketHeader(0)]).toEqual([0x82, 0]);
    expect([...webSocketHeader(125)]).toEqual([0x82, 125]);
    expect([...webSocketHeader(126)]).toEqual([0x82, 126, 0, 126]);
    expect([...webSocketHeader(65535)]).toEqual([0x82, 126, 0xff, 0xff]);
    expect([...webSocketHeader(65536)]).toEqual([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  });

  it('joins once and shares the result while the frames are the same objects', () => {
    const a = Uint8Array.of(1, 2);
    const b = Uint8Array.of(3);
    const stream = new JoinCache(joinStream);
    const first = stream.get([a, b]);
    expect([...first]).toEqual([1, 2, 3]);
    expect(stream.get([a, b])).toBe(first); // same frames: the same buffer, no copy
    expect(stream.get([b, a])).not.toBe(first);
    expect(joinStream([a])).toBe(a); // a single frame is written as it is
    const webSocket = new JoinCache(joinWebSocket);
    const ws = webSocket.get([a, b]);
    expect([...ws]).toEqual([0x82, 2, 1, 2, 0x82, 1, 3]);
    expect(webSocket.get([a, b])).toBe(ws);
  });
});
