// Errors shown above the composer: the server's (requests that failed, errors no request
// caused) and the page's own (a refused file, nothing sent while offline). The last five stay.
import { eventKey } from './conversation.svelte.js';

export interface ChatErrorNote {
  key: string;
  code: string;
  message: string;
  ts: number;
}

export type ErrorReporter = (code: string, message: string) => void;

const KEEP = 5;

export class ErrorNotes {
  #notes = $state.raw<ChatErrorNote[]>([]);

  get notes(): readonly ChatErrorNote[] {
    return this.#notes;
  }

  /** Adds a note; bound, so it can be handed around as an ErrorReporter. */
  readonly report: ErrorReporter = (code, message) => {
    const note: ChatErrorNote = { key: eventKey(), code, message, ts: Date.now() };
    this.#notes = [...this.#notes.slice(1 - KEEP), note];
  };

  dismiss(key: string): void {
    this.#notes = this.#notes.filter((n) => n.key !== key);
  }

  clear(): void {
    this.#notes = [];
  }
}
