import { encodeMessage } from '@switchboard/protocol';
import { describe, expect, it } from 'vitest';
import { JOIN_OVERLAP_MS, alreadyGiven, gaveHistoryUpTo } from '../src/hub/join-overlap.js';
import type { Member, Room } from '../src/hub/member.js';

/** Only identity matters to join-overlap.ts: members are map keys. */
const member = (id: string): Member => ({ id }) as unknown as Member;
const room = (): Room => ({ name: 'hall', members: new Set(), createdAt: 0 });
const message = (id: number, text = 'hi'): Uint8Array => encodeMessage({ type: 'message', id, room: 'hall', from: 'ann', transport: 'tcp', ts: 1, text });

describe('join overlap: what a join’s history gave a member is not sent to it again live', () => {
  it('skips the joiner for ids up to what its history held, not others, not later ids', () => {
    const hall = room();
    const [joiner, other] = [member('a.m1'), member('a.m2')];
    gaveHistoryUpTo(hall, joiner, 1000, 0);
    expect(alreadyGiven(hall, message(999), 10)).toEqual(new Set([joiner]));
    expect(alreadyGiven(hall, message(1000), 10)).toEqual(new Set([joiner]));
    expect(alreadyGiven(hall, message(1001), 10)).toBeUndefined();
    expect(alreadyGiven(hall, message(999), 10)?.has(other)).toBe(false);
  });

  it('reads the id of a frame whose JSON does not start with it, and ignores frames that are not room messages', () => {
    const hall = room();
    const joiner = member('a.m1');
    gaveHistoryUpTo(hall, joiner, 50, 0);
    const reordered = encodeMessage({ type: 'message', room: 'hall', id: 40, from: 'ann', transport: 'tcp', ts: 1, text: '{"id":99}' } as never);
    expect(alreadyGiven(hall, reordered, 1)).toEqual(new Set([joiner]));
    expect(alreadyGiven(hall, encodeMessage({ type: 'notice', text: 'x', ts: 1 }), 1)).toBeUndefined();
  });

  it('forgets a join once the overlap has passed', () => {
    const hall = room();
    const joiner = member('a.m1');
    gaveHistoryUpTo(hall, joiner, 1000, 0);
    expect(alreadyGiven(hall, message(5), JOIN_OVERLAP_MS + 1)).toBeUndefined();
    expect(hall.joinOverlaps?.size).toBe(0);
  });
});
