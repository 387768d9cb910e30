import type { HubLogger } from '../logger.js';
import type { PubSub } from './bus-protocol.js';
import { keySlot } from './key-slot.js';
import { openRedis, RedisPortError, type RedisPort, type ReplicaAck } from './redis-connection.js';
import { SCRIPTS, type ScriptName } from './redis-scripts.js';

export interface RedisConnectionsOptions {
  /** `--redis-url`: one Redis or a Redis Cluster (redis-url.ts). */
  url: string;
  /** How long connecting may take (five times this), and a command must answer where its caller waits. */
  timeoutMs: number;
  nodeId: string;
  log: HubLogger;
  /** Every message the subscriptions hear. */
  received(message: Buffer): void;
  /** Redis is back after an outage, or a cluster node is new or back (a promoted replica): not called for the first connection. */
  reconnected(what: string): void;
  /** 1: a write confirmed with `replicated()` waits until a replica has it (WAIT 1). Default 0. */
  waitReplicas?: number;
}

/**
 * The cluster's Redis I/O over one RedisPort (redis-connection.ts), so the same code runs on one
 * Redis or a Redis Cluster: commands routed by their first key, the scripts of redis-scripts.ts,
 * the blocking stream reader on its own connection, and pub/sub as a PubSub (sharded on a
 * cluster). What the messages mean is bus-protocol.ts's; what the keys hold, the modules that
 * use them. On a cluster every key one call names must be in one slot: the key layout
 * (redis-cluster.ts) sees to it, and a call that breaks it fails here with a clear error.
 */
export class RedisConnections {
  readonly pubsub: PubSub;
  readonly #options: RedisConnectionsOptions;
  #port: RedisPort | undefined;
  #connected = false;
  #closed = false;
  #lastErrorLog = 0;
  /** Replica confirmations per slot: the one in flight and the one that will follow it (group commit). */
  readonly #waits = new Map<number, { running?: Promise<ReplicaAck> | undefined; next?: Promise<ReplicaAck> | undefined }>();

