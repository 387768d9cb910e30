import { describe, expect, it } from 'vitest';
import { SharedBatch, webSocketHeader } from '../src/hub/flush-scheduler.js';

describe('SharedBatch', () => {
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
    const batch = new SharedBatch();
    const first = batch.join([a, b]);
    expect([...first]).toEqual([1, 2, 3]);
    expect(batch.join([a, b])).toBe(first); // same frames: the same buffer, no copy
    expect(batch.join([b, a])).not.toBe(first);
    expect(batch.join([a])).toBe(a); // a single frame is written as it is
    const ws = batch.joinWebSocket([a, b]);
    expect([...ws]).toEqual([0x82, 2, 1, 2, 0x82, 1, 3]);
    expect(batch.joinWebSocket([a, b])).toBe(ws);
  });
});
