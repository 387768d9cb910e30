import { lookAlikeKey } from '../identity/look-alike.js';
import type { MemberDirectory, MemberRecord } from './cluster.js';

/**
 * The member directory as one node holds it: records by id, by name (by look-alike key) and by
 * room, in the order members joined. The in-process cluster shares one; each Redis node keeps
 * its own, kept current from what the other nodes publish.
 */
export class DirectoryReplica implements MemberDirectory {
  readonly #records = new Map<string, MemberRecord>();
  readonly #byName = new Map<string, MemberRecord>();
  /** Room name → its members' records by id, in the order they joined the room. */
  readonly #byRoom = new Map<string, Map<string, MemberRecord>>();

  put(record: MemberRecord): void {
    const previous = this.#records.get(record.id);
    if (previous !== undefined) {
      if (this.#byName.get(lookAlikeKey(previous.name)) === previous) this.#byName.delete(lookAlikeKey(previous.name));
      for (const room of previous.rooms) if (!record.rooms.includes(room)) this.#leaveRoom(room, record.id);
    }
    this.#records.set(record.id, record);
    this.#byName.set(lookAlikeKey(record.name), record);
    for (const room of record.rooms) {
      let members = this.#byRoom.get(room);
      if (members === undefined) this.#byRoom.set(room, (members = new Map<string, MemberRecord>()));
      members.set(record.id, record); // replaces in place: the join order stays
    }
  }

  remove(id: string): MemberRecord | undefined {
    const record = this.#records.get(id);
    if (record === undefined) return undefined;
    this.#records.delete(id);
    for (const room of record.rooms) this.#leaveRoom(room, id);
    if (this.#byName.get(lookAlikeKey(record.name)) === record) this.#byName.delete(lookAlikeKey(record.name));
    return record;
  }

  get(id: string): MemberRecord | undefined {
    return this.#records.get(id);
  }

  byName(name: string): MemberRecord | undefined {
    return this.#byName.get(lookAlikeKey(name));
  }

  inRoom(room: string): MemberRecord[] {
    return [...(this.#byRoom.get(room)?.values() ?? [])];
  }

  all(): Iterable<MemberRecord> {
    return this.#records.values();
  }

  /** The records of one node. */
  ofNode(node: string): MemberRecord[] {
    return [...this.#records.values()].filter((record) => record.node === node);
  }

  /** Drops every record of a node; returns what was dropped. */
  removeNode(node: string): MemberRecord[] {
    const gone = this.ofNode(node);
    for (const record of gone) this.remove(record.id);
    return gone;
  }

  /**
   * A node's whole state, as it republished it or as read from Redis (after Redis came back): its
   * records replace what this replica held. Returns how its members' rooms changed meanwhile.
   */
  replaceNode(node: string, records: readonly MemberRecord[]): RoomChanges {
    const changes: RoomChanges = { joined: [], left: [] };
    const keep = new Set(records.map((record) => record.id));
    for (const record of this.ofNode(node)) {
      if (keep.has(record.id)) continue;
      this.remove(record.id);
      if (record.rooms.length > 0) changes.left.push({ record, rooms: record.rooms, gone: true });
    }
    for (const record of records) {
      const before = this.#records.get(record.id)?.rooms ?? [];
      this.put(record);
      const joined = record.rooms.filter((room) => !before.includes(room));
      const left = before.filter((room) => !record.rooms.includes(room));
      if (joined.length > 0) changes.joined.push({ record, rooms: joined });
      if (left.length > 0) changes.left.push({ record, rooms: left, gone: false });
    }
    return changes;
  }

  /** Nodes with members in this replica. */
  nodes(): Set<string> {
    return new Set([...this.#records.values()].map((record) => record.node));
  }

  #leaveRoom(room: string, id: string): void {
    const members = this.#byRoom.get(room);
    members?.delete(id);
    if (members?.size === 0) this.#byRoom.delete(room);
  }
}

/** What a node's members did in rooms while this replica did not hear of it: who joined which rooms, who left (or is gone). */
export interface RoomChanges {
  joined: { record: MemberRecord; rooms: string[] }[];
  /** `gone`: the member itself is no longer there (its connection closed), not only out of those rooms. */
  left: { record: MemberRecord; rooms: string[]; gone: boolean }[];
}
