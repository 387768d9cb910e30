// The page's search (docs/chat.md, "Search"): asks the gateway with the `search` request
// (PROTOCOL.md §6), keeps the hits, and opens one in context: its room or private conversation,
// with older pages loaded until the message is there, scrolled to it and marked.
import { tick } from 'svelte';
import { contextKey } from './context-key.js';
import type { HistoryEntry } from '@switchboard/protocol';
import type { ChatState } from './chat.svelte.js';
import type { Conversation } from './conversation.svelte.js';
import type { RequestTracker } from './requests.js';
import type { Route, Router } from './router.svelte.js';

export interface SearchProblem {
  code: string;
  message: string;
}

/** How long opening a hit may take (joining its room, loading older pages) before it gives up. */
const OPEN_WITHIN_MS = 15_000;

export class SearchState {
  #requests: RequestTracker;
  #chat: ChatState;
  #router: Router;
  #hits = $state.raw<HistoryEntry[]>([]);
  #more = $state(false);
  #searched = $state<string | null>(null);
  #busy = $state(false);
  #problem = $state<SearchProblem | null>(null);
  #found = $state<number | null>(null);
  #opening = 0;

  constructor(requests: RequestTracker, chat: ChatState, router: Router) {
    this.#requests = requests;
    this.#chat = chat;
    this.#router = router;
  }

  get hits(): readonly HistoryEntry[] {
    return this.#hits;
  }
  /** Older hits exist than those shown. */
  get more(): boolean {
    return this.#more;
  }
  /** The search the hits answer (null before any). */
  get searched(): string | null {
    return this.#searched;
  }
  get busy(): boolean {
    return this.#busy;
  }
  get problem(): SearchProblem | null {
    return this.#problem;
  }
  /** The id of the message last opened from a hit: its conversation marks it. */
  get found(): number | null {
    return this.#found;
  }

  search(q: string, older = false): void {
    const text = q.trim();
    if (text.length === 0) return this.clear();
    const before = older ? this.#hits.at(-1)?.id : undefined;
    this.#busy = true;
    this.#problem = null;
    const sent = this.#requests.send(
      { type: 'search', q: text, limit: 30, ...(before !== undefined && { before }) },
      {
        reply: (message) => {
          if (message.type !== 'search') return false;
          this.#busy = false;
          this.#searched = message.q;
          this.#hits = older ? [...this.#hits, ...message.entries] : message.entries;
          this.#more = message.more;
          return true;
        },
        error: (error) => {
          this.#busy = false;
          this.#problem = { code: error.code, message: error.message };
        },
        lost: () => {
          this.#busy = false;
          this.#problem = { code: 'NOT_CONNECTED', message: 'The connection closed before the search was answered.' };
        },
      },
    );
    if (sent === null) {
      this.#busy = false;
      this.#problem = { code: 'NOT_CONNECTED', message: 'Not connected to the gateway; nothing was searched.' };
    }
  }

  clear(): void {
    this.#hits = [];
    this.#more = false;
    this.#searched = null;
    this.#problem = null;
  }

  /** Where a hit was said: its room, or the private conversation with the other side. */
  placeOf(entry: HistoryEntry): Route {
    if (entry.kind === 'message') return { view: 'room', room: entry.room };
    if (entry.kind === 'file' && entry.room !== undefined) return { view: 'room', room: entry.room };
    const to = entry.kind === 'private' ? entry.to : (entry.to ?? '');
    return { view: 'private', name: this.#chat.isMe(entry.from) ? to : entry.from };
  }

  /** Opens a hit in its conversation, scrolled to it. False when it could not be shown. */
  async open(entry: HistoryEntry): Promise<boolean> {
    const attempt = ++this.#opening;
    this.#found = null;
    const place = this.placeOf(entry);
    this.#router.go(place);
    const until = Date.now() + OPEN_WITHIN_MS;
    while (Date.now() < until && attempt === this.#opening) {
      const conversation = this.#conversationAt(place);
      if (conversation !== undefined) {
        if (conversation.lines.some((line) => 'id' in line && line.id === entry.id)) {
          this.#found = entry.id;
          await tick();
          // After the list has placed itself (it opens at its newest line).
          await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
          document.querySelector(`[data-testid="message-list"] [data-id="${entry.id}"]`)?.scrollIntoView({ block: 'center' });
          return true;
        }
        // Its stored lines are all there and it is not among them: nothing more to load.
        if (!conversation.hasOlder && !conversation.loadingOlder && conversation.oldestId !== undefined) break;
        if (!conversation.loadingOlder) this.#chat.loadOlder(conversation);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (attempt === this.#opening) this.#problem = { code: 'NOT_FOUND', message: 'That message could not be shown in its conversation.' };
    return false;
  }

  #conversationAt(place: Route): Conversation | undefined {
    const active = this.#chat.active;
    if (active === null) return undefined;
    if (place.view === 'room') return active.kind === 'room' && active.name === place.room ? active : undefined;
    if (place.view === 'private') return active.kind === 'private' && active.name.toLowerCase() === place.name.toLowerCase() ? active : undefined;
    return undefined;
  }
}

const SEARCH = contextKey<SearchState>('search state');

export const setSearch = SEARCH.set;
export const getSearch = SEARCH.get;
