/** Where a history entry is logged: a room's stream, or one identity's private conversations. */
export type LogStream = { room: string } | { identity: string };

/**
 * The history's Redis keys, named here only. The counter is the one every node shares, under
 * the `{shared}` tag (redis-cluster.ts, keyLayout). `by-room` (one Redis): each room's stream
 * carries the room's hash tag, `{room:<name>}`, like its pub/sub channel, so it can later live on
 * the shard that owns the room (the append script names the counter and a stream in two slots,
 * which one Redis allows). `one-slot` (a Redis Cluster, while ids come from one counter): every
 * stream under `{shared}` beside the counter, so the append script's keys are in one slot.
 */
export interface HistoryKeys {
  /** The message id counter (INCR). */
  readonly counter: string;
  stream(of: LogStream): string;
}

export type HistoryKeyLayout = 'by-room' | 'one-slot';

export function historyKeys(prefix: string, layout: HistoryKeyLayout): HistoryKeys {
  const shared = `${prefix}{shared}:`;
  const counter = `${shared}message-id`;
  if (layout === 'one-slot') {
    return { counter, stream: (of) => ('room' in of ? `${shared}room:${of.room}` : `${shared}identity:${of.identity}`) };
  }
  return { counter, stream: (of) => ('room' in of ? `${prefix}{room:${of.room}}:log` : `${prefix}{identity:${of.identity}}:log`) };
}
