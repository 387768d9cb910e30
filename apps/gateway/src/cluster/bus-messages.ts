/**
 * The cluster's messages as they travel between nodes: the kinds, what each carries, and the
 * envelope around them. Any transport that moves bytes from one node to others carries them
 * (Redis pub/sub today); nothing here knows which.
 */
import type { AdminAction, CarriedEntry, ForwardedCall, MemberRecord, RoomEventOrigin } from './cluster.js';
import type { IdentityChange } from '../identity/shared-identity.js';

/** Every kind of message, by what it is for (the `k` of its header). */
export const BusKind = {
  /** Something said in a room: to the nodes serving that room. */
  Room: 'room',
  /** Several things said in one room, published together (one turn's): to the nodes serving that room. */
  Rooms: 'rooms',
  /** A frame for one member: to its node. */
  Member: 'member',
  /** A member's directory record, added or changed: to every node. */
  Put: 'put',
  /** A member left: to every node. */
  Remove: 'remove',
  /** All of one node's records (after it joined or Redis came back): to every node. */
  Sync: 'sync',
  /** A node stopped answering and was swept: to every node. */
  Lost: 'lost',
  /** An operator's action on a member, asked of its node (answered). */
  Admin: 'admin',
  /** An operator's notice, asked of each node (answered with how many it reached). */
  Announce: 'announce',
  /** A REST call run on another node (answered with its reply). */
  Call: 'call',
  /** Accounts, bans, tokens or room settings changed: to every node. */
  Identity: 'identity',
  /** The answer to an ask, to the node that asked. */
  Answer: 'answer',
} as const;
export type BusKind = (typeof BusKind)[keyof typeof BusKind];

/** What travels: a small JSON header, then a frame's bytes where there is one. */
export type Header =
  | {
      k: 'room';
      from: string;
      room: string;
      legacyText?: string | undefined;
      except?: string | undefined;
      origin?: RoomEventOrigin | undefined;
      log?: CarriedEntry | undefined;
    }
  /** The payload is the events' frames one after the other, `n` bytes each. */
  | { k: 'rooms'; from: string; room: string; events: BatchedEvent[] }
  | { k: 'put'; from: string; record: MemberRecord }
  | { k: 'remove'; from: string; id: string }
  | { k: 'sync'; from: string; records: MemberRecord[] }
  | { k: 'lost'; from: string; node: string }
  | { k: 'member'; from: string; to: string; legacyText?: string | undefined }
  | { k: 'admin'; from: string; ask: number; action: AdminAction }
  | { k: 'announce'; from: string; ask: number; text: string }
  | { k: 'call'; from: string; ask: number; call: ForwardedCall }
  | { k: 'identity'; from: string; change: IdentityChange }
  | { k: 'answer'; from: string; ask: number; value: unknown };

/** One event of a `rooms` message: its frame's length in the payload, and what a `room` message's header says. */
export interface BatchedEvent {
  n: number;
  legacyText?: string | undefined;
  except?: string | undefined;
  origin?: RoomEventOrigin | undefined;
  /** On a Redis Cluster, a message's history entry and where it sits in the room's stream (cluster.ts, CarriedEntry). */
  log?: CarriedEntry | undefined;
}

/** The messages that ask for an answer, without their ask id (the protocol adds it). */
export type Question = DistributiveOmit<Extract<Header, { ask: number }>, 'ask' | 'from'> & { k: 'admin' | 'announce' | 'call' };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * [u8 n][n bytes: sending node][u32 m][m bytes: header JSON][payload]: the sender comes first,
 * so a node drops its own echoes (it hears what it sends to rooms it serves) without parsing.
 */
export function envelope(header: Header, payload?: Uint8Array | readonly Uint8Array[]): Buffer {
  const from = Buffer.from(header.from);
  const json = Buffer.from(JSON.stringify(header));
  // A batch's frames are copied once, straight into the message.
  const parts = payload === undefined ? [] : payload instanceof Uint8Array ? [payload] : payload;
  let length = 1 + from.length + 4 + json.length;
  for (const part of parts) length += part.length;
  const out = Buffer.allocUnsafe(length);
  out[0] = from.length;
  from.copy(out, 1);
  out.writeUInt32BE(json.length, 1 + from.length);
  json.copy(out, 5 + from.length);
  let at = 5 + from.length + json.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function senderOf(message: Buffer): string {
  return message.toString('latin1', 1, 1 + message[0]!);
}

export function openEnvelope(message: Buffer): { header: Header; payload: Uint8Array } {
  const at = 1 + message[0]!;
  const length = message.readUInt32BE(at);
  return { header: JSON.parse(message.toString('utf8', at + 4, at + 4 + length)) as Header, payload: message.subarray(at + 4 + length) };
}
