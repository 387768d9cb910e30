import { lookAlikeKey } from '../identity/look-alike.js';
import { randomBytes } from 'node:crypto';
import type { HubLogger } from '../logger.js';
import type { ClusterBus, ClusterHandlers, ClusterNode, IdAllocator, MemberDirectory, MemberRecord, MessageLog, NameClaims } from './cluster.js';
import { BusKind } from './bus-messages.js';
import { BusProtocol } from './bus-protocol.js';
import { DirectoryReplica, type RoomChanges } from './directory-replica.js';
import { historyKeys } from './history-keys.js';
import { parseRedisUrl } from './redis-url.js';
import { RedisConnections, withTimeout } from './redis-io.js';
import { RedisHistory, unavailable } from './redis-history.js';
import { RedisIdentity } from './redis-identity.js';
import { RedisMembership } from './redis-membership.js';

export interface RedisClusterOptions {
  /** One Redis or a Redis Cluster (redis-url.ts). */
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
  /**
   * 1: a message is acknowledged only once a replica of the Redis Cluster master that stored it
   * has it too (WAIT 1), so it survives that master's loss; 0: once the master has it. No effect
   * on one Redis (its promise is its AOF). Default 0.
   */
  waitReplicas?: number;
}

/**
 * Where things live, on one Redis and on a Redis Cluster alike (docs/several-gateways.md, "Key
 * layout"). On a cluster every key a script touches must be in one slot, including the keys
 * some build inside Lua from a prefix (a lost node's names, a user's tokens), so:
 * - the shared, low-rate state (nodes, names, member hashes, accounts, bans, tokens, room
 *   settings, the bus every node hears) is under one hash tag, `{shared}`: one slot, one shard;
 * - a room's channel is under its own tag, `{room:<name>}`, and a node's channel under
 *   `{node:<id>}`, so rooms (and their traffic) spread over the shards.
 */
export function keyLayout(prefix: string, nodeId: string) {
  const shared = `${prefix}{shared}:`;
  return {
    /** What membership and identity build their keys from (and the sweep script, in Lua). */
    shared,
    /** One Redis's message id counter (raised at resync); a Redis Cluster takes ids from each slot's own (history-keys.ts). */
    counter: `${shared}message-id`,
    nodes: `${shared}nodes`,
    names: `${shared}names:${nodeId}`,
    members: `${shared}members:${nodeId}`,
    name: (key: string) => `${shared}name:${key}`,
    channels: { all: `${shared}bus`, node: (id: string) => `${prefix}{node:${id}}`, room: (name: string) => `${prefix}{room:${name}}` },
  };
}

