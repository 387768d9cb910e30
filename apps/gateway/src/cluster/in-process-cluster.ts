import type { AdminAction, ClusterBus, ClusterHandlers, ClusterNode, IdAllocator, MemberDirectory, MemberRecord, MemberEvent, NameClaims, RoomEvent } from './cluster.js';

/**
 * The cluster seam in one process: the default for a single gateway, and the reference that
 * the contract suite runs several hubs against. Every node made by one InProcessCluster shares
 * its names, directory, ids and bus.
 */
export class InProcessCluster {
  readonly #names = new Map<string, string>();
  readonly #records = new Map<string, MemberRecord>();
  readonly #byName = new Map<string, MemberRecord>();
  /** Room name → its members' records by id, in the order they joined the room. */
  readonly #byRoom = new Map<string, Map<string, MemberRecord>>();
  readonly #nodes = new Map<string, ClusterHandlers | undefined>();
  #nextMember = 1;
  #lastMessageId: number;

  /** `lastMessageId`: the highest id already stored, so ids go on increasing after a restart. */
  constructor(lastMessageId = 0) {
    this.#lastMessageId = lastMessageId;
  }

  node(nodeId: string): ClusterNode {
    if (this.#nodes.has(nodeId)) throw new Error(`Node "${nodeId}" is already in this cluster.`);
    this.#nodes.set(nodeId, undefined);
    const cluster = this;
    const names: NameClaims = {
      claim: async (name, owner) => cluster.#claim(name, owner),
      release: (name, owner) => cluster.#release(name, owner),
    };
    const directory: MemberDirectory = {
      put: (record) => cluster.#put(record),
      remove: (id) => cluster.#remove(id),
      get: (id) => cluster.#records.get(id),
      byName: (name) => cluster.#byName.get(name.toLowerCase()),
      inRoom: (room) => [...(cluster.#byRoom.get(room)?.values() ?? [])],
      all: () => cluster.#records.values(),
    };
    const ids: IdAllocator = {
      memberId: () => `m${cluster.#nextMember++}`,
      messageId: () => ++cluster.#lastMessageId,
    };
    const bus: ClusterBus = {
      publishRoom: (event: RoomEvent) => {
        for (const [id, handlers] of cluster.#nodes) if (id !== nodeId) handlers?.room(event);
      },
      sendToMember: (node: string, event: MemberEvent) => cluster.#nodes.get(node)?.member(event),
      request: async (node: string, action: AdminAction) => cluster.#nodes.get(node)?.admin(action) ?? false,
      serve: (handlers) => {
        cluster.#nodes.set(nodeId, handlers);
      },
    };
    return {
      nodeId,
      names,
      directory,
      ids,
      bus,
      close: async () => {
        // A node that leaves takes its members with it (a Redis node's records would expire).
        for (const record of [...cluster.#records.values()]) if (record.node === nodeId) cluster.#remove(record.id);
        cluster.#nodes.delete(nodeId);
      },
    };
  }

  #claim(name: string, owner: string): boolean {
    const key = name.toLowerCase();
    const holder = this.#names.get(key);
    if (holder !== undefined && holder !== owner) return false;
    this.#names.set(key, owner);
    return true;
  }

  #release(name: string, owner: string): void {
    const key = name.toLowerCase();
    if (this.#names.get(key) === owner) this.#names.delete(key);
  }

  #put(record: MemberRecord): void {
    const previous = this.#records.get(record.id);
    if (previous !== undefined) {
      if (this.#byName.get(previous.name.toLowerCase()) === previous) this.#byName.delete(previous.name.toLowerCase());
      for (const room of previous.rooms) if (!record.rooms.includes(room)) this.#leaveRoom(room, record.id);
    }
    this.#records.set(record.id, record);
    this.#byName.set(record.name.toLowerCase(), record);
    for (const room of record.rooms) {
      let members = this.#byRoom.get(room);
      if (members === undefined) this.#byRoom.set(room, (members = new Map()));
      members.set(record.id, record); // replaces in place: the join order stays
    }
  }

  #leaveRoom(room: string, id: string): void {
    const members = this.#byRoom.get(room);
    members?.delete(id);
    if (members?.size === 0) this.#byRoom.delete(room);
  }

  #remove(id: string): void {
    const record = this.#records.get(id);
    if (record === undefined) return;
    this.#records.delete(id);
    for (const room of record.rooms) this.#leaveRoom(room, id);
    if (this.#byName.get(record.name.toLowerCase()) === record) this.#byName.delete(record.name.toLowerCase());
  }
}
