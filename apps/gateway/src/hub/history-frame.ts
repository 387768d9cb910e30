import { encodeMessage, type ClientMessageOf, type ServerMessageOf } from '@switchboard/protocol';
import type { HistoryPage } from '../history/history-store.js';

/** What a history reply answers; the reply repeats it. */
export type HistoryScope = Pick<ClientMessageOf<'history'>, 'room' | 'with' | 'private' | 'ref'>;

/**
 * A history reply that fits in one frame: 500 long messages would not, so entries are dropped
 * from the far end (the oldest when scrolling back or reading the newest, the newest when
 * catching up with `after`) and `more` tells the client to ask again from where it stopped.
 */
export function historyFrame(scope: HistoryScope, page: HistoryPage, forward: boolean, maxFrameLength: number): Uint8Array {
  return historyReply(scope, page, forward, maxFrameLength).frame;
}

/** historyFrame() with the entries it holds. */
export function historyReply(
  scope: HistoryScope,
  page: HistoryPage,
  forward: boolean,
  maxFrameLength: number,
): { frame: Uint8Array; entries: HistoryPage['entries'] } {
  let { entries, more } = page;
  for (;;) {
    const reply: ServerMessageOf<'history'> = { type: 'history', entries, more };
    if (scope.room !== undefined) reply.room = scope.room;
    if (scope.with !== undefined) reply.with = scope.with;
    if (scope.private !== undefined) reply.private = scope.private;
    if (scope.ref !== undefined) reply.ref = scope.ref;
    const frame = encodeMessage(reply);
    if (frame.length - 4 <= maxFrameLength || entries.length === 0) return { frame, entries };
    const keep = Math.floor(entries.length / 2);
    entries = forward ? entries.slice(0, keep) : entries.slice(entries.length - keep);
    more = true;
  }
}

/** A search reply that fits in one frame: the oldest hits are dropped, and `more` says to ask again with `before`. */
export function searchFrame(request: Pick<ClientMessageOf<'search'>, 'q' | 'room' | 'ref'>, page: HistoryPage, maxFrameLength: number): Uint8Array {
  let { entries, more } = page;
  for (;;) {
    const reply: ServerMessageOf<'search'> = { type: 'search', q: request.q, entries, more };
    if (request.room !== undefined) reply.room = request.room;
    if (request.ref !== undefined) reply.ref = request.ref;
    const frame = encodeMessage(reply);
    if (frame.length - 4 <= maxFrameLength || entries.length === 0) return frame;
    entries = entries.slice(0, Math.floor(entries.length / 2));
    more = true;
  }
}
