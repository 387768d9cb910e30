import { randomBytes } from 'node:crypto';
import { ProtocolError } from '@switchboard/protocol';
import type { NewHistoryEntry } from '../history/history-store.js';
import type { LogRecord, MessageLog } from './cluster.js';
import { withTimeout, type RedisConnections } from './redis-io.js';

export interface RedisHistoryOptions {
  redis: RedisConnections;
  keys: { counter: string; stream: string };
  /** Entries kept in the stream (MAXLEN ~). */
  retention: number;
  /** How long storing a message may take. */
  timeoutMs: number;
  /** How long one blocking read waits before it is made again. */
  blockMs: number;
  /** The highest message id this node's own history holds: ids go on above it. */
  lastHistoryId: number;
}

export function unavailable(why: string): ProtocolError {
  return new ProtocolError('CLUSTER_UNAVAILABLE', `The gateways' Redis is unreachable (${why}); this was not taken. Try again shortly.`);
}

/**
 * The history stream: one Redis stream (`log`), trimmed to `retention` entries; each entry is
 * appended with its message id by one script (APPEND), so ids increase across the cluster and
 * stream order is id order. Every node reads the stream into its own SQLite history, from where
 * its members and REST read (every room's, served or not); a node that was away reads on from
 * where it was.
 */
export class RedisHistory implements MessageLog {
  readonly #options: RedisHistoryOptions;
  /** This process's tag in the stream: its own entries (stored already) are skipped unread; a restarted node reads its earlier ones. */
  readonly #writer = randomBytes(6).toString('hex');
  #follower: ((record: LogRecord) => void) | undefined;
  #highestId: number;
  #closed = false;

  constructor(options: RedisHistoryOptions) {
    this.#options = options;
    this.#highestId = options.lastHistoryId;
  }

  /** The highest message id this node has stored or seen: if Redis comes back without its data, ids go on above it. */
  get highestId(): number {
    return this.#highestId;
  }

  async append(entry: NewHistoryEntry, ts: number): Promise<number> {
    const { redis, keys, retention, timeoutMs } = this.#options;
    if (!redis.ready) throw unavailable('not connected');
    try {
      // In order: a member's messages must be stored in the order sent (redis-io.ts, runInOrder).
      const appended = redis.runInOrder('append', [keys.counter, keys.stream], [String(retention), this.#writer, String(ts), JSON.stringify(entry)]);
      const id = Number(await withTimeout(appended, timeoutMs, 'storing a message'));
      this.#highestId = Math.max(this.#highestId, id);
      return id;
    } catch (error) {
      throw unavailable((error as Error).message);
    }
  }

  completeFile(id: number, sha256: string): void {
    const { redis, keys, retention } = this.#options;
    redis.send(['XADD', keys.stream, 'MAXLEN', '~', String(retention), '*', 'n', this.#writer, 'i', String(id), 's', sha256]);
  }

  follow(handler: (record: LogRecord) => void): void {
    this.#follower = handler;
    void this.#follow();
  }

  /** The reading loop ends (the reader connection is cut by the caller). */
  stop(): void {
    this.#closed = true;
  }

  /**
   * Reads the stream into this node's history, from the oldest entry kept (the local store
   * ignores what it has) and then as entries come. After a Redis outage it reads on from the
   * last entry it saw, so nothing logged meanwhile is missed.
   */
  async #follow(): Promise<void> {
    const { redis, keys, blockMs } = this.#options;
    let last = '0-0';
    while (!this.#closed) {
      let reply: unknown;
      try {
        reply = await redis.read(['XREAD', 'COUNT', '1000', 'BLOCK', String(blockMs), 'STREAMS', keys.stream, last]);
      } catch (error) {
        // stop() may have run during the await.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- TypeScript keeps the loop's narrowing across the await
        if (this.#closed) return;
        redis.logError('reading the history stream', error as Error);
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
