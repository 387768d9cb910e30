import { createClient, createCluster, type RedisArgument, type RedisClientType, type RedisClusterType } from '@redis/client';
import { keySlot } from './key-slot.js';
import { parseRedisUrl, type RedisTarget } from './redis-url.js';
import { subscribeRetryMs } from './room-interest.js';

/**
 * One Redis or a Redis Cluster behind one small port (issue 25): what the cluster code needs of
 * Redis (commands, scripts, streams, pub/sub, WAIT) without knowing which it is talking to.
 * - On a cluster every command is routed by its key (node-redis follows MOVED and ASK, and maps
 *   the cluster again when a node stops answering, so a promoted replica is found), pub/sub is
 *   sharded (SPUBLISH/SSUBSCRIBE: a message goes to the shard that owns its channel's slot, not
 *   over the whole cluster bus), and every key of one script call must be in one
 *   slot (a shared hash tag: `{room:lobby}`), checked here with a clear error.
 * - On one Redis: the same calls, classic PUBLISH/SUBSCRIBE, and WAIT has nothing to wait for.
 * Connections: commands (one per node on a cluster); pub/sub (a separate one: a subscribed
 * connection takes no other commands); blocking stream reads (so a read that blocks holds up
 * no command).
 * The gateway's cluster code reaches Redis through this port only (redis-io.ts wraps it).
 */
