import { lookAlikeKey } from '../identity/look-alike.js';
import type {
  AdminAction,
  ClusterBus,
  ClusterHandlers,
  ClusterNode,
  ForwardedCall,
  ForwardedReply,
  IdAllocator,
  LogRecord,
  MemberEvent,
  MessageLog,
  NameClaims,
  RoomEvent,
} from './cluster.js';
import { DirectoryReplica } from './directory-replica.js';

/**
 * The cluster seam in one process: the default for a single gateway, and the reference that
 * the contract suite runs several hubs against. Every node made by one InProcessCluster shares
 * its names, directory, ids and bus.
 */
export class InProcessCluster {
  readonly #names = new Map<string, string>();
  readonly #directory = new DirectoryReplica();
  readonly #nodes = new Map<string, ClusterHandlers | undefined>();
  /** The rooms each node serves: a room's events reach only those (as over Redis). */
  readonly #served = new Map<string, Set<string>>();
  /** Each node's history replica, fed what the other nodes log. */
  readonly #followers = new Map<string, (record: LogRecord) => void>();
  readonly #calls = new Map<string, (call: ForwardedCall) => Promise<ForwardedReply>>();
  #nextMember = 1;
  #lastMessageId: number;

  /** `lastMessageId`: the highest id already stored, so ids go on increasing after a restart. */
  constructor(lastMessageId = 0) {
    this.#lastMessageId = lastMessageId;
  }

  node(nodeId: string): ClusterNode {
    if (this.#nodes.has(nodeId)) throw new Error(`Node "${nodeId}" is already in this this.`);
    this.#nodes.set(nodeId, undefined);
    const served = new Set<string>();
    this.#served.set(nodeId, served);
    const names: NameClaims = {
      claim: async (name, owner) => this.#claim(name, owner),
      release: (name, owner) => this.#release(name, owner),
    };
    const directory = this.#directory;
    const ids: IdAllocator = {
      memberId: () => `m${this.#nextMember++}`,
    };
    const replicate = (record: LogRecord): void => {
      for (const [id, follow] of this.#followers) if (id !== nodeId) follow(record);
    };
    const log: MessageLog = {
      append: (entry, ts) => {
        const id = ++this.#lastMessageId;
        replicate({ id, ts, entry });
        return id;
      },
      completeFile: (id, sha256) => replicate({ id, sha256 }),
      follow: (handler) => {
        this.#followers.set(nodeId, handler);
      },
    };
    const bus: ClusterBus = {
      publishRoom: (event: RoomEvent) => {
        for (const [id, handlers] of this.#nodes) if (id !== nodeId && this.#served.get(id)?.has(event.room) === true) handlers?.room(event);
      },
      sendToMember: (node: string, event: MemberEvent) => this.#nodes.get(node)?.member(event),
      request: async (node: string, action: AdminAction) => this.#nodes.get(node)?.admin(action) ?? false,
      announce: async (node, announcement) => this.#nodes.get(node)?.announce(announcement),
      serveRoom: (room) => {
        served.add(room);
      },
      dropRoom: (room) => {
        served.delete(room);
      },
      peers: () => [...this.#nodes.keys()].filter((id) => id !== nodeId),
      forward: async (node, call) => this.#calls.get(node)?.(call),
      serveCalls: (handler) => {
        this.#calls.set(nodeId, handler);
      },
      serve: (handlers) => {
        this.#nodes.set(nodeId, handlers);
      },
    };
    return {
      nodeId,
      names,
      directory,
      ids,
      bus,
      log,
      status: () => ({ ok: true }),
      close: async () => {
        // A node that leaves takes its members with it (a Redis node's records would expire).
        directory.removeNode(nodeId);
        this.#nodes.delete(nodeId);
        this.#served.delete(nodeId);
        this.#followers.delete(nodeId);
        this.#calls.delete(nodeId);
      },
    };
  }

  /** A node dies without a word (kill -9): the others are told, its members and names are gone. */
  lose(nodeId: string): void {
    const gone = this.#directory.removeNode(nodeId);
    for (const [name, owner] of this.#names) if (gone.some((record) => record.id === owner)) this.#names.delete(name);
    this.#nodes.delete(nodeId);
    this.#served.delete(nodeId);
    this.#followers.delete(nodeId);
    this.#calls.delete(nodeId);
    for (const handlers of this.#nodes.values()) handlers?.nodeLost(nodeId, gone);
  }

  #claim(name: string, owner: string): boolean {
    const key = lookAlikeKey(name);
    const holder = this.#names.get(key);
    if (holder !== undefined && holder !== owner) return false;
    this.#names.set(key, owner);
    return true;
  }

  #release(name: string, owner: string): void {
    const key = lookAlikeKey(name);
    if (this.#names.get(key) === owner) this.#names.delete(key);
  }
}
