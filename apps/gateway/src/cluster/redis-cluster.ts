import { lookAlikeKey } from '../identity/look-alike.js';
import { randomBytes } from 'node:crypto';
import { createClient, type RedisClientType } from '@redis/client';
import { ProtocolError } from '@switchboard/protocol';
import type { NewHistoryEntry } from '../history/history-store.js';
import type { HubLogger } from '../logger.js';
import type {
  AdminAction,
  Announcement,
  ClusterBus,
  ClusterHandlers,
  ClusterNode,
  ForwardedCall,
  ForwardedReply,
  IdAllocator,
  LogRecord,
  MemberDirectory,
  MemberEvent,
  MemberRecord,
  MessageLog,
  NameClaims,
  RoomEvent,
} from './cluster.js';
import { DirectoryReplica } from './directory-replica.js';
import { envelope, openEnvelope, senderOf, withTimeout, type Header } from './redis-envelope.js';
import { RedisIdentity } from './redis-identity.js';
import { RedisMembership } from './redis-membership.js';
import { APPEND, CLAIM, RELEASE, type Script } from './redis-scripts.js';

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

function unavailable(why: string): ProtocolError {
  return new ProtocolError('CLUSTER_UNAVAILABLE', `The gateways' Redis is unreachable (${why}); this was not taken. Try again shortly.`);
}

// node-redis spells "no modules, functions or scripts" as `{}`.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- node-redis's own type parameters
type Client = RedisClientType<{}, {}, {}, 2>;

