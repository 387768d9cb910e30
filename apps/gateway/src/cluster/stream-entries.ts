import { ProtocolError } from '@switchboard/protocol';
import type { NewHistoryEntry } from '../history/history-store.js';
import type { LogRecord } from './cluster.js';

export function unavailable(why: string): ProtocolError {
  return new ProtocolError('CLUSTER_UNAVAILABLE', `The gateways' Redis is unreachable (${why}); this was not taken. Try again shortly.`);
}

/** The room an entry was said in (undefined: a private message or file). */
export function roomOf(entry: NewHistoryEntry): string | undefined {
  return entry.kind === 'private' ? undefined : entry.room;
}

/** Orders two stream ids (`<ms>-<seq>`). */
export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  // Called for every entry heard or read: no arrays.
  const [aMs, aSeq] = streamIdParts(a);
  const [bMs, bSeq] = streamIdParts(b);
  return aMs - bMs || aSeq - bSeq;
}

function streamIdParts(id: string): [number, number] {
  const dash = id.indexOf('-');
  if (dash === -1) return [Number(id) || 0, 0];
  return [Number(id.slice(0, dash)) || 0, Number(id.slice(dash + 1)) || 0];
}

/** A stream entry's fields (`i` id, `t` ts, `e` entry JSON, or `s` a file's checksum) as a record for the history. */
export function parseLogEntry(fields: string[]): LogRecord | undefined {
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
