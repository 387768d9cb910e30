import type { ClientMessage, ServerMessage } from '@switchboard/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestTracker, type RequestChannel } from '../src/lib/requests.js';

/** A connection without a socket: records what is sent, and delivers frames on demand. */
class FakeChannel implements RequestChannel {
  open = true;
  sent: ClientMessage[] = [];
  #messages = new Set<(message: ServerMessage) => void>();
  #closes = new Set<() => void>();

  send(message: ClientMessage): boolean {
    if (!this.open) return false;
    this.sent.push(message);
    return true;
  }
  onMessage(listener: (message: ServerMessage) => void): () => void {
    this.#messages.add(listener);
    return () => this.#messages.delete(listener);
  }
  onClose(listener: () => void): () => void {
    this.#closes.add(listener);
    return () => this.#closes.delete(listener);
  }
  deliver(message: ServerMessage): void {
    for (const listener of this.#messages) listener(message);
  }
  close(): void {
    this.open = false;
    for (const listener of this.#closes) listener();
  }
  refOf(index: number): string {
    const ref = (this.sent[index] as { ref?: string }).ref;
    if (ref === undefined) throw new Error(`request ${index} has no ref`);
    return ref;
  }
}

const rooms = (ref?: string): ServerMessage => ({ type: 'rooms', rooms: [], ...(ref === undefined ? {} : { ref }) });
const error = (code: 'NOT_IN_ROOM' | 'KICKED', ref?: string): ServerMessage => ({
  type: 'error',
  code,
  message: code,
  ...(ref === undefined ? {} : { ref }),
});

describe('RequestTracker', () => {
  let channel: FakeChannel;
  let tracker: RequestTracker;

  beforeEach(() => {
    vi.useFakeTimers();
    channel = new FakeChannel();
    tracker = new RequestTracker(channel);
  });
  afterEach(() => {
    tracker.dispose();
    vi.useRealTimers();
  });

  it('gives every request its own ref', () => {
    tracker.send({ type: 'rooms' });
    tracker.send({ type: 'leave', room: 'ops' });
    expect(channel.sent).toEqual([
      { type: 'rooms', ref: 'r1' },
      { type: 'leave', room: 'ops', ref: 'r2' },
    ]);
  });

  it('hands a reply to the request whose ref it carries, and only to it', () => {
    const first = vi.fn(() => true);
    const second = vi.fn(() => true);
    tracker.send({ type: 'rooms' }, { reply: first });
    tracker.send({ type: 'rooms' }, { reply: second });
    channel.deliver(rooms(channel.refOf(1)));
    expect(second).toHaveBeenCalledOnce();
    expect(first).not.toHaveBeenCalled();
    expect(tracker.pending).toBe(1);
  });

  it('keeps a request open while its reply handler expects more', () => {
    const seen: string[] = [];
    tracker.send(
      { type: 'join', room: 'ops' },
      {
        reply: (message) => {
          seen.push(message.type);
          return message.type === 'history';
        },
      },
    );
    const ref = channel.refOf(0);
    channel.deliver({ type: 'roster', room: 'ops', members: [], ref });
    expect(tracker.pending).toBe(1);
    channel.deliver({ type: 'history', room: 'ops', entries: [], more: false, ref });
    expect(seen).toEqual(['roster', 'history']);
    expect(tracker.pending).toBe(0);
  });

  it('hands an error with a ref to its request, not to the unmatched listeners', () => {
    const failed = vi.fn();
    const unmatched = vi.fn();
    tracker.onUnmatched(unmatched);
    tracker.send({ type: 'leave', room: 'ops' }, { error: failed });
    channel.deliver(error('NOT_IN_ROOM', channel.refOf(0)));
    expect(failed).toHaveBeenCalledWith(expect.objectContaining({ code: 'NOT_IN_ROOM' }));
    expect(unmatched).not.toHaveBeenCalled();
    expect(tracker.pending).toBe(0);
  });

  it('passes on errors without a ref, or with a ref nobody waits for', () => {
    const unmatched = vi.fn();
    tracker.onUnmatched(unmatched);
    tracker.send({ type: 'rooms' }, { error: vi.fn() });
    channel.deliver(error('KICKED'));
    channel.deliver(error('NOT_IN_ROOM', 'r99'));
    expect(unmatched.mock.calls.map(([m]) => (m as { ref?: string }).ref)).toEqual([undefined, 'r99']);
    expect(tracker.pending).toBe(1);
  });

  it('passes on a late reply whose request already timed out, and frames without a ref are not its business', () => {
    const unmatched = vi.fn();
    const lost = vi.fn();
    tracker.onUnmatched(unmatched);
    tracker.send({ type: 'rooms' }, { lost, timeoutMs: 1000 });
    vi.advanceTimersByTime(1000);
    expect(lost).toHaveBeenCalledWith('timeout');
    channel.deliver(rooms('r1'));
    channel.deliver(rooms());
    expect(unmatched).toHaveBeenCalledOnce();
  });

  it('tells every pending request when the connection closes', () => {
    const lost = vi.fn();
    tracker.send({ type: 'rooms' }, { lost });
    tracker.send({ type: 'rooms' }, { lost });
    channel.close();
    expect(lost.mock.calls).toEqual([['closed'], ['closed']]);
    expect(tracker.pending).toBe(0);
    vi.runAllTimers();
    expect(lost).toHaveBeenCalledTimes(2);
  });

  it('returns null and remembers nothing when the socket is not open', () => {
    channel.open = false;
    expect(tracker.send({ type: 'rooms' }, { lost: vi.fn() })).toBeNull();
    expect(tracker.pending).toBe(0);
  });

  it('forgets a request on demand: its handlers never run', () => {
    const reply = vi.fn(() => true);
    const lost = vi.fn();
    const ref = tracker.send({ type: 'rooms' }, { reply, lost })!;
    tracker.forget(ref);
    channel.deliver(rooms(ref));
    vi.runAllTimers();
    expect(reply).not.toHaveBeenCalled();
    expect(lost).not.toHaveBeenCalled();
  });
});