export interface RedisPort {
  readonly mode: 'single' | 'cluster';
  /** Connected (a cluster: its map is known; a command to a shard whose master just died may still fail). */
  readonly isReady: boolean;
  /** Every connection in use is up (one Redis: commands, subscriptions and blocking reads; a cluster: as isReady). */
  readonly allReady: boolean;
  /** A command as Redis spells it; `key` (its first key) routes it on a cluster, and is needed there for any command that has one. */
  command(args: readonly RedisArgument[], key?: string): Promise<unknown>;
  /**
   * A script made by node-redis's defineScript (redis-scripts.ts's SCRIPTS): EVALSHA, then EVAL
   * when the node does not have it yet, as a client with the script registered does. Taken per
   * call, not registered on the client, so one port runs any script on one Redis or a cluster
   * (where the call goes to the master of its keys' slot). On a cluster all keys share a slot.
   */
  run(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown>;
  /** XADD with an automatic id, trimmed to about `maxLen` entries when given; resolves with the entry's id. */
  xadd(stream: string, fields: Readonly<Record<string, string>>, maxLen?: number): Promise<string>;
  /** XRANGE start…end (`-` and `+` for the ends, `(id` to exclude one), at most `count` entries. */
  xrange(stream: string, start: string, end: string, count?: number): Promise<StreamEntry[]>;
  /**
   * XREAD of one stream after an id, at most `count` entries; with `blockMs` it waits that long
   * for the first (0: forever) on the blocking-read connection, where reads run one after another.
   */
  xread(stream: string, after: string, options?: { count?: number; blockMs?: number }): Promise<StreamEntry[]>;
  /** A blocking command (XREAD … BLOCK as Redis spells it) on the blocking-read connection, routed by `key`; its raw reply. */
  blockingCommand(args: readonly string[], key: string): Promise<unknown>;
  /** Publishes on a channel (SPUBLISH on a cluster); resolves with how many subscribers of this shard (or Redis) got it. */
  publish(channel: string, message: string | Buffer): Promise<number>;
  /** Hears a channel (SSUBSCRIBE on a cluster). One listener per channel: subscribing again replaces it, without a round trip. */
  subscribe(channel: string, listener: ChannelListener): Promise<void>;
  /** Stops hearing a channel; a channel not heard is a no-op. */
  unsubscribe(channel: string): Promise<void>;
  /** The channels heard now. */
  channels(): string[];
  /**
   * After a write to `key`, waits (WAIT 1, at most `timeoutMs`) until a replica of the master that
   * took it has it too, so the write survives that master's loss. Call it after the write's reply,
   * on the same port: WAIT covers every write this port's connection to that master made before
   * it (so one WAIT confirms a batch). It blocks that connection meanwhile (every command to that
   * master waits), normally for a replication round trip. `no-replicas`, at once: one Redis (its
   * promise is its AOF, not a replica), or a master with no replica connected (ROLE, looked at
   * most once a second): after a failover, until the lost master is back as a replica.
   */
  waitForReplica(key: string, timeoutMs: number): Promise<ReplicaAck>;
  /** Lets the replies pending on the command connections arrive (at most `graceMs`), then closes every connection. */
  close(graceMs?: number): Promise<void>;
  /** Cuts every connection now, nothing said (a killed process's). */
  destroy(): void;
}

/** What run() needs of a defineScript result. */
export interface LuaScript {
  readonly SCRIPT: RedisArgument;
  readonly SHA1: string;
}

export interface StreamEntry {
  id: string;
  /** Field → value, in the entry's order. */
  fields: Record<string, string>;
}

export type ChannelListener = (message: Buffer, channel: string) => void;

/** `replicated`: a replica has the write; `timed-out`: none said so in time (it may still arrive); `no-replicas`: nothing to wait for (one Redis, or a master with no replica connected). */
export type ReplicaAck = 'replicated' | 'timed-out' | 'no-replicas';

export interface RedisConnectionOptions {
  /** `--redis-url`: see redis-url.ts for the forms. */
  url: string;
  /** How long connecting (and each reconnection attempt) may take. */
  connectTimeoutMs: number;
  /** How long openRedis may take in all, retries included, before it gives up. Default 5 × connectTimeoutMs. */
  openTimeoutMs?: number;
  /** Every connection's errors (an `error` event without a listener would end the process); `what` says which. */
  onError: (what: string, error: Error) => void;
  /**
   * A cluster: how long after a node's first failed reconnection the client asks the others
   * for the cluster's map again (to find the replica promoted in its place). Default 1000 ms
   * (node-redis's own default, 5 s, would use up most of the 10 s chat may be away).
   */
  topologyRefreshMs?: number;
  /**
   * Redis may have lost what this process put there, so publish it again: one Redis is back
   * after a restart or an outage; on a cluster, a lost node is back or a node not known before is
   * ready (a replica promoted after a failover, which may lack the last unconfirmed writes).
   * Not called for the first connections. `what` says which.
   */
  onReconnect?: (what: string) => void;
}

/** Errors of the port itself (not Redis's): a script's keys in several slots, no master known for a key. */
export class RedisPortError extends Error {}

// node-redis spells "no modules, functions or scripts" as `{}`.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- node-redis's own type parameters
type Client = RedisClientType<{}, {}, {}, 2>;
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- node-redis's own type parameters
type Cluster = RedisClusterType<{}, {}, {}, 2>;

/** What node-redis's cluster emits (cluster-slots.js RESUBSCRIBE_LISTENERS_EVENT) with the subscriptions of a node that left its map. */
const RESUBSCRIBE = '__resubscribeListeners';

/** Back off after a lost connection: 50 ms, doubling, at most a second between attempts. */
const reconnectStrategy = (retries: number): number => Math.min(50 * 2 ** retries, 1000);

/**
 * Connects to what `options.url` names and resolves once it is usable; rejects (with every
 * connection closed) if it cannot be reached within `openTimeoutMs` (node-redis alone would
 * retry one Redis for ever).
 */
export async function openRedis(options: RedisConnectionOptions): Promise<RedisPort> {
  const target = parseRedisUrl(options.url);
  const port = target.kind === 'single' ? new SingleRedis(target.url, options) : new ClusterRedis(target, options);
  const withinMs = options.openTimeoutMs ?? options.connectTimeoutMs * 5;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      port.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis (${options.url}) did not answer within ${withinMs} ms`)), withinMs);
      }),
    ]);
  } catch (error) {
    port.destroy();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return port;
}

function sameSlot(keys: readonly string[], what: string): void {
  const slots = new Set(keys.map(keySlot));
  if (slots.size > 1) throw new RedisPortError(`${what}: on a Redis Cluster these keys must share a hash tag ({...}) to be in one slot: ${keys.join(', ')}`);
}

function parseEntries(reply: unknown): StreamEntry[] {
  // RESP2: [[id, [field, value, ...]], ...]
  return ((reply ?? []) as [string, string[]][]).map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { id, fields };
  });
}

function xaddArgs(stream: string, fields: Readonly<Record<string, string>>, maxLen: number | undefined): string[] {
  return ['XADD', stream, ...(maxLen === undefined ? [] : ['MAXLEN', '~', String(maxLen)]), '*', ...Object.entries(fields).flat()];
}

function xreadArgs(stream: string, after: string, options: { count?: number; blockMs?: number }): string[] {
  return [
    'XREAD',
    ...(options.count === undefined ? [] : ['COUNT', String(options.count)]),
    ...(options.blockMs === undefined ? [] : ['BLOCK', String(options.blockMs)]),
    'STREAMS',
    stream,
    after,
  ];
}

/** XREAD's reply for one stream: null (nothing) or [[stream, entries]]. */
function xreadEntries(reply: unknown): StreamEntry[] {
  if (reply === null) return [];
  return parseEntries((reply as [string, unknown][])[0]?.[1]);
}

/** The parts both kinds share: the table of channel listeners, and scripts by SHA with EVAL as the fallback. */
abstract class PortBase implements RedisPort {
  abstract readonly mode: 'single' | 'cluster';
  abstract readonly isReady: boolean;
  abstract readonly allReady: boolean;
  protected readonly listeners = new Map<string, ChannelListener>();
  /** Channels whose subscription Redis acknowledged (and not left since). */
  readonly #heard = new Set<string>();
  /** Channels whose subscription is on its way to Redis: a second subscribe awaits it. */
  readonly #listening = new Map<string, Promise<void>>();
  protected closed = false;
  protected constructor(protected readonly options: RedisConnectionOptions) {}

  abstract connect(): Promise<void>;
  abstract command(args: readonly RedisArgument[], key?: string): Promise<unknown>;
  abstract blockingCommand(args: readonly string[], key: string): Promise<unknown>;
  protected abstract listen(channel: string): Promise<void>;
  protected abstract unlisten(channel: string): Promise<void>;
  abstract publish(channel: string, message: string | Buffer): Promise<number>;
  abstract waitForReplica(key: string, timeoutMs: number): Promise<ReplicaAck>;
  abstract destroy(): void;
  /** The graceful part of close(): each kind's. */
  protected abstract quit(): Promise<void>;

  async close(graceMs = 1000): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    // A node that does not answer must not hold the close up: what is left is cut.
    await Promise.race([this.quit().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.destroy();
  }

  /** Hands a message to its channel's listener (node-redis gives the channel as a Buffer in buffer mode). */
  protected readonly deliver = (message: Buffer, channel: Buffer | string): void => {
    const name = channel.toString();
    this.listeners.get(name)?.(message, name);
  };

  async run(script: LuaScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    if (this.mode === 'cluster') sameSlot(keys, 'a script');
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.command(['EVALSHA', script.SHA1, ...tail], keys[0]);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      return this.command(['EVAL', script.SCRIPT, ...tail], keys[0]);
    }
  }

  async xadd(stream: string, fields: Readonly<Record<string, string>>, maxLen?: number): Promise<string> {
    return (await this.command(xaddArgs(stream, fields, maxLen), stream)) as string;
  }

  async xrange(stream: string, start: string, end: string, count?: number): Promise<StreamEntry[]> {
    return parseEntries(await this.command(['XRANGE', stream, start, end, ...(count === undefined ? [] : ['COUNT', String(count)])], stream));
  }

  async xread(stream: string, after: string, options: { count?: number; blockMs?: number } = {}): Promise<StreamEntry[]> {
    const args = xreadArgs(stream, after, options);
    return xreadEntries(options.blockMs === undefined ? await this.command(args, stream) : await this.blockingCommand(args, stream));
  }

  async subscribe(channel: string, listener: ChannelListener): Promise<void> {
    this.listeners.set(channel, listener);
    if (this.#heard.has(channel)) return;
    // A subscription still in flight (its caller gave up waiting: a shard failing over) is
    // awaited, not taken for done: if it fails, this call fails too and the channel is not heard.
    let listening = this.#listening.get(channel);
    if (listening === undefined) {
      listening = this.listen(channel).then(
        () => {
          if (this.#listening.get(channel) === listening) this.#listening.delete(channel);
          if (this.listeners.has(channel)) this.#heard.add(channel);
        },
        (error: unknown) => {
          if (this.#listening.get(channel) === listening) this.#listening.delete(channel);
          throw error;
        },
      );
      this.#listening.set(channel, listening);
    }
    try {
      await listening;
    } catch (error) {
      // Not heard, unless heard or asked again meanwhile.
      if (!this.#heard.has(channel) && !this.#listening.has(channel)) this.listeners.delete(channel);
      throw error;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#heard.delete(channel);
    if (!this.listeners.delete(channel)) return;
    await this.unlisten(channel);
  }

  channels(): string[] {
    return [...this.listeners.keys()];
  }
}

/** One Redis: a command connection, a subscriber and (at the first blocking read) a reader, all duplicates of one client. */
class SingleRedis extends PortBase {
  readonly mode = 'single';
  readonly #command: Client;
  readonly #subscriber: Client;
  #reader: Client | undefined;

  constructor(url: string, options: RedisConnectionOptions) {
    super(options);
    // Commands fail at once while Redis is away (no offline queue): a message is refused, never queued and acknowledged later.
    this.#command = createClient({
      url,
      RESP: 2,
      disableOfflineQueue: true,
      // No per-command timer (a tenth of the gateway's CPU per message in a profile): callers that must answer in time have their own deadline.
      commandOptions: { timeout: 0 },
      socket: { connectTimeout: options.connectTimeoutMs, reconnectStrategy },
    });
    this.#command.on('error', (error: Error) => options.onError('commands', error));
    this.#subscriber = this.#duplicate('subscriptions');
  }

  #duplicate(role: string): Client {
    const client = this.#command.duplicate();
    client.on('error', (error: Error) => this.options.onError(role, error));
    return client;
  }

  get isReady(): boolean {
    return this.#command.isReady;
  }

  get allReady(): boolean {
    return this.#command.isReady && this.#subscriber.isReady && (this.#reader?.isReady ?? true);
  }

  async connect(): Promise<void> {
    // The reader too, at once: one Redis's three connections go down and come back together, and allReady counts all three.
    this.#reader = this.#duplicate('blocking reads');
    await Promise.all([this.#command.connect(), this.#subscriber.connect(), this.#reader.connect()]);
    // Redis is back once every connection is: each comes back on its own backoff, and the resync
    // this sets off needs the command connection (were it said at the subscriber's return alone,
    // it would find that one still away, and skip: this gateway's state never published again).
    for (const client of [this.#command, this.#subscriber, this.#reader]) {
      client.on('ready', () => {
        if (this.allReady) this.options.onReconnect?.('redis');
      });
    }
  }

  command(args: readonly RedisArgument[]): Promise<unknown> {
    return this.#command.sendCommand([...args]);
  }

  async blockingCommand(args: readonly string[]): Promise<unknown> {
    if (this.#reader === undefined) {
      this.#reader = this.#duplicate('blocking reads');
      await this.#reader.connect();
    }
    return this.#reader.sendCommand([...args]);
  }

  protected listen(channel: string): Promise<void> {
    return this.#subscriber.subscribe(channel, this.deliver, true);
  }

  protected unlisten(channel: string): Promise<void> {
    return this.#subscriber.unsubscribe(channel);
  }

  publish(channel: string, message: string | Buffer): Promise<number> {
    return this.#command.publish(channel, message);
  }

  waitForReplica(): Promise<ReplicaAck> {
    return Promise.resolve('no-replicas');
  }

  protected async quit(): Promise<void> {
    // The reader is blocked in XREAD: cut at once. The others deliver what is pending (members' goodbyes) first.
    if (this.#reader?.isOpen === true) this.#reader.destroy();
    await Promise.all([this.#command, this.#subscriber].map((client) => (client.isReady ? client.close() : Promise.resolve())));
  }

  destroy(): void {
    this.closed = true;
    this.listeners.clear();
    const clients = [this.#command, this.#subscriber, ...(this.#reader === undefined ? [] : [this.#reader])];
    for (const client of clients) if (client.isOpen) client.destroy();
  }
}

/** A Redis Cluster: node-redis's cluster client (one connection per node, sharded pub/sub per master), and a second one for blocking reads. */
class ClusterRedis extends PortBase {
  readonly mode = 'cluster';
  readonly #cluster: Cluster;
  #reader: Cluster | undefined;
  #readerOpen: Promise<void> | undefined;

  constructor(target: Extract<RedisTarget, { kind: 'cluster' }>, options: RedisConnectionOptions) {
    super(options);
    const socket = { connectTimeout: options.connectTimeoutMs, reconnectStrategy, ...(target.tls ? { tls: true as const } : {}) };
    this.#cluster = createCluster({
      rootNodes: target.seeds.map((seed) => ({ socket: { ...socket, host: seed.host, port: seed.port } })),
      // What every connection to every node takes (rootNodes only serve to find the cluster's map).
      defaults: { username: target.username, password: target.password, socket, disableOfflineQueue: true },
      RESP: 2,
      commandOptions: { timeout: 0 },
      topologyRefreshOnReconnectionAttemptStrategy: options.topologyRefreshMs ?? 1000,
    });
    this.#watch(this.#cluster, '');
    // node-redis moves a lost node's subscriptions to the new map without awaiting it: one that
    // fails would be an unhandled rejection (the end of the process) and a channel never heard
    // again. Done here instead, retried until it holds (only where node-redis is as expected).
    if (this.#cluster.listenerCount(RESUBSCRIBE) === 1) {
      this.#cluster.removeAllListeners(RESUBSCRIBE);
      this.#cluster.on(RESUBSCRIBE, (lost: { SHARDED?: Map<string, unknown> }) => {
        for (const channel of lost.SHARDED?.keys() ?? []) void this.#resubscribe(channel);
      });
    }
    // A slot moved and node-redis could not follow its channel there.
    this.#cluster.on('sharded-channel-moved-error', (error: Error, channel: string) => {
      this.options.onError(`moving ${channel}`, error);
      void this.#resubscribe(channel);
    });
  }

  #watch(cluster: Cluster, role: string): void {
    cluster.on('error', (error: Error) => this.options.onError(`${role}cluster`, error));
    cluster.on('node-error', (error: Error, node: { host: string; port: number }) => this.options.onError(`${role}node ${node.host}:${node.port}`, error));
  }

  /** Hears a channel again after its master changed, retrying (at most a second apart) while it is still wanted. */
  async #resubscribe(channel: string): Promise<void> {
    const wanted = (): boolean => !this.closed && this.listeners.has(channel);
    for (let attempt = 0; wanted(); attempt++) {
      try {
        await this.#cluster.sSubscribe(channel, this.deliver, true);
        // Unsubscribed meanwhile: do not keep hearing it.
        if (!wanted() && this.#cluster.isOpen) await this.#cluster.sUnsubscribe(channel);
        return;
      } catch (error) {
        this.options.onError(`resubscribing ${channel}`, error as Error);
        await new Promise((resolve) => setTimeout(resolve, subscribeRetryMs(attempt)));
      }
    }
  }

  get isReady(): boolean {
    return this.#cluster.isReady;
  }

  get allReady(): boolean {
    return this.#cluster.isReady && (this.#reader?.isReady ?? true);
  }

  async connect(): Promise<void> {
    await Promise.all([this.#cluster.connect(), this.#openReader()]);
    // Addresses ready so far; a node-ready after now is news when its address is new (a
    // promoted replica) or was lost, not when it is another connection to a known node.
    const known = new Set(this.#cluster.masters.map((node) => node.address));
    const lost = new Set<string>();
    this.#cluster.on('node-reconnecting', (node: { host: string; port: number }) => lost.add(`${node.host}:${node.port}`));
    this.#cluster.on('node-ready', (node: { host: string; port: number }) => {
      const address = `${node.host}:${node.port}`;
      if (known.has(address) && !lost.has(address)) return;
      known.add(address);
      lost.delete(address);
      this.options.onReconnect?.(`node ${address}`);
    });
  }

  command(args: readonly RedisArgument[], key?: string): Promise<unknown> {
    return this.#cluster.sendCommand(key, undefined, [...args]);
  }

  async blockingCommand(args: readonly string[], key: string): Promise<unknown> {
    return (await this.#openReader()).sendCommand(key, undefined, [...args]);
  }

  /** The cluster client for blocking reads: only the connections reads need (a blocking read would hold up every command behind it on a shared one). */
  async #openReader(): Promise<Cluster> {
    if (this.#reader === undefined) {
      const reader = (this.#reader = this.#cluster.duplicate({ minimizeConnections: true }));
      this.#watch(reader, 'blocking reads: ');
      this.#readerOpen = reader.connect().then(() => undefined);
    }
    await this.#readerOpen;
    return this.#reader;
  }

  protected listen(channel: string): Promise<void> {
    return this.#cluster.sSubscribe(channel, this.deliver, true);
  }

  protected unlisten(channel: string): Promise<void> {
    return this.#cluster.sUnsubscribe(channel);
  }

  publish(channel: string, message: string | Buffer): Promise<number> {
    return this.#cluster.sPublish(channel, message);
  }

  /**
   * WAIT on the very connection that took the write: node-redis's policy table sends a plain
   * WAIT to every master and answers the least of their counts, which is not this write's.
   */
  async waitForReplica(key: string, timeoutMs: number): Promise<ReplicaAck> {
    const master = this.#cluster.slots[keySlot(key)]?.master;
    if (master === undefined) throw new RedisPortError(`no master is known for the slot of ${key}`);
    const client = await this.#cluster.nodeClient(master);
    if ((await this.#connectedReplicas(client, master.address)) === 0) return 'no-replicas';
    const replicas = await client.sendCommand<number>(['WAIT', '1', String(Math.max(1, Math.round(timeoutMs)))]);
    return replicas >= 1 ? 'replicated' : 'timed-out';
  }

  /** Masters' connected replicas (ROLE's list), each looked up at most once a second: WAIT on a master with none would only time out. */
  readonly #replicaCounts = new Map<string, { count: number; at: number }>();

  async #connectedReplicas(client: { sendCommand<T>(args: string[]): Promise<T> }, address: string): Promise<number> {
    const known = this.#replicaCounts.get(address);
    if (known !== undefined && Date.now() - known.at < 1000) return known.count;
    // A master's ROLE: ['master', offset, [[host, port, offset], ...]].
    const role = await client.sendCommand<[string, unknown, unknown[] | undefined]>(['ROLE']);
    const count = role[0] === 'master' ? (role[2]?.length ?? 0) : 0;
    this.#replicaCounts.set(address, { count, at: Date.now() });
    return count;
  }

  protected async quit(): Promise<void> {
    if (this.#reader?.isOpen === true) this.#reader.destroy();
    if (this.#cluster.isReady) await this.#cluster.close();
  }

  destroy(): void {
    this.closed = true;
    this.listeners.clear();
    for (const cluster of [this.#cluster, ...(this.#reader === undefined ? [] : [this.#reader])]) if (cluster.isOpen) cluster.destroy();
  }
}
