/** Where a history entry is logged: a room's stream, or one identity's private conversations. */
export type LogStream = { room: string } | { identity: string };

/**
 * The history's Redis keys, named here only. `by-room` (a single Redis): each room's stream
 * carries the room's hash tag, `{room:<name>}`, like its pub/sub channel, so it can later live on
 * the shard that owns the room; the counter keeps the name it has always had. `one-slot` (a Redis
 * Cluster, while ids come from one counter): the counter and every stream share the tag
 * `{history}`, so the append script's keys are in one slot.
 */
export interface HistoryKeys {
  /** The message id counter (INCR). */
  readonly counter: string;
  stream(of: LogStream): string;
}

export type HistoryKeyLayout = 'by-room' | 'one-slot';

export function historyKeys(prefix: string, layout: HistoryKeyLayout = 'by-room'): HistoryKeys {
  if (layout === 'one-slot') {
    return {
      counter: `${prefix}{history}:message-id`,
      stream: (of) => ('room' in of ? `${prefix}{history}:room:${of.room}` : `${prefix}{history}:identity:${of.identity}`),
    };
  }
  return {
    counter: `${prefix}message-id`,
    stream: (of) => ('room' in of ? `${prefix}{room:${of.room}}:log` : `${prefix}{identity:${of.identity}}:log`),
  };
}