/**
 * The cluster seam over Redis: several gateways, one chat. What lives where:
 * - history: one Redis stream (`log`), trimmed to `historyRetention` entries; each entry is
 *   appended with its message id by one script (APPEND), so ids increase across the cluster
 *   and stream order is id order. Every node reads the stream into its own SQLite history,
 *   from where its members and REST read; a node that was away reads on from where it was.
 * - live traffic: pub/sub, one `bus` channel every node hears (room events, directory changes,
 *   lost nodes) and one channel per node (private messages and files, operator requests).
 *   A room event is published once per room, not per member; a node drops its own echoes.
 * - names: one key each, claimed by script, expiring unless their node's heartbeat renews them.
 * - the directory: each node's records in a hash, replicated to every node's DirectoryReplica.
 * - liveness: a sorted set of nodes by the Redis time of their last heartbeat; one silent for
 *   1.5 heartbeats is swept, its names freed, and every node says its members left (node-lost).
 *   RedisMembership (redis-membership.ts) keeps it; the bus's wire format is redis-envelope.ts.
 * Three connections: commands, subscriptions, and the blocking stream reader.
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
  readonly #keys: { counter: string; stream: string; nodes: string; names: string; members: string };
  readonly #channels: { bus: string; node: (id: string) => string };
  readonly #command: Client;
  readonly #subscriber: Client;
  readonly #reader: Client;
  #handlers: ClusterHandlers | undefined;
  #follower: ((record: LogRecord) => void) | undefined;
  /** This node's name claims: key → owner value, renewed by the heartbeat and claimed again after Redis comes back. */
  readonly #claims = new Map<string, string>();
  readonly #asks = new Map<number, (value: unknown) => void>();
  #serveCall: ((call: ForwardedCall) => Promise<ForwardedReply>) | undefined;
  #nextAsk = 1;
  #nextMember = 1;
  /** The highest message id this node has stored or seen: if Redis comes back without its data, ids go on above it. */
  #highestId: number;
  #closed = false;
  #lastErrorLog = 0;
  /** This process's tag in the history stream: its own entries (stored already) are skipped unread; a restarted node reads its earlier ones. */
  readonly #writer = randomBytes(6).toString('hex');
  /** Which nodes are live; heartbeat, sweep and resync. */
  readonly #membership: RedisMembership;

  private constructor(options: RedisClusterOptions) {
    this.#options = options;
    this.#highestId = options.lastHistoryId;
    this.nodeId = options.nodeId ?? `n${randomBytes(3).toString('hex')}`;
    const prefix = options.prefix ?? 'switchboard:';
    this.#keys = {
      counter: `${prefix}message-id`,
      stream: `${prefix}log`,
      nodes: `${prefix}nodes`,
      names: `${prefix}names:${this.nodeId}`,
      members: `${prefix}members:${this.nodeId}`,
    };
    this.#channels = { bus: `${prefix}bus`, node: (id) => `${prefix}node:${id}` };
    // Commands fail at once while Redis is away (no offline queue): a message is refused, never queued and acknowledged later.
    this.#command = createClient({
      url: options.url,
      RESP: 2,
      disableOfflineQueue: true,
      // No per-command AbortSignal timer (node-redis's default, a tenth of the gateway's CPU per
      // message in a profile): the commands that must answer in time have their own deadline.
      commandOptions: { timeout: 0 },
      socket: { connectTimeout: options.timeoutMs, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
    });
    this.#subscriber = this.#command.duplicate();
    this.#reader = this.#command.duplicate();
    for (const [role, client] of [
      ['commands', this.#command],
      ['subscriptions', this.#subscriber],
      ['stream reader', this.#reader],
    ] as const) {
      // An 'error' event without a listener would end the process.
      client.on('error', (error: Error) => this.#logError(role, error));
    }
    // Back after an outage: say we are alive, publish our state again, read everyone else's.
    this.#subscriber.on('ready', () => {
      if (!this.#closed) void this.#membership.resync('Redis connection is back');
    });

    const replica = this.#replica;
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
    this.ids = { memberId: () => `${this.nodeId}.m${this.#nextMember++}` };
    this.bus = {
      publishRoom: (event: RoomEvent) =>
        this.#publish(
          this.#channels.bus,
          { k: 'room', from: this.nodeId, room: event.room, legacyText: event.legacyText, except: event.except, origin: event.origin },
          event.frame,
        ),
      sendToMember: (node: string, event: MemberEvent) =>
        this.#publish(this.#channels.node(node), { k: 'member', from: this.nodeId, to: event.to, legacyText: event.legacyText }, event.frame),
      request: async (node: string, action: AdminAction) => (await this.#ask(node, (ask) => ({ k: 'admin', from: this.nodeId, ask, action }))) === true,
      announce: async (node: string, announcement: Announcement) => {
        const value = await this.#ask(node, (ask) => ({ k: 'announce', from: this.nodeId, ask, text: announcement.text }));
        return typeof value === 'number' ? value : undefined;
      },
      peers: () => this.#membership.peers(),
      forward: async (node, call) => (await this.#ask(node, (ask) => ({ k: 'call', from: this.nodeId, ask, call }))) as ForwardedReply | undefined,
      serveCalls: (handler) => {
        this.#serveCall = handler;
      },
      serve: (handlers) => {
        this.#handlers = handlers;
      },
    };
    this.identity = new RedisIdentity({
      prefix,
      ready: () => this.#command.isReady,
      command: (args) => this.#command.sendCommand(args),
      run: (script, keys, args) => this.#run(script, keys, args),
      broadcast: (change) => this.#publish(this.#channels.bus, { k: 'identity', from: this.nodeId, change }),
      logError: (what, error) => this.#logError(what, error),
    });
    this.log = {
      append: (entry, ts) => this.#append(entry, ts),
      completeFile: (id, sha256) => this.#logCompletion(id, sha256),
      follow: (handler) => {
        this.#follower = handler;
        void this.#follow();
      },
    };
    this.#membership = new RedisMembership({
      nodeId: this.nodeId,
      prefix,
      heartbeatMs: options.heartbeatMs,
      ttlMs: this.#ttl(),
      keys: this.#keys,
      replica: this.#replica,
      claims: this.#claims,
      highestId: () => this.#highestId,
      ready: () => this.#command.isReady,
      command: (args) => this.#command.sendCommand(args),
      run: (script, keys, args) => this.#run(script, keys, args),
      publish: (header) => this.#publish(this.#channels.bus, header),
      resyncIdentity: () => this.identity.resync(),
      nodeLost: (node, records) => this.#handlers?.nodeLost(node, records),
      log: options.log,
      logError: (what, error) => this.#logError(what, error),
    });
  }

  /** Connects to Redis and joins the cluster; rejects when Redis cannot be reached within the timeout. */
  static async start(options: RedisClusterOptions): Promise<RedisCluster> {
    const cluster = new RedisCluster(options);
    const connectWithin = options.timeoutMs * 5;
    try {
      await withTimeout(
        Promise.all([cluster.#command.connect(), cluster.#subscriber.connect(), cluster.#reader.connect()]),
        connectWithin,
        `connecting to ${options.url}`,
      );
      await cluster.#subscriber.subscribe(
        [cluster.#channels.bus, cluster.#channels.node(cluster.nodeId)],
        (message: Buffer) => cluster.#receivedSafely(message),
        true,
      );
      await cluster.#membership.resync('joined');
    } catch (error) {
      await cluster.close();
      throw new Error(`Cannot join the cluster on ${options.url}: ${(error as Error).message}`, { cause: error });
    }
    cluster.#membership.start();
    options.log.info({ node: cluster.nodeId, redis: options.url }, 'joined the cluster');
    return cluster;
  }

  status(): { ok: boolean; detail?: string } {
    if (this.#command.isReady && this.#subscriber.isReady && this.#reader.isReady) return { ok: true };
    return { ok: false, detail: `Redis at ${this.#options.url} is unreachable; messages are refused with CLUSTER_UNAVAILABLE until it is back` };
  }

  /** Tests: the process dies here and now (kill -9): connections cut, nothing said, nothing cleaned up. */
  crash(): void {
    this.#closed = true;
    this.#membership.stop();
    for (const client of [this.#reader, this.#subscriber, this.#command]) if (client.isOpen) client.destroy();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#membership.stop();
    for (const settle of this.#asks.values()) settle(undefined);
    this.#asks.clear();
    // A clean leave: the others need not wait for the sweep (members already left one by one).
    if (this.#command.isReady) {
      await Promise.allSettled([
        this.#command.sendCommand(['ZREM', this.#keys.nodes, this.nodeId]),
        this.#command.sendCommand(['DEL', this.#keys.members, this.#keys.names, ...this.#claims.keys()]),
      ]);
    }
    // The reader is blocked in XREAD: cut it. The others finish what is pending (members' goodbyes) first.
    if (this.#reader.isOpen) this.#reader.destroy();
    await Promise.allSettled(
      [this.#subscriber, this.#command].map(async (client) => {
        if (client.isReady) await client.close();
        else if (client.isOpen) client.destroy();
      }),
    );
  }

  // ---- Names -------------------------------------------------------------------------

  #nameKey(name: string): string {
    // Look-alike names (Cyrillic а for Latin a) are one name: docs/identity-and-security.md, "Identity".
    return `${this.#options.prefix ?? 'switchboard:'}name:${lookAlikeKey(name)}`;
  }

  async #claim(name: string, owner: string): Promise<boolean> {
    const key = this.#nameKey(name);
    const value = `${this.nodeId}|${owner}`;
    let claimed: unknown;
    try {
      claimed = await withTimeout(this.#run(CLAIM, [key, this.#keys.names], [value, String(this.#ttl())]), this.#options.timeoutMs, 'claiming a name');
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
    this.#run(RELEASE, [key, this.#keys.names], [value]).catch((error: unknown) => this.#logError('releasing a name', error as Error));
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
    this.#send(['HSET', this.#keys.members, record.id, JSON.stringify(record)]);
    this.#publish(this.#channels.bus, { k: 'put', from: this.nodeId, record });
  }

  #remove(id: string): void {
    const record = this.#replica.remove(id);
    if (record === undefined || record.node !== this.nodeId) return;
    this.#send(['HDEL', this.#keys.members, id]);
    this.#publish(this.#channels.bus, { k: 'remove', from: this.nodeId, id });
  }

  // ---- Pub/sub -------------------------------------------------------------------------

  #publish(channel: string, header: Header, payload?: Uint8Array): void {
    this.#send(['PUBLISH', channel, envelope(header, payload)]);
  }

  /** A command whose answer nobody waits for; its failure is logged (Redis being away is reported once, by status). */
  #send(args: (string | Buffer)[]): void {
    if (!this.#command.isReady) return;
    this.#command.sendCommand(args).catch((error: unknown) => this.#logError(String(args[0]), error as Error));
  }

  /** A bad message, or a handler that throws, is logged: it must not reach node-redis (nor end the process). */
  #receivedSafely(message: Buffer): void {
    try {
      this.#received(message);
    } catch (error) {
      this.#logError('handling a cluster message', error as Error);
    }
  }

  #received(message: Buffer): void {
    if (senderOf(message) === this.nodeId) return; // our own echo
    const { header, payload } = openEnvelope(message);
    const handlers = this.#handlers;
    switch (header.k) {
      case 'room':
        return handlers?.room({ room: header.room, frame: payload, legacyText: header.legacyText, except: header.except, origin: header.origin });
      case 'member':
        return handlers?.member({ to: header.to, frame: payload, legacyText: header.legacyText });
      case 'put':
        this.#membership.heard(header.from);
        return this.#replica.put(header.record);
      case 'remove':
        this.#replica.remove(header.id);
        return;
      case 'sync':
        this.#membership.heard(header.from);
        return this.#replica.replaceNode(header.from, header.records);
      case 'lost':
        return this.#membership.lost(header.node);
      case 'admin':
        return this.#answer(header.from, header.ask, handlers?.admin(header.action) ?? false);
      case 'announce':
        return this.#answer(header.from, header.ask, handlers?.announce({ kind: 'announce', text: header.text }) ?? 0);
      case 'identity':
        return this.identity.received(header.change);
      case 'call': {
        const { from, ask, call } = header;
        const serve = this.#serveCall;
        const failed = (message: string): ForwardedReply => ({
          status: 500,
          contentType: 'application/json',
          body: JSON.stringify({ code: 'INTERNAL', message }),
        });
        if (serve === undefined) return this.#answer(from, ask, failed('That node does not serve its API yet.'));
        void serve(call).then(
          (reply) => this.#answer(from, ask, reply),
          (error: unknown) => this.#answer(from, ask, failed((error as Error).message)),
        );
        return;
      }
      case 'answer': {
        const settle = this.#asks.get(header.ask);
        this.#asks.delete(header.ask);
        return settle?.(header.value);
      }
    }
  }

  #answer(to: string, ask: number, value: unknown): void {
    this.#publish(this.#channels.node(to), { k: 'answer', from: this.nodeId, ask, value });
  }

  /** A request to another node, answered by it; undefined when nobody answered in time. */
  async #ask(node: string, header: (ask: number) => Header): Promise<unknown> {
    if (!this.#command.isReady) return undefined;
    const ask = this.#nextAsk++;
    const answer = new Promise<unknown>((resolve) => {
      const timer = setTimeout(() => {
        this.#asks.delete(ask);
        resolve(undefined);
      }, this.#options.timeoutMs);
      this.#asks.set(ask, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
    try {
      const listeners = Number(await this.#command.sendCommand(['PUBLISH', this.#channels.node(node), envelope(header(ask))]));
      // Nobody subscribed: the node is gone; no need to wait out the timeout.
      if (listeners === 0) this.#asks.get(ask)?.(undefined);
    } catch {
      this.#asks.get(ask)?.(undefined);
    }
    return answer;
  }

  // ---- History -------------------------------------------------------------------------

  async #append(entry: NewHistoryEntry, ts: number): Promise<number> {
    if (!this.#command.isReady) throw unavailable('not connected');
    try {
      const args = [String(this.#options.historyRetention), this.#writer, String(ts), JSON.stringify(entry)];
      // EVAL, not EVALSHA: a NOSCRIPT retry (first use, or after a Redis restart) would let later messages pass it, and a member's messages must be stored in the order sent.
      const appended = this.#command.sendCommand(['EVAL', APPEND.source, '2', this.#keys.counter, this.#keys.stream, ...args]);
      const id = Number(await withTimeout(appended, this.#options.timeoutMs, 'storing a message'));
      this.#highestId = Math.max(this.#highestId, id);
      return id;
    } catch (error) {
      throw unavailable((error as Error).message);
    }
  }

  #logCompletion(id: number, sha256: string): void {
    this.#send(['XADD', this.#keys.stream, 'MAXLEN', '~', String(this.#options.historyRetention), '*', 'n', this.#writer, 'i', String(id), 's', sha256]);
  }

  /**
   * Reads the history stream into this node's history, from the oldest entry kept (the local
   * store ignores what it has) and then as entries come. After a Redis outage it reads on from
   * the last entry it saw, so nothing logged meanwhile is missed.
   */
  async #follow(): Promise<void> {
    let last = '0-0';
    while (!this.#closed) {
      let reply: unknown;
      try {
        reply = await this.#reader.sendCommand(['XREAD', 'COUNT', '1000', 'BLOCK', String(this.#options.heartbeatMs), 'STREAMS', this.#keys.stream, last]);
      } catch (error) {
        // close() may have run during the await.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- TypeScript keeps the loop's narrowing across the await
        if (this.#closed) return;
        this.#logError('reading the history stream', error as Error);
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      if (reply === null) continue;
      // RESP2: [[stream, [[entryId, [field, value, ...]], ...]]]
      for (const [, entries] of reply as [string, [string, string[]][]][]) {
        for (const [entryId, fields] of entries) {
          last = entryId;
          if (fields[0] === 'n' && fields[1] === this.#writer) continue; // stored when it was appended
          const record = parseLogEntry(fields);
          if (record === undefined) continue;
          this.#highestId = Math.max(this.#highestId, record.id);
          this.#follower?.(record);
        }
      }
    }
  }

  // ---- Plumbing ------------------------------------------------------------------------

  /** Runs a script by its hash, loading it when Redis does not have it (first use, or after a restart). */
  async #run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.#command.sendCommand(['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      return this.#command.sendCommand(['EVAL', script.source, ...tail]);
    }
  }

  /** At most one line every few seconds: an outage must not flood the log. */
  #logError(what: string, error: Error): void {
    const now = Date.now();
    if (now - this.#lastErrorLog < 5_000) return;
    this.#lastErrorLog = now;
    this.#options.log.warn({ node: this.nodeId, err: error.message }, `cluster: ${what} failed`);
  }
}

function parseLogEntry(fields: string[]): LogRecord | undefined {
  const values = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) values.set(fields[i]!, fields[i + 1]!);
  const id = Number(values.get('i'));
  if (!Number.isSafeInteger(id)) return undefined;
  const sha256 = values.get('s');
  if (sha256 !== undefined) return { id, sha256 };
  const entry = values.get('e');
  if (entry === undefined) return undefined;
  return { id, ts: Number(values.get('t')), entry: JSON.parse(entry) as NewHistoryEntry };
}
