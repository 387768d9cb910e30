import { FrameType } from '@switchboard/protocol';
import { describe, expect, it } from 'vitest';
import type { Delivery } from '../src/delivery/delivery.js';
import { InputGate, isPipelined } from '../src/hub/input-gate.js';
import type { Member } from '../src/hub/member.js';

/**
 * A gate over a fake member and delivery. Each frame carries its number in its first byte;
 * `send(type, n, true)` makes its handler wait until `finish(n)`. `log` has the frames handled
 * and the holds and unholds, in the order they happened.
 */
function gate() {
  const log: (number | 'hold' | 'unhold')[] = [];
  let holds = 0;
  const delivery = {
    hold: () => (holds++, log.push('hold')),
    unhold: () => (holds--, log.push('unhold')),
  } as unknown as Delivery;
  // As a member starts: no input state until something waits.
  const member = { input: undefined, isClosed: false } as unknown as Member;
  const waiting = new Set<number>();
  const finishers = new Map<number, () => void>();
  const input: InputGate = new InputGate(
    delivery,
    (m, type, frame) => {
      const n = (frame as Uint8Array)[0]!;
      log.push(n);
      input.run(m, () => (waiting.has(n) ? new Promise<void>((resolve) => finishers.set(n, resolve)) : undefined), undefined, isPipelined(type));
    },
    () => undefined,
  );
  return {
    log,
    member,
    holds: () => holds,
    send(type: number, n: number, waits = false) {
      if (waits) waiting.add(n);
      input.receive(member, type, Uint8Array.of(n));
    },
    async finish(n: number) {
      finishers.get(n)!();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('input gate', () => {
  it('holds what follows a request that waits (a name claim), replays it in order, and only then resumes input', async () => {
    const g = gate();
    g.send(FrameType.Nick, 1, true);
    g.send(FrameType.Message, 2);
    g.send(FrameType.Join, 3);
    expect(g.log).toEqual([1, 'hold']);
    await g.finish(1);
    expect(g.log).toEqual([1, 'hold', 2, 3, 'unhold']);
    expect(g.holds()).toBe(0);
  });

  it('lets chat messages follow messages still being stored; anything else waits for all of them, and what comes after it too', async () => {
    const g = gate();
    g.send(FrameType.Message, 1, true);
    g.send(FrameType.Text, 2, true);
    g.send(FrameType.Private, 3, true);
    expect(g.log).toEqual([1, 2, 3]);
    g.send(FrameType.Join, 4);
    g.send(FrameType.Message, 5);
    expect(g.log).toEqual([1, 2, 3, 'hold']);
    await g.finish(1);
    await g.finish(3);
    expect(g.log).toEqual([1, 2, 3, 'hold']);
    await g.finish(2);
    expect(g.log).toEqual([1, 2, 3, 'hold', 4, 5, 'unhold']);
    expect(g.holds()).toBe(0);
  });

  it('stores at most 64 messages of a member at once; the next waits until all of them are stored', async () => {
    const g = gate();
    for (let n = 1; n <= 64; n++) g.send(FrameType.Message, n, true);
    g.send(FrameType.Message, 65);
    expect(g.log.at(-1)).toBe('hold');
    expect(g.log).not.toContain(65);
    for (let n = 1; n < 64; n++) await g.finish(n);
    expect(g.log).not.toContain(65);
    await g.finish(64);
    expect(g.log.slice(-2)).toEqual([65, 'unhold']);
    expect(g.holds()).toBe(0);
  });

  it('a replayed frame that waits again holds the rest behind it', async () => {
    const g = gate();
    g.send(FrameType.Nick, 1, true);
    g.send(FrameType.Nick, 2, true);
    g.send(FrameType.Message, 3);
    await g.finish(1);
    expect(g.log).toEqual([1, 'hold', 2, 'hold', 'unhold']);
    expect(g.holds()).toBe(1);
    await g.finish(2);
    expect(g.log).toEqual([1, 'hold', 2, 'hold', 'unhold', 3, 'unhold']);
    expect(g.holds()).toBe(0);
  });

  it("keeps a member's input state only while something waits: made at the first wait, let go after, made again at the next", async () => {
    const g = gate();
    g.send(FrameType.Message, 1);
    expect(g.member.input).toBeUndefined(); // nothing waited: nothing made
    g.send(FrameType.Nick, 2, true);
    g.send(FrameType.Message, 3);
    expect(g.member.input?.held).toHaveLength(1);
    await g.finish(2);
    expect(g.member.input).toBeUndefined();
    // Stores in flight keep it (their count is on it); the last one done lets it go.
    g.send(FrameType.Message, 4, true);
    g.send(FrameType.Message, 5, true);
    expect(g.member.input?.storing).toBe(2);
    await g.finish(4);
    expect(g.member.input?.storing).toBe(1);
    g.send(FrameType.Join, 6);
    await g.finish(5);
    expect(g.member.input).toBeUndefined();
    // After all that, a wait works as the first one did.
    g.send(FrameType.Nick, 7, true);
    g.send(FrameType.Join, 8);
    await g.finish(7);
    expect(g.log).toEqual([1, 2, 'hold', 3, 'unhold', 4, 5, 'hold', 6, 'unhold', 7, 'hold', 8, 'unhold']);
    expect(g.holds()).toBe(0);
    expect(g.member.input).toBeUndefined();
  });
});
