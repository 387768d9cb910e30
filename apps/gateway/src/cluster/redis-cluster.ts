import { lookAlikeKey } from '../identity/look-alike.js';
import { randomBytes } from 'node:crypto';
import type { HubLogger } from '../logger.js';
import type { ClusterBus, ClusterNode, IdAllocator, MemberDirectory, MemberRecord, MessageLog, NameClaims } from './cluster.js';
import { BusKind } from './bus-messages.js';
import { BusProtocol } from './bus-protocol.js';
import { DirectoryReplica } from './directory-replica.js';
import { historyKeys } from './history-keys.js';
import { RedisConnections, withTimeout } from './redis-io.js';
import { RedisHistory, unavailable } from './redis-history.js';
import { RedisIdentity } from './redis-identity.js';
import { RedisMembership } from './redis-membership.js';

export interface RedisClusterOptions {
  url: string;
  /** Default: a random one, so two processes never share one by accident. */
  nodeId?: string | null | undefined;
  heartbeatMs: number;
  /** How long a message waits for Redis, and a request for another node. */
  timeoutMs: number;
  /** Entries kept in the history stream (MAXLEN ~). */
  historyRetention: number;
  /** The highest message id this node's own history holds: ids go on above it. */
  lastHistoryId: number;
  log: HubLogger;
  /** Key and channel prefix: several clusters can share one Redis. */
  prefix?: string;
}

/**
 * The cluster seam over Redis: several gateways, one chat. What lives where:
 * - live traffic: bus-protocol.ts (what is sent where, dispatch, asks and answers) over pub/sub:
 *   one channel per room, heard only by the nodes that serve the room (`{room:<name>}`,
 *   hash-tagged so a room's keys can later share its slot on Redis Cluster); one per node
 *   (private messages and files, operator requests, answers); one every node hears (`bus`:
 *   directory changes, identity, lost nodes). A room event is published once per room, not
 *   per member; a node drops its own echoes.
 * - history: redis-history.ts, one stream per room (and per identity for private conversations);
 *   a node reads into its own SQLite only those of the rooms it serves and of its members.
 * - names: one key each, claimed by script, expiring unless their node's heartbeat renews them.
 * - the directory: each node's records in a hash, replicated to every node's DirectoryReplica.
 * - liveness: redis-membership.ts (heartbeat, sweep, resync).
 * - the connections and scripts: redis-io.ts.
 */
export class RedisCluster implements ClusterNode {
  readonly nodeId: string;
  /** The directory as the hub sees it: reads from this node's replica, its own members' changes written through to Redis. */
  readonly directory: MemberDirectory;
  readonly #replica = new DirectoryReplica();
  readonly names: NameClaims;
  readonly ids: IdAllocator;
  readonly bus: ClusterBus;
  readonly log: MessageLog;
  readonly identity: RedisIdentity;
  readonly #options: RedisClusterOptions;
  readonly #prefix: string;
  readonly #keys: { counter: string; nodes: string; names: string; members: string };
  /** This node's members → their identity: the private streams it follows. */
  readonly #identities = new Map<string, string>();
  readonly #identityMembers = new Map<string, number>();
  readonly #redis: RedisConnections;
  readonly #protocol: BusProtocol;
  readonly #history: RedisHistory;
  /** This node's name claims: key → owner value, renewed by the heartbeat and claimed again after Redis comes back. */
  readonly #claims = new Map<string, string>();
  #nextMember = 1;
  #closed = false;
  /** Which nodes are live; heartbeat, sweep and resync. */
  readonly #membership: RedisMembership;

