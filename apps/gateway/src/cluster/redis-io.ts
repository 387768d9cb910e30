import { createClient, type RedisClientType } from '@redis/client';
import type { HubLogger } from '../logger.js';
import type { PubSub } from './bus-protocol.js';
import { SCRIPTS, type ScriptName } from './redis-scripts.js';

// node-redis spells "no modules or functions" as `{}`.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- node-redis's own type parameters
type Client = RedisClientType<{}, {}, typeof SCRIPTS, 2>;

export interface RedisConnectionsOptions {
  url: string;
  /** How long connecting may take (five times this), and a command must answer where its caller waits. */
  timeoutMs: number;
  nodeId: string;
  log: HubLogger;
  /** Every message the subscriptions hear. */
  received(message: Buffer): void;
  /** The subscriber connection is ready again after an outage (not called for the first connection). */
  reconnected(): void;
}

/**
 * The cluster's Redis I/O: three connections (commands, subscriptions, the blocking stream
 * reader), the scripts registered on them, and pub/sub as a PubSub port over one Redis. What
 * the messages mean is bus-protocol.ts's; what the keys hold, the modules that use them.
 */
export class RedisConnections {
  readonly pubsub: PubSub;
  readonly #options: RedisConnectionsOptions;
  readonly #command: Client;
  readonly #subscriber: Client;
  readonly #reader: Client;
  readonly #listener: (message: Buffer) => void;
  #connected = false;
  #closed = false;
  #lastErrorLog = 0;

  constructor(options: RedisConnectionsOptions) {
    this.#options = options;
    // Commands fail at once while Redis is away (no offline queue): a message is refused, never queued and acknowledged later.
    this.#command = createClient({
      url: options.url,
      RESP: 2,
      scripts: SCRIPTS,
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
      client.on('error', (error: Error) => this.logError(role, error));
    }
    this.#subscriber.on('ready', () => {
      if (this.#connected && !this.#closed) options.reconnected();
    });
    this.#listener = (message) => options.received(message);
    const subscriber = this.#subscriber;
    this.pubsub = {
      publish: async (channel, message) => {
        if (!this.#command.isReady) throw new Error('not connected to Redis');
        return Number(await this.#command.sendCommand(['PUBLISH', channel, message]));
      },
      // node-redis holds pub/sub commands until it is connected again: a join must not wait for
      // Redis's return, so a subscription fails at once while Redis is away (RoomInterest makes it
      // on reconnection) and both have a deadline.
      subscribe: async (channel) => {
        if (!subscriber.isReady) throw new Error('not connected to Redis');
        await withTimeout(subscriber.subscribe(channel, this.#listener, true), options.timeoutMs, `subscribing to ${channel}`);
      },
      unsubscribe: (channel) => withTimeout(subscriber.unsubscribe(channel, this.#listener, true), options.timeoutMs, `unsubscribing from ${channel}`),
    };
  }

  /** Connects all three; rejects when Redis cannot be reached within five timeouts. */
  async connect(): Promise<void> {
    const { timeoutMs, url } = this.#options;
    await withTimeout(Promise.all([this.#command.connect(), this.#subscriber.connect(), this.#reader.connect()]), timeoutMs * 5, `connecting to ${url}`);
    this.#connected = true;
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return this.#command.isReady;
  }

  /** Whether all three connections are up. */
  allReady(): boolean {
    return this.#command.isReady && this.#subscriber.isReady && this.#reader.isReady;
  }

  command(args: (string | Buffer)[]): Promise<unknown> {
    return this.#command.sendCommand(args);
  }

  /** A command whose answer nobody waits for; its failure is logged (Redis being away is reported once, by status). */
  send(args: (string | Buffer)[]): void {
    if (!this.#command.isReady) return;
    this.#command.sendCommand(args).catch((error: unknown) => this.logError(String(args[0]), error as Error));
  }

  /** Runs a registered script (EVALSHA, its source again on NOSCRIPT: node-redis's). */
  run(script: ScriptName, keys: string[], args: string[]): Promise<unknown> {
    return this.#command[script](keys, args);
  }

  /**
   * Runs a script by EVAL, its source every time: for a script whose calls must land in the
   * order sent. A NOSCRIPT retry (first use, after a Redis restart) would let later calls pass
   * it when another node loaded the script meanwhile.
   */
  runInOrder(script: ScriptName, keys: string[], args: string[]): Promise<unknown> {
    return this.#command.sendCommand(['EVAL', SCRIPTS[script].SCRIPT, String(keys.length), ...keys, ...args]);
  }

  /** A blocking read (XREAD … BLOCK), on its own connection so it holds up nothing else. */
  read(args: string[]): Promise<unknown> {
    return this.#reader.sendCommand(args);
  }

  /** Tests: cut every connection now, nothing said (kill -9). */
  crash(): void {
    this.#closed = true;
    for (const client of [this.#reader, this.#subscriber, this.#command]) if (client.isOpen) client.destroy();
  }

  /** The reader is cut (it is blocked in XREAD); the others finish what is pending (members' goodbyes) first. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reader.isOpen) this.#reader.destroy();
    await Promise.allSettled(
      [this.#subscriber, this.#command].map(async (client) => {
        if (client.isReady) await client.close();
        else if (client.isOpen) client.destroy();
      }),
    );
  }

  /** At most one line every few seconds: an outage must not flood the log. */
  logError(what: string, error: Error): void {
    const now = Date.now();
    if (now - this.#lastErrorLog < 5_000) return;
    this.#lastErrorLog = now;
    this.#options.log.warn({ node: this.#options.nodeId, err: error.message }, `cluster: ${what} failed`);
  }
}

/** A command that did not answer in time: rejected (it may still land; the caller was told it did not). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
