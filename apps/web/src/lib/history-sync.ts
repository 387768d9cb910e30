// Stored messages from the server's history (PROTOCOL.md §6): the newest page of a room when it
// is joined, every private conversation when a session starts, older pages as the user scrolls
// back, and everything after an id when a session resumes: each room from its own last id, the
// private conversations from the last private entry (ids increase within one room only). Each
// request knows what it asked for, so its page is applied by its ref, never by the fields a reply repeats.
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
  /** What a catch-up covers (one room, or the private conversations), asked again for the next page. */
  from?: CatchUpScope | undefined;
  /** Messages from someone without a conversation yet open one (always so when catching up). */
  openPrivate?: boolean;
}

/** One room, by its own ids; or every private conversation, by (ts, id) from where the `after` entry stands. */
export type CatchUpScope = { room: string } | { private: true };

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

  /**
   * Everything stored after `after` in one room, or in your private conversations, page by page.
   * A private catch-up whose entry this gateway does not know (INVALID_MESSAGE: another gateway,
   * or a ring that dropped it) falls back to the newest private page.
   */
  catchUp(after: number, from: CatchUpScope): void {
    const request: HistoryRequest = { type: 'history', after, limit: CATCH_UP_PAGE, ...from };
    const fallBack = 'private' in from ? (error: { code: string }) => error.code === 'INVALID_MESSAGE' && (this.loadPrivate(), true) : undefined;
    this.#ask(request, { purpose: 'after', from }, undefined, fallBack);
  }

  /** Applies a page as the answer to what was asked. */
  apply(history: History, asked: PageRequest): void {
    const { purpose, scoped } = asked;
    // Catching up may bring private messages from someone we have no conversation with yet.
    const openPrivate = purpose === 'after' || asked.openPrivate === true;
    this.#conversations.mergeStored(history.entries, openPrivate);
    if (scoped && purpose !== 'after') {
      scoped.setHasOlder(history.more);
      scoped.setLoadingOlder(false);
    }
    // Entries come oldest first (in a room by id, privately by (ts, id)): the next page starts after the last.
    const last = history.entries.at(-1);
    if (purpose === 'after' && history.more && last !== undefined && asked.from !== undefined) this.catchUp(last.id, asked.from);
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

  /** `recover`: handles an error itself (true) instead of reporting it. */
  #ask(request: HistoryRequest, asked: PageRequest, onFailed?: () => void, recover?: (error: { code: string }) => boolean): boolean {
    const ref = this.#requests.send(request, {
      reply: (message) => {
        if (message.type !== 'history') return false;
        this.apply(message, asked);
        return true;
      },
      error: (error) => {
        onFailed?.();
        if (recover?.(error) !== true) this.#report(error.code, error.message);
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
