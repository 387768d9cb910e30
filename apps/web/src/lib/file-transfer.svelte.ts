// One file transfer as the page shows it, in either direction: its state, progress, error and,
// once complete, a blob: URL to save the file.
import { sanitizeFileName } from '@switchboard/protocol';

export type TransferDirection = 'out' | 'in';
export type TransferState = 'offering' | 'sending' | 'receiving' | 'verifying' | 'complete' | 'failed' | 'cancelled';

export interface TransferError {
  code: string;
  message: string;
}

export class FileTransfer {
  readonly direction: TransferDirection;
  /** The sender's file name made safe to save under (the same rule as the Node client's). */
  readonly name: string;
  readonly size: number;
  readonly mime: string;
  readonly from: string;
  #state = $state<TransferState>('offering');
  #done = $state(0);
  #error = $state.raw<TransferError | null>(null);
  #url = $state<string | null>(null);
  #historyId = $state<number | null>(null);

  constructor(direction: TransferDirection, fields: { name: string; size: number; mime: string; from: string }) {
    this.direction = direction;
    this.name = sanitizeFileName(fields.name);
    this.size = fields.size;
    this.mime = fields.mime;
    this.from = fields.from;
    this.#state = direction === 'out' ? 'offering' : 'receiving';
  }

  get state(): TransferState {
    return this.#state;
  }
  /** Bytes sent or received so far. */
  get done(): number {
    return this.#done;
  }
  get progress(): number {
    return this.size === 0 ? (this.#state === 'complete' ? 1 : 0) : Math.min(1, this.#done / this.size);
  }
  get error(): TransferError | null {
    return this.#error;
  }
  /** A blob: URL to save the file, once it is complete. */
  get url(): string | null {
    return this.#url;
  }
  get historyId(): number | null {
    return this.#historyId;
  }
  get inProgress(): boolean {
    return this.#state === 'offering' || this.#state === 'sending' || this.#state === 'receiving' || this.#state === 'verifying';
  }

  setState(state: TransferState): void {
    this.#state = state;
  }
  setDone(bytes: number): void {
    this.#done = bytes;
  }
  link(historyId: number): void {
    this.#historyId = historyId;
  }
  complete(url: string): void {
    this.#url = url;
    this.#state = 'complete';
  }
  fail(code: string, message: string): void {
    if (!this.inProgress && this.#state !== 'complete') return;
    this.#error = { code, message };
    this.#state = code === 'CANCELLED' ? 'cancelled' : 'failed';
    if (this.#url && this.direction === 'in') {
      URL.revokeObjectURL(this.#url);
      this.#url = null;
    }
  }
}