  constructor(options: RedisConnectionsOptions) {
    this.#options = options;
    const listener = (message: Buffer): void => options.received(message);
    this.pubsub = {
      publish: (channel, message) => {
        const port = this.#port;
        if (port === undefined || !port.isReady) return Promise.reject(new Error('not connected to Redis'));
        return port.publish(channel, message);
      },
      // node-redis holds pub/sub commands until it is connected again: a join must not wait for
      // Redis's return, so a subscription fails at once while Redis is away (RoomInterest makes it
      // on reconnection) and both have a deadline.
      subscribe: async (channel) => {
        const port = this.#port;
        if (port === undefined || !port.allReady) throw new Error('not connected to Redis');
        await withTimeout(port.subscribe(channel, listener), options.timeoutMs, `subscribing to ${channel}`);
      },
      unsubscribe: async (channel) => {
        if (this.#port === undefined) return;
        await withTimeout(this.#port.unsubscribe(channel), options.timeoutMs, `unsubscribing from ${channel}`);
      },
    };
  }

  /** Connects; rejects when Redis (or no seed of the cluster) can be reached within five timeouts. */
  async connect(): Promise<void> {
    const { timeoutMs, url } = this.#options;
    this.#port = await openRedis({
      url,
      connectTimeoutMs: timeoutMs,
      openTimeoutMs: timeoutMs * 5,
      onError: (what, error) => this.logError(what, error),
      onReconnect: (what) => {
        if (this.#connected && !this.#closed) this.#options.reconnected(what);
      },
    });
    this.#connected = true;
  }

  /** One Redis, or a cluster. */
  get mode(): 'single' | 'cluster' {
    return this.#port?.mode ?? 'single';
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return this.#port?.isReady ?? false;
  }

  /** Whether every connection in use is up. */
  allReady(): boolean {
    return this.#port?.allReady ?? false;
  }

  /** A command as Redis spells it, routed (on a cluster) by its first key. */
  command(args: (string | Buffer)[]): Promise<unknown> {
    if (this.#port === undefined) return Promise.reject(new Error('not connected to Redis'));
    return this.#port.command(args, routingKey(args));
  }

  /** A command whose answer nobody waits for; its failure is logged (Redis being away is reported once, by status). */
  send(args: (string | Buffer)[]): void {
    if (!this.ready) return;
    this.command(args).catch((error: unknown) => this.logError(String(args[0]), error as Error));
  }

  /** Runs a registered script (EVALSHA, its source again on NOSCRIPT). */
  run(script: ScriptName, keys: string[], args: string[]): Promise<unknown> {
    if (this.#port === undefined) return Promise.reject(new Error('not connected to Redis'));
    return this.#port.run(SCRIPTS[script], keys, args);
  }

  /**
   * Runs a script by EVAL, its source every time: for a script whose calls must land in the
   * order sent. A NOSCRIPT retry (first use, after a Redis restart) would let later calls pass
   * it when another node loaded the script meanwhile.
   */
  runInOrder(script: ScriptName, keys: string[], args: string[]): Promise<unknown> {
    if (this.#port === undefined) return Promise.reject(new Error('not connected to Redis'));
    if (this.#port.mode === 'cluster' && new Set(keys.map(keySlot)).size > 1) {
      return Promise.reject(new RedisPortError(`script ${script}: on a Redis Cluster its keys must share a hash tag: ${keys.join(', ')}`));
    }
    return this.#port.command(['EVAL', SCRIPTS[script].SCRIPT, String(keys.length), ...keys, ...args], keys[0]);
  }

  /** A blocking read (XREAD … BLOCK … STREAMS key id), on its own connection so it holds up nothing else. */
  read(args: string[]): Promise<unknown> {
    if (this.#port === undefined) return Promise.reject(new Error('not connected to Redis'));
    return this.#port.blockingCommand(args, routingKey(args) ?? '');
  }

  /**
   * With `waitReplicas` 1: resolves once a replica of the master that took the writes made so
   * far to `key`'s slot has them (WAIT 1), and rejects when none says so within the timeout.
   * Calls that arrive while a WAIT is in flight share the next one (one WAIT covers every write
   * before it on that connection), so a busy room costs one WAIT per round trip, not per message.
   * One Redis, or `waitReplicas` 0: resolves at once.
   */
  async replicated(key: string): Promise<void> {
    const port = this.#port;
    if ((this.#options.waitReplicas ?? 0) < 1 || port === undefined || port.mode === 'single') return;
    const slot = keySlot(key);
    let group = this.#waits.get(slot);
    if (group === undefined) this.#waits.set(slot, (group = {}));
    const waits = group;
    const start = (): Promise<ReplicaAck> => {
      const running = port.waitForReplica(key, this.#options.timeoutMs).finally(() => {
        if (waits.running === running) waits.running = undefined;
      });
      waits.running = running;
      return running;
    };
    let ack: Promise<ReplicaAck>;
    if (waits.next !== undefined) ack = waits.next;
    else if (waits.running === undefined) ack = start();
    else {
      const next = waits.running.then(
        () => undefined,
        () => undefined,
      );
      ack = waits.next = next.then(() => {
        waits.next = undefined;
        return start();
      });
    }
    if ((await ack) === 'timed-out') throw new Error(`no replica confirmed the write within ${this.#options.timeoutMs} ms`);
  }

  /** Tests: cut every connection now, nothing said (kill -9). */
  crash(): void {
    this.#closed = true;
    this.#port?.destroy();
  }

  /** The reader is cut (it is blocked in XREAD); the others finish what is pending (members' goodbyes) first. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#port?.close(this.#options.timeoutMs);
  }

  /** At most one line every few seconds: an outage must not flood the log. */
  logError(what: string, error: Error): void {
    const now = Date.now();
    if (now - this.#lastErrorLog < 5_000) return;
    this.#lastErrorLog = now;
    this.#options.log.warn({ node: this.#options.nodeId, err: error.message }, `cluster: ${what} failed`);
  }
}

/** The key a command is routed by on a cluster: a script's first key, the stream an XREAD reads, else the first argument. */
function routingKey(args: readonly (string | Buffer)[]): string | undefined {
  const name = String(args[0]).toUpperCase();
  if (name === 'EVAL' || name === 'EVALSHA') return Number(args[2]) > 0 ? String(args[3]) : undefined;
  if (name === 'XREAD') {
    const streams = args.findIndex((arg) => String(arg).toUpperCase() === 'STREAMS');
    return streams === -1 ? undefined : String(args[streams + 1]);
  }
  return args.length > 1 ? String(args[1]) : undefined;
}

/** A command that did not answer in time: rejected (it may still land; the caller was told it did not). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
