import type { MemberInfo } from '@switchboard/protocol';
import type { NewHistoryEntry } from '../history/history-store.js';
import type { SharedIdentity } from '../identity/shared-identity.js';
import type { LogStream } from './history-keys.js';

/**
 * The cluster seam: everything a hub needs to know or reach beyond its own members. One node
 * uses the in-process implementation (in-process-cluster.ts); several nodes share one
 * implementation (the same in-process one in tests, Redis later), and the contract suite in
 * apps/gateway/test/cluster-contract.test.ts runs the same scenarios against either.
 */
export interface ClusterNode {
  /** This node's id, in logs and in member records. */
  readonly nodeId: string;
  readonly names: NameClaims;
  readonly directory: MemberDirectory;
  readonly ids: IdAllocator;
  readonly bus: ClusterBus;
  readonly log: MessageLog;
  /** Accounts, bans and tokens shared by every node (absent: a single gateway keeps its own). */
  readonly identity?: SharedIdentity | undefined;
  /** Messages this node received from the other nodes' bus and sent to it (absent in one process: there is no bus). */
  readonly busTraffic?: { readonly in: number; readonly out: number };
  /** Whether the cluster takes messages now (false while Redis is unreachable), and why not. */
  status(): { ok: boolean; detail?: string };
  close(): Promise<void>;
}

/** Names are unique across the cluster, ignoring case. */
export interface NameClaims {
  /** Claims `name` for member `owner`; false when another member holds it. Claiming your own name again is true. */
  claim(name: string, owner: string): Promise<boolean>;
  /** Frees `name` when `owner` holds it. */
  release(name: string, owner: string): void;
}

/** Where a member lives and what the others see of it. */
export interface MemberRecord extends MemberInfo {
  node: string;
  /** Rooms in the order joined. */
  rooms: string[];
  /** Whom its private history belongs to (never shown to members). */
  identity: string;
  /** When it connected (ms since the epoch). */
  connectedAt: number;
}

/** What members see of a record: its MemberInfo, without where it lives or whose it is. */
export function memberInfoOf({ id, name, transport, address, legacy, device }: MemberRecord): MemberInfo {
  const info: MemberInfo = { id, name, transport, address };
  if (legacy !== undefined) info.legacy = legacy;
  if (device !== undefined) info.device = device;
  return info;
}

/**
 * Every joined member of the cluster. Reads are synchronous: each node holds a replica that
 * the implementation keeps current (the in-process one shares a single map).
 */
export interface MemberDirectory {
  /**
   * Adds or replaces a member's record (on join, rename, room change). Over Redis a promise that
   * settles once the shared state holds it (or that failed: logged; the resync makes it good).
   */
  put(record: MemberRecord): void | Promise<void>;
  /**
   * A member by name asked of the shared state, for a name this node's replica does not know (yet):
   * the other nodes' changes reach it unordered with what they answered. Absent in one process.
   */
  lookup?(name: string): Promise<MemberRecord | undefined>;
  remove(id: string): void;
  get(id: string): MemberRecord | undefined;
  byName(name: string): MemberRecord | undefined;
  /** Members of a room on every node, in the order they joined the cluster. */
  inRoom(room: string): MemberRecord[];
  all(): Iterable<MemberRecord>;
}

/** Ids unique across the cluster. */
export interface IdAllocator {
  /** A connection id (`m7`; `b.m7` on node b of a Redis cluster): the REST API's client id, in welcome and rosters. */
  memberId(): string;
}

/** What the log carries: an entry under its id, or a file's checksum once the file is whole. */
export type LogRecord = { id: number; ts: number; entry: NewHistoryEntry } | { id: number; sha256: string };

/**
 * The cluster's record of what was said. `append` gives an entry its message id (unique across
 * rooms and nodes, never reused; increasing within a room or private conversation, and across
 * rooms too except on a Redis Cluster, where each slot counts its own: history-keys.ts) and returns once the entry is as durable as the
 * cluster makes it; another node's `follow` handler gets it, in id order within a room, for its
 * own replica of the history: in process every node does; over Redis only the nodes that serve
 * its room (or, for a private entry, a member of either side). In process it answers at once;
 * over Redis it is a promise, which rejects with CLUSTER_UNAVAILABLE when the entry could not be
 * stored.
 */
export interface MessageLog {
  append(entry: NewHistoryEntry, ts: number): number | Promise<number>;
  completeFile(id: number, sha256: string): void;
  /**
   * What other nodes logged, for this node's history replica. `highest` says the highest id
   * the replica holds of a room (or of an identity's private conversations): a node that starts
   * serving one reads the log from there.
   */
  follow(handler: (record: LogRecord) => void, highest?: (stream: LogStream) => number): void;
  /**
   * Brings this node's replica of a room it may not serve up to date, once (a REST reader's
   * room): absent where every node holds every room.
   */
  readUp?(stream: LogStream): Promise<void>;
  /**
   * This node serves a room or an identity now: what it lacks is read first. Resolves once it is
   * read up (at once when it was already); absent where every node holds everything.
   */
  serve?(stream: LogStream): Promise<void>;
  /** A served stream whose read-up failed (its shard failing over): what this node keeps of it may lack entries. */
  behind?(stream: LogStream): boolean;
  /** Reads a `behind` stream on now; rejects (CLUSTER_UNAVAILABLE) when it cannot be read. */
  catchUp?(stream: LogStream): Promise<void>;
}

