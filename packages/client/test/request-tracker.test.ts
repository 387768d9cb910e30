// The request tracker on its own: replies and errors settle the request whose ref they carry.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServerMessage } from '@switchboard/protocol';
import { RequestTracker, pingData, pongRef } from '../src/request-tracker.js';

const roster = (ref?: string): ServerMessage => ({ type: 'roster', room: 'ops', members: [], ...(ref ? { ref } : {}) });
const history = (ref?: string): ServerMessage => ({ type: 'history', room: 'ops', entries: [], more: false, ...(ref ? { ref } : {}) });
const presence = (ref?: string): ServerMessage => ({
  type: 'presence',
  room: 'ops',
  event: 'rename',
  member: { id: 'm1', name: 'a', transport: 'tcp', address: '127.0.0.1:1' },
  ts: 1,
  ...(ref ? { ref } : {}),
});

afterEach(() => {
  vi.useRealTimers();
});

describe('RequestTracker', () => {
  it('hands out refs that are never reused', () => {
    const tracker = new RequestTracker(1000);
    const refs = Array.from({ length: 1000 }, () => tracker.nextRef());
    expect(new Set(refs).size).toBe(1000);
  });

  it('collects the replies a request expects, in order, and ignores other types with its ref', async () => {
    const tracker = new RequestTracker(1000);
    const joined = tracker.track('1', 'join', ['roster', 'history']);
    expect(tracker.reply('1', presence('1'))).toBe(false); // The join's own presence is not a reply.
    expect(tracker.reply('1', history('1'))).toBe(false); // Not yet: the roster comes first.
    expect(tracker.reply('1', roster('1'))).toBe(true);
    expect(tracker.reply('1', history('1'))).toBe(true);
    await expect(joined).resolves.toEqual([roster('1'), history('1')]);
    expect(tracker.size).toBe(0);
  });

  it('settles each request by its own ref whatever the order of the answers', async () => {
    const tracker = new RequestTracker(1000);
    const first = tracker.track('1', 'roster', ['roster']);
    const second = tracker.track('2', 'roster', ['roster']);
    const failed = tracker.track('3', 'roster', ['roster']);
    expect(tracker.fail('3', new Error('NOT_IN_ROOM'))).toBe(true);
    expect(tracker.reply('2', roster('2'))).toBe(true);
    expect(tracker.reply('1', roster('1'))).toBe(true);
    await expect(first).resolves.toEqual([roster('1')]);
    await expect(second).resolves.toEqual([roster('2')]);
    await expect(failed).rejects.toThrow('NOT_IN_ROOM');
  });

  it('accepts any of several types for one reply', async () => {
    const tracker = new RequestTracker(1000);
    const nick = tracker.track('1', 'nick', [['presence', 'notice']]);
    expect(tracker.reply('1', { type: 'notice', text: 'renamed', ts: 1, ref: '1' })).toBe(true);
    await expect(nick).resolves.toHaveLength(1);
  });

  it('leaves unknown refs alone: late replies, other requests, errors of requests nobody waits for', () => {
    const tracker = new RequestTracker(1000);
    expect(tracker.reply('9', roster('9'))).toBe(false);
    expect(tracker.fail('9', new Error('x'))).toBe(false);
  });

  it('times out, and a reply after that is not taken', async () => {
    vi.useFakeTimers();
    const tracker = new RequestTracker(500);
    const rooms = tracker.track('1', 'rooms', ['rooms']);
    const settled = expect(rooms).rejects.toMatchObject({ name: 'ClientError', code: 'TIMEOUT', message: 'No reply to rooms within 500 ms.' });
    vi.advanceTimersByTime(500);
    await settled;
    expect(tracker.reply('1', { type: 'rooms', rooms: [], ref: '1' })).toBe(false);
  });

  it('ends a request when its signal aborts, and every request on rejectAll', async () => {
    const tracker = new RequestTracker(1000);
    const controller = new AbortController();
    const offer = tracker.track('1', 'file-offer', ['file-offer'], controller.signal);
    const other = tracker.track('2', 'rooms', ['rooms']);
    controller.abort(new Error('cancelled'));
    await expect(offer).rejects.toThrow('cancelled');
    await expect(tracker.track('3', 'file-end', ['file-end'], controller.signal)).rejects.toThrow('cancelled');
    tracker.rejectAll(new Error('closed'));
    await expect(other).rejects.toThrow('closed');
    expect(tracker.size).toBe(0);
  });

  it("carries a ping's ref in its 4-byte payload and reads it back from the pong", () => {
    const tracker = new RequestTracker(1000);
    tracker.nextRef();
    const ref = tracker.nextRef();
    expect(pingData(ref)).toEqual(new Uint8Array([0, 0, 0, 2]));
    expect(pongRef(pingData(ref))).toBe(ref);
    expect(pongRef(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });
});