/**
 * The cluster seam over Redis: several gateways, one chat. What lives where:
 * - live traffic: bus-protocol.ts (what is sent where, dispatch, asks and answers) over pub/sub:
 *   one channel per room, heard only by the nodes that serve the room (`{room:<name>}`, its
 *   own slot on a Redis Cluster, with sharded pub/sub); one per node (private messages and
 *   files, operator requests, answers); one every node hears (`bus`: directory changes,
 *   identity, lost nodes). Where each key lives: keyLayout above. A room event is published once per room, not
 *   per member; a node drops its own echoes.
 * - history: redis-history.ts, one stream per room (and per identity for private conversations);
 *   a node reads into its own SQLite only those of the rooms it serves and of its members.
 * - names: one key each, claimed by script, expiring unless their node's heartbeat renews them.
 * - the directory: each node's records in a hash, replicated to every node's DirectoryReplica.
 * - liveness: redis-membership.ts (heartbeat, sweep, resync).
 * - the connections and scripts: redis-io.ts, over one Redis or a Redis Cluster (redis-connection.ts).
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
  readonly #keys: ReturnType<typeof keyLayout>;
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
  /** The hub's handlers, once it registered them: told when another node's member joins rooms (its directory record). */
  #hubHandlers: ClusterHandlers | undefined;
  /** Which nodes are live; heartbeat, sweep and resync. */
  readonly #membership: RedisMembership;

  private constructor(options: RedisClusterOptions) {
    this.#options = options;
    const nodeId = (this.nodeId = options.nodeId ?? `n${randomBytes(3).toString('hex')}`);
    const keys = (this.#keys = keyLayout(options.prefix ?? 'switchboard:', nodeId));
    // The history's keys (history-keys.ts): each room's stream in its room's slot; ids from one counter on one Redis, from each slot's own on a cluster.
    const historyKeyNames = historyKeys(options.prefix ?? 'switchboard:', parseRedisUrl(options.url).kind === 'cluster' ? 'per-slot' : 'one-counter');
    const logError = (what: string, error: Error): void => this.#redis.logError(what, error);
    this.#redis = new RedisConnections({
      url: options.url,
      timeoutMs: options.timeoutMs,
      nodeId,
      log: options.log,
      waitReplicas: options.waitReplicas,
      received: (message) => this.#protocol.received(message),
      // Back after an outage (or a cluster node new or back: a promoted replica may lack the
      // last writes): say we are alive, publish our state again, read everyone else's.
      reconnected: (what) => {
        this.#protocol.reconnected();
        void this.#membership.resync(`Redis connection is back (${what})`);
      },
    });
    const replica = this.#replica;
    this.#protocol = new BusProtocol({
      nodeId,
      timeoutMs: options.timeoutMs,
      pubsub: this.#redis.pubsub,
      channels: keys.channels,
      ready: () => this.#redis.ready,
      peers: () => this.#membership.peers(),
      logError,
      carried: (id) => this.#history.takeCarried(id),
      state: {
        heard: (node) => this.#membership.heard(node),
        put: (record) => {
          const before = replica.get(record.id)?.rooms ?? [];
          replica.put(record);
          const joined = record.rooms.filter((room) => !before.includes(room));
          if (joined.length > 0) this.#hubHandlers?.joinedElsewhere?.(record, joined);
          this.#leftDeafRooms(
            record,
            before.filter((room) => !record.rooms.includes(room)),
            false,
          );
        },
        remove: (id) => {
          const record = replica.remove(id);
          if (record !== undefined) this.#leftDeafRooms(record, record.rooms, true);
        },
        sync: (node, records) => this.#replaced(replica.replaceNode(node, records)),
        lost: (node) => this.#membership.lost(node),
        identity: (change) => this.identity.received(change),
      },
    });
    // Serving a room: its events (pub/sub) and its history (its stream, read up before the join is answered).
    const bus = this.#protocol.bus;
    this.bus = {
      ...bus,
      // In this order: an entry added to the stream after the read-up is published after the
      // subscription, so it reaches this node live (read first, one added between the read and
      // the subscription would reach the joiner neither way). One in both the read and live the
      // joiner does not get twice (Router skips ids its join's history gave it).
      serveRoom: async (room) => {
        await bus.serveRoom(room);
        await this.#history.serve({ room });
      },
      dropRoom: (room) => {
        bus.dropRoom(room);
        this.#history.drop({ room });
      },
      // On a cluster a stream is read when the bus says it grew (redis-history.ts): a room's event, a private message or file to a member here;
      // a room's message carries its entry, which is the next one this node lacks, most of the time: then nothing is read.
      serve: (handlers) => {
        this.#hubHandlers = handlers;
        bus.serve({
          admin: (action) => handlers.admin(action),
          announce: (announcement) => handlers.announce(announcement),
          nodeLost: (node, members) => handlers.nodeLost(node, members),
          room: (event) => {
            if (event.log === undefined) this.#history.nudge({ room: event.room });
            else this.#history.heard({ room: event.room }, event.log);
            handlers.room(event);
          },
          member: (event) => {
            const identity = this.#identities.get(event.to);
            if (identity !== undefined) this.#history.nudge({ identity });
            handlers.member(event);
          },
        });
      },
    };
    this.directory = {
      put: (record) => this.#put(record),
      lookup: (name) => this.#lookup(name),
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
      prefix: keys.shared,
      ready: () => this.#redis.ready,
      command,
      run,
      broadcast: (change) => this.#protocol.toAll({ k: BusKind.Identity, from: nodeId, change }),
      logError,
    });
    this.#history = new RedisHistory({
      redis: this.#redis,
      keys: historyKeyNames,
      retention: options.historyRetention,
      timeoutMs: options.timeoutMs,
      blockMs: options.heartbeatMs,
      lastHistoryId: options.lastHistoryId,
    });
    const history = this.#history;
    this.log = {
      // The acknowledgement waits for a replica when asked to (--redis-wait-replicas): the hub acknowledges and publishes once this resolves.
      append: (entry, ts) => history.append(entry, ts),
      completeFile: (id, sha256) => history.completeFile(id, sha256),
      follow: (handler, highest) => history.follow(handler, highest),
      readUp: (stream) => history.readUp(stream),
      serve: (stream) => history.serve(stream),
      // A room whose channel this node does not hear (its subscription failed) is not whole either:
      // what is said there meanwhile reaches its members here neither live nor by a page read
      // before the subscription holds; so it is subscribed first, then read on (as serveRoom does).
      behind: (stream) => history.behind(stream) || ('room' in stream && this.#protocol.roomDeaf(stream.room)),
      catchUp: async (stream) => {
        if ('room' in stream && this.#protocol.roomDeaf(stream.room) && !(await this.#protocol.hearRoom(stream.room))) {
          throw unavailable(`room ${stream.room} is not heard from the other gateways yet`);
        }
        await history.catchUp(stream);
      },
    };
    this.#membership = new RedisMembership({
      nodeId,
      prefix: keys.shared,
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
      replaced: (changes) => this.#replaced(changes),
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
      const { channels } = cluster.#keys;
      await Promise.all([pubsub.subscribe(channels.all), pubsub.subscribe(channels.node(cluster.nodeId))]);
      await cluster.#membership.resync('joined');
    } catch (error) {
      await cluster.close();
      throw new Error(`Cannot join the cluster on ${options.url}: ${(error as Error).message}`, { cause: error });
    }
    cluster.#membership.start();
    options.log.info({ node: cluster.nodeId, redis: options.url, mode: cluster.#redis.mode }, 'joined the cluster');
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

  /**
   * Another node's state, read again (a resync, its or ours), differs from what this node knew:
   * what its members did in rooms meanwhile was not heard (Redis away), so the hub tells its own.
   */
  #replaced({ joined, left }: RoomChanges): void {
    const handlers = this.#hubHandlers;
    if (handlers === undefined) return;
    for (const { record, rooms, gone } of left) handlers.leftElsewhere?.(record, rooms, gone);
    for (const { record, rooms } of joined) handlers.joinedElsewhere?.(record, rooms);
  }

  /**
   * Another node's member left `rooms` (its record says): in a room this node serves but does
   * not hear (its SUBSCRIBE failing), the leave's presence on the room's channel never comes, so
   * the record tells it. (A join is told from the record in every room: Router.#joinedElsewhere.)
   */
  #leftDeafRooms(record: MemberRecord, rooms: string[], gone: boolean): void {
    const deaf = rooms.filter((room) => this.#protocol.roomDeaf(room));
    if (deaf.length > 0) this.#hubHandlers?.leftElsewhere?.(record, deaf, gone);
  }

  // ---- Names -------------------------------------------------------------------------

  #nameKey(name: string): string {
    // Look-alike names (Cyrillic а for Latin a) are one name: docs/identity-and-security.md, "Identity".
    return this.#keys.name(lookAlikeKey(name));
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

  /**
   * Our records go to Redis and every node; a write lost while Redis is away is made good by the
   * membership's resync. Resolves once Redis has it (at most --cluster-timeout-ms; never rejects).
   */
  #put(record: MemberRecord): void | Promise<void> {
    this.#replica.put(record);
    if (record.node !== this.nodeId) return;
    this.#servesIdentity(record.id, record.identity);
    this.#protocol.toAll({ k: BusKind.Put, from: this.nodeId, record });
    if (!this.#redis.ready) return;
    const written = this.#redis.command(['HSET', this.#keys.members, record.id, JSON.stringify(record)]);
    return withTimeout(written, this.#options.timeoutMs, 'storing a member record').then(
      () => undefined,
      (error: unknown) => this.#redis.logError('HSET', error as Error),
    );
  }

  /**
   * A member by name, from the shared state: its name's claim says which node and member hold it,
   * that node's member hash its record. Undefined when nobody holds it or Redis does not answer in time.
   */
  async #lookup(name: string): Promise<MemberRecord | undefined> {
    if (!this.#redis.ready) return undefined;
    const { timeoutMs } = this.#options;
    try {
      // The claim is `<node>|<member id>` (#claim); RESP2 answers strings, or null for a key or field that is not there.
      const claim = (await withTimeout(this.#redis.command(['GET', this.#nameKey(name)]), timeoutMs, 'looking up a name')) as string | null;
      if (claim === null) return undefined;
      const [node = '', id = ''] = claim.split('|');
      const json = (await withTimeout(this.#redis.command(['HGET', `${this.#keys.shared}members:${node}`, id]), timeoutMs, 'looking up a member')) as
        string | null;
      if (json === null) return undefined;
      const record = JSON.parse(json) as MemberRecord;
      return lookAlikeKey(record.name) === lookAlikeKey(name) ? record : undefined;
    } catch (error) {
      this.#redis.logError('looking up a member', error as Error);
      return undefined;
    }
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