/** Something said in a room, for the members of that room on other nodes. */
export interface RoomEvent {
  room: string;
  /** The structured frame, encoded once for every protocol member (may be a getter that encodes it on first use). */
  frame: Uint8Array;
  /** The type-0 line for plain devices; absent when they get nothing (file frames). */
  legacyText?: string | undefined;
  /** Member id that gets nothing (the sender of a plain device's line, of a file's chunks). */
  except?: string | undefined;
  /**
   * Who said it, for devices' `hears` (every node filters its own devices): `person` (a member
   * that said hello, a browser, a plain framed device, the console), `device` (a line/raw/link
   * device), `relay` (a device's words right after it heard a device: no device hears them).
   * Absent: the gateway's own words (presence, notices), which are no one's words.
   */
  origin?: RoomEventOrigin | undefined;
  /** The message id of the history entry this event is (a room's message): the bus may carry the entry along (CarriedEntry). */
  logId?: number | undefined;
  /** Heard from another node: the history entry it carried with the event. */
  log?: CarriedEntry | undefined;
}

/**
 * A room's history entry carried by the bus with its event (a Redis Cluster), with where it sits
 * in the room's stream: `at` its stream id, `after` the stream id of the entry before it. A node
 * that has read the stream up to `after` takes it as the next entry without reading the stream.
 */
export interface CarriedEntry {
  id: number;
  ts: number;
  entry: NewHistoryEntry;
  at: string;
  after: string;
}

export type RoomEventOrigin = 'person' | 'device' | 'relay';

/** A frame for one member, wherever it lives. */
export interface MemberEvent {
  to: string;
  frame: Uint8Array;
  /** The line a plain device gets instead; absent: plain devices get nothing. */
  legacyText?: string | undefined;
}

/** An operator's action on one member, answered by the node that holds it. */
export type AdminAction =
  | { kind: 'kick'; member: string; reason?: string | undefined }
  | { kind: 'tell'; member: string; text: string }
  /** The same identity signed in elsewhere: this connection gives way (SESSION_REPLACED). */
  | { kind: 'replace'; member: string }
  /**
   * The session ends with a notice saying why: its account's password was reset or the account
   * deleted (SESSION_REVOKED), or it held as a guest a name whose account signed in (NAME_RECLAIMED).
   */
  | { kind: 'revoke'; member: string; text: string; code: 'SESSION_REVOKED' | 'NAME_RECLAIMED' }
  | { kind: 'ban'; member: string; reason: string };

/** An operator's notice to every member of one node. */
export interface Announcement {
  kind: 'announce';
  text: string;
}

export interface ClusterBus {
  /** To the room's members on the other nodes (this node fans out to its own); only the nodes serving the room hear it. */
  publishRoom(event: RoomEvent): void;
  /**
   * This node has a member in `room` now (or one joining): it hears the room's events from the
   * other nodes. A promise when that takes a round trip: once it settles, every event published
   * to the room reaches this node (the hub holds the join until then).
   */
  serveRoom(room: string): void | Promise<void>;
  /** The last member of `room` on this node left: it stops hearing the room. */
  dropRoom(room: string): void;
  /** To a member on another node. */
  sendToMember(node: string, event: MemberEvent): void;
  /** Asks `node` to act on one of its members; false when it has no such member (or did not answer in time). */
  request(node: string, action: AdminAction): Promise<boolean>;
  /** Asks `node` to tell all its members: how many it reached, or undefined when it did not answer in time. */
  announce(node: string, announcement: Announcement): Promise<number | undefined>;
  /** The other nodes alive now. */
  peers(): string[];
  /** An operator's REST call run on another node (`?node=`); undefined when it did not answer in time. */
  forward(node: string, call: ForwardedCall): Promise<ForwardedReply | undefined>;
  /** The REST API registers how this node runs calls forwarded to it. */
  serveCalls(handler: (call: ForwardedCall) => Promise<ForwardedReply>): void;
  /** The hub registers how it handles what other nodes send. */
  serve(handlers: ClusterHandlers): void;
}

/** A REST call an operator made on one node for another (`?node=b`), run there as if made there. */
export interface ForwardedCall {
  method: string;
  /** Path and query, without `node`. */
  url: string;
  body?: unknown;
  /** The caller's Authorization header (the same admin token works on every node). */
  authorization?: string | undefined;
}

export interface ForwardedReply {
  status: number;
  /** The response as sent (JSON, or CSV and text from the traffic export). */
  body: string;
  contentType?: string | undefined;
}

export interface ClusterHandlers {
  room(event: RoomEvent): void;
  member(event: MemberEvent): void;
  admin(action: AdminAction): boolean;
  announce(announcement: Announcement): number;
  /** Another node stopped answering: its members are gone (already out of the directory). */
  nodeLost(node: string, members: MemberRecord[]): void;
  /**
   * A member of another node is in `rooms` now, as its directory record says. Its presence join
   * travels apart (the room's channel) and is missed by a node that subscribed to the room just
   * after it was sent: absent where the two cannot pass each other (one process).
   */
  joinedElsewhere?(record: MemberRecord, rooms: string[]): void;
  /**
   * A member of another node left `rooms` (`gone`: its connection closed) and the leave's presence
   * on the rooms' channel did not reach this node: Redis was away (found when that node's state is
   * read again, a resync), or this node does not hear the room (its subscription failing). Absent in one process.
   */
  leftElsewhere?(record: MemberRecord, rooms: string[], gone: boolean): void;
}
