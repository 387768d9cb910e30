import { FrameType } from '@switchboard/protocol';
import type { Member, Room } from './member.js';

/**
 * How long after a join its history and the room's live traffic may overlap: a message another
 * gateway stored (and this one read up for the join) is published only after its store is
 * confirmed (a replica's WAIT: at most --cluster-timeout-ms), so its live copy can come after
 * the join's history held it. Bounded so the room's messages are not looked into for long.
 */
export const JOIN_OVERLAP_MS = 10_000;

/** What a member's join gave it: the room's history up to `upTo`, whose live copies it is not sent until `until`. */
export interface JoinOverlap {
  upTo: number;
  until: number;
}

/** The join gave `member` the room's history up to id `upTo` (ids increase within a room): live copies of those are not sent to it. */
export function gaveHistoryUpTo(room: Room, member: Member, upTo: number, now: number): void {
  const overlaps = (room.joinOverlaps ??= new Map());
  overlaps.set(member, { upTo, until: now + JOIN_OVERLAP_MS });
}

/**
 * The members of `room` that have `frame` already (a room message whose id their join's history
 * held), or undefined; joins older than JOIN_OVERLAP_MS are forgotten as messages pass.
 */
export function alreadyGiven(room: Room, frame: Uint8Array, now: number): Set<Member> | undefined {
  const overlaps = room.joinOverlaps;
  if (overlaps === undefined || overlaps.size === 0 || frame[4] !== FrameType.Message) return undefined;
  const id = messageId(frame);
  let given: Set<Member> | undefined;
  for (const [member, overlap] of overlaps) {
    if (now > overlap.until) overlaps.delete(member);
    else if (id !== undefined && id <= overlap.upTo) (given ??= new Set()).add(member);
  }
  return given;
}

const ID_PREFIX = '{"id":';

/** A message frame's id: its JSON starts with it (chat-messages.ts puts it first after `type`, which the codec leaves out), else the JSON is read. */
function messageId(frame: Uint8Array): number | undefined {
  let at = 5;
  for (let i = 0; i < ID_PREFIX.length; i++, at++) if (frame[at] !== ID_PREFIX.charCodeAt(i)) return idFromJson(frame);
  let id = 0;
  let digits = 0;
  for (; at < frame.length && frame[at]! >= 0x30 && frame[at]! <= 0x39; at++, digits++) id = id * 10 + frame[at]! - 0x30;
  return digits > 0 && (frame[at] === 0x2c || frame[at] === 0x7d) ? id : idFromJson(frame);
}

function idFromJson(frame: Uint8Array): number | undefined {
  try {
    const id = (JSON.parse(new TextDecoder().decode(frame.subarray(5))) as { id?: unknown }).id;
    return typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}