  private constructor(options: RedisClusterOptions) {
    this.#options = options;
    const nodeId = (this.nodeId = options.nodeId ?? `n${randomBytes(3).toString('hex')}`);
    const prefix = (this.#prefix = options.prefix ?? 'switchboard:');
    const history = historyKeys(prefix);
    this.#keys = {
      counter: history.counter,
      nodes: `${prefix}nodes`,
      names: `${prefix}names:${nodeId}`,
      members: `${prefix}members:${nodeId}`,
    };
    const logError = (what: string, error: Error): void => this.#redis.logError(what, error);
    this.#redis = new RedisConnections({
      url: options.url,
      timeoutMs: options.timeoutMs,
      nodeId,
      log: options.log,
      received: (message) => this.#protocol.received(message),
      // Back after an outage: say we are alive, publish our state again, read everyone else's.
      reconnected: () => {
        this.#protocol.reconnected();
        void this.#membership.resync('Redis connection is back');
      },
    });
    const replica = this.#replica;
    this.#protocol = new BusProtocol({
      nodeId,
      timeoutMs: options.timeoutMs,
      pubsub: this.#redis.pubsub,
      channels: { all: `${prefix}bus`, node: (id) => `${prefix}node:${id}`, room: (name) => `${prefix}{room:${name}}` },
      ready: () => this.#redis.ready,
      peers: () => this.#membership.peers(),
      logError,
      state: {
        heard: (node) => this.#membership.heard(node),
        put: (record) => replica.put(record),
        remove: (id) => void replica.remove(id),
        sync: (node, records) => replica.replaceNode(node, records),
        lost: (node) => this.#membership.lost(node),
        identity: (change) => this.identity.received(change),
      },
    });
    // Serving a room: its events (pub/sub) and its history (its stream, read up before the join is answered).
    const bus = this.#protocol.bus;
    this.bus = {
      ...bus,
      serveRoom: async (room) => {
        await Promise.all([bus.serveRoom(room), this.#history.serve({ room })]);
      },
      dropRoom: (room) => {
        bus.dropRoom(room);
        this.#history.drop({ room });
      },
    };
    this.directory = {
      put: (record) => this.#put(record),
      remove: (id) => this.#remove(id),
      get: (id) => replica.get(id),
      byName: (name) => replica.byName(name),
      inRoom: (room) => replica.inRoom(room),
      all: () => replica.all(),
    };
    this.names = {
      claim: (name, owner) => this.#claim(name, owner),
      release: (name, owner) => this.#release(name, owner),
    };
    this.ids = { memberId: () => `${nodeId}.m${this.#nextMember++}` };
    const command = (args: (string | Buffer)[]): Promise<unknown> => this.#redis.command(args);
    const run = (...args: Parameters<RedisConnections['run']>): Promise<unknown> => this.#redis.run(...args);
    this.identity = new RedisIdentity({
      prefix,
      ready: () => this.#redis.ready,
      command,
      run,
      broadcast: (change) => this.#protocol.toAll({ k: BusKind.Identity, from: nodeId, change }),
      logError,
    });
    this.#history = new RedisHistory({
      redis: this.#redis,
      keys: history,
      retention: options.historyRetention,
      timeoutMs: options.timeoutMs,
      blockMs: options.heartbeatMs,
      lastHistoryId: options.lastHistoryId,
    });
    this.log = this.#history;
    this.#membership = new RedisMembership({
      nodeId,
      prefix,
      heartbeatMs: options.heartbeatMs,
      ttlMs: this.#ttl(),
      keys: this.#keys,
      replica,
      claims: this.#claims,
      highestId: () => this.#history.highestId,
      ready: () => this.#redis.ready,
      command,
      run,
      publish: (header) => this.#protocol.toAll(header),
      resyncIdentity: () => this.identity.resync(),
      nodeLost: (node, records) => this.#protocol.handlers?.nodeLost(node, records),
      log: options.log,
      logError,
    });
  }

  /** Connects to Redis and joins the cluster; rejects when Redis cannot be reached within the timeout. */
  static async start(options: RedisClusterOptions): Promise<RedisCluster> {
    const cluster = new RedisCluster(options);
    const { pubsub } = cluster.#redis;
    try {
      await cluster.#redis.connect();
      await Promise.all([pubsub.subscribe(`${cluster.#prefix}bus`), pubsub.subscribe(`${cluster.#prefix}node:${cluster.nodeId}`)]);
      await cluster.#membership.resync('joined');
    } catch (error) {
      await cluster.close();
      throw new Error(`Cannot join the cluster on ${options.url}: ${(error as Error).message}`, { cause: error });
    }
    cluster.#membership.start();
    options.log.info({ node: cluster.nodeId, redis: options.url }, 'joined the cluster');
    return cluster;
  }

  /** Messages this node received from the bus and sent to it (for /metrics). */
  get busTraffic(): { readonly in: number; readonly out: number } {
    return this.#protocol.traffic;
  }

  /** Rooms whose channel this node hears now (tests). */
  roomsHeard(): string[] {
    return this.#protocol.roomsHeard();
  }

  status(): { ok: boolean; detail?: string } {
    if (this.#redis.allReady()) return { ok: true };
    return { ok: false, detail: `Redis at ${this.#options.url} is unreachable; messages are refused with CLUSTER_UNAVAILABLE until it is back` };
  }

  /** Tests: the process dies here and now (kill -9): connections cut, nothing said, nothing cleaned up. */
  crash(): void {
    this.#closed = true;
    this.#membership.stop();
    this.#history.stop();
    this.#redis.crash();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#membership.stop();
    this.#history.stop();
    this.#protocol.close();
    // A clean leave: the others need not wait for the sweep (members already left one by one).
    if (this.#redis.ready) {
      await Promise.allSettled([
        this.#redis.command(['ZREM', this.#keys.nodes, this.nodeId]),
        this.#redis.command(['DEL', this.#keys.members, this.#keys.names, ...this.#claims.keys()]),
      ]);
    }
    await this.#redis.close();
  }

  // ---- Names -------------------------------------------------------------------------

  #nameKey(name: string): string {
    // Look-alike names (Cyrillic а for Latin a) are one name: docs/identity-and-security.md, "Identity".
    return `${this.#prefix}name:${lookAlikeKey(name)}`;
  }

  async #claim(name: string, owner: string): Promise<boolean> {
    const key = this.#nameKey(name);
    const value = `${this.nodeId}|${owner}`;
    let claimed: unknown;
    try {
      claimed = await withTimeout(this.#redis.run('claim', [key, this.#keys.names], [value, String(this.#ttl())]), this.#options.timeoutMs, 'claiming a name');
    } catch (error) {
      throw unavailable((error as Error).message);
    }
    if (Number(claimed) !== 1) return false;
    this.#claims.set(key, value);
    return true;
  }

  #release(name: string, owner: string): void {
    const key = this.#nameKey(name);
    const value = `${this.nodeId}|${owner}`;
    if (this.#claims.get(key) !== value) return;
    this.#claims.delete(key);
    this.#redis.run('release', [key, this.#keys.names], [value]).catch((error: unknown) => this.#redis.logError('releasing a name', error as Error));
  }

  /** Claims and member hashes live this long without a heartbeat. */
  #ttl(): number {
    return this.#options.heartbeatMs * 2;
  }

  // ---- The directory -------------------------------------------------------------------

  /** Our records go to Redis and every node; a write lost while Redis is away is made good by the membership's resync. */
  #put(record: MemberRecord): void {
    this.#replica.put(record);
    if (record.node !== this.nodeId) return;
    this.#servesIdentity(record.id, record.identity);
    this.#redis.send(['HSET', this.#keys.members, record.id, JSON.stringify(record)]);
    this.#protocol.toAll({ k: BusKind.Put, from: this.nodeId, record });
  }

  /** Member `id` here has `identity` now (undefined: gone): an identity's private stream is followed while a member here has it. */
  #servesIdentity(id: string, identity: string | undefined): void {
    const before = this.#identities.get(id);
    if (before === identity) return;
    if (identity === undefined || identity === '') this.#identities.delete(id);
    else {
      this.#identities.set(id, identity);
      const members = this.#identityMembers.get(identity) ?? 0;
      this.#identityMembers.set(identity, members + 1);
      if (members === 0) void this.#history.serve({ identity });
    }
    if (before === undefined) return;
    const left = (this.#identityMembers.get(before) ?? 1) - 1;
    if (left > 0) this.#identityMembers.set(before, left);
    else {
      this.#identityMembers.delete(before);
      this.#history.drop({ identity: before });
    }
  }

  #remove(id: string): void {
    const record = this.#replica.remove(id);
    this.#servesIdentity(id, undefined);
    if (record === undefined || record.node !== this.nodeId) return;
    this.#redis.send(['HDEL', this.#keys.members, id]);
    this.#protocol.toAll({ k: BusKind.Remove, from: this.nodeId, id });
  }
}
