// Stored messages from the server's history (PROTOCOL.md §6): the newest page of a room when it
// is joined, every private conversation when a session starts, older pages as the user scrolls
// back, and everything after an id when a session resumes. Each request knows what it asked
// for, so its page is applied by its ref, never by the fields a reply repeats.
import type { ServerMessageOf } from '@switchboard/protocol';
import type { Conversation } from './conversation.svelte.js';
import type { Conversations } from './conversations.svelte.js';
import type { ErrorReporter } from './error-notes.svelte.js';
import type { Request, RequestTracker } from './requests.js';

type History = ServerMessageOf<'history'>;
type HistoryRequest = Extract<Request, { type: 'history' }>;

/** The newest page, the page before the oldest message shown, or the messages after an id. */
export type HistoryPurpose = 'latest' | 'older' | 'after';

/** What a history request asked for: its page is applied by this, not by the fields the reply repeats. */
export interface PageRequest {
  purpose: HistoryPurpose;
  /** The conversation asked about: its "older messages exist" flag follows the page. */
  scoped?: Conversation | undefined;
  /** The one room a catch-up covers, asked again for the next page. */
  room?: string | undefined;
  /** Messages from someone without a conversation yet open one (always so when catching up). */
  openPrivate?: boolean;
}

export const HISTORY_PAGE = 50;
const CATCH_UP_PAGE = 500;
/** A page that has not come by then is not coming: stop showing "loading". */
const HISTORY_TIMEOUT_MS = 20_000;

export class HistorySync {
  #requests: RequestTracker;
  #conversations: Conversations;
  #report: ErrorReporter;

  constructor(requests: RequestTracker, conversations: Conversations, report: ErrorReporter) {
    this.#requests = requests;
    this.#conversations = conversations;
    this.#report = report;
  }

  /** Asks for the page before the oldest message shown in a conversation. */
  loadOlder(conversation: Conversation): void {
    if (!conversation.hasOlder || conversation.loadingOlder) return;
    const request: HistoryRequest = {
      type: 'history',
      ...(conversation.kind === 'room' ? { room: conversation.name } : { with: conversation.name }),
      limit: HISTORY_PAGE,
    };
    const before = conversation.oldestId;
    if (before !== undefined) request.before = before;
    const sent = this.#ask(request, { purpose: 'older', scoped: conversation }, () => conversation.setLoadingOlder(false));
    if (sent) conversation.setLoadingOlder(true);
  }

  /** The newest private messages to or from you: a new session rebuilds its private conversations. */
  loadPrivate(): void {
    this.#ask({ type: 'history', private: true, limit: HISTORY_PAGE }, { purpose: 'latest', openPrivate: true });
  }

  /** Everything stored after `after` (in one room, or in all your rooms and private messages), page by page. */
  catchUp(after: number, room?: string): void {
    const request: HistoryRequest = { type: 'history', after, limit: CATCH_UP_PAGE };
    if (room !== undefined) request.room = room;
    this.#ask(request, { purpose: 'after', room });
  }

  /** Applies a page as the answer to what was asked. */
  apply(history: History, asked: PageRequest): void {
    const { purpose, scoped } = asked;
    // Catching up may bring private messages from someone we have no conversation with yet.
    const openPrivate = purpose === 'after' || asked.openPrivate === true;
    const newest = this.#conversations.mergeStored(history.entries, openPrivate);
    if (scoped && purpose !== 'after') {
      scoped.setHasOlder(history.more);
      scoped.setLoadingOlder(false);
    }
    if (purpose === 'after' && history.more && newest > 0) this.catchUp(newest, asked.room);
  }

  /**
   * A page no pending request asked for: one without a ref (a server that does not repeat
   * refs), or one whose request timed out. Only then are the fields a reply repeats used: it
   * is merged as the newest page of the conversation it names.
   */
  applyUnrequested(history: History): void {
    const scoped =
      history.room !== undefined
        ? this.#conversations.room(history.room)
        : history.with !== undefined
          ? this.#conversations.privateWith(history.with, false)
          : undefined;
    this.apply(history, { purpose: 'latest', scoped, openPrivate: history.private === true });
  }

  #ask(request: HistoryRequest, asked: PageRequest, onFailed?: () => void): boolean {
    const ref = this.#requests.send(request, {
      reply: (message) => {
        if (message.type !== 'history') return false;
        this.apply(message, asked);
        return true;
      },
      error: (error) => {
        onFailed?.();
        this.#report(error.code, error.message);
      },
      lost: () => onFailed?.(),
      timeoutMs: HISTORY_TIMEOUT_MS,
    });
    if (ref === null) {
      this.#report('NOT_CONNECTED', 'Not connected to the gateway; nothing was sent.');
      return false;
    }
    return true;
  }
}
