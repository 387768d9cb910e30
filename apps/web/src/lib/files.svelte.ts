// File transfers in both directions (PROTOCOL.md §7). Sending: file-offer, wait for the
// server's echo, 64 KiB file-data chunks paced by the socket's send buffer, file-end with the
// SHA-256. Receiving: collect chunks, check count and SHA-256, then offer a download.
import { FILE_CHUNK_BYTES, type ServerMessage, type ServerMessageOf } from '@switchboard/protocol';
import { SvelteMap } from 'svelte/reactivity';
import type { ChatState } from './chat.svelte.js';
import { ConnectionLostError, type GatewayConnection } from './connection.svelte.js';
import { createFileDigest, type FileDigest } from './file-digest.js';
import { formatBytes } from './format.js';

export type TransferDirection = 'out' | 'in';
export type TransferState = 'offering' | 'sending' | 'receiving' | 'verifying' | 'complete' | 'failed' | 'cancelled';

export interface TransferError {
  code: string;
  message: string;
}

/** Pause sending while the browser holds more than this many bytes for the socket. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** How long to wait for the server to accept an offer. */
const OFFER_TIMEOUT_MS = 15_000;
/** After file-end the server may still reject the file; errors this soon after are ours. */
const LATE_ERROR_WINDOW_MS = 5_000;
/** Error codes that answer a file-offer. */
const OFFER_ERRORS = new Set([
  'FILE_TOO_LARGE',
  'TOO_MANY_TRANSFERS',
  'FILE_TRANSFER_EXISTS',
  'NOT_IN_ROOM',
  'NO_SUCH_MEMBER',
  'ROOM_INVALID',
  'INVALID_MESSAGE',
]);
/** Error codes about a transfer whose data is being (or was just) sent. */
const SENDING_ERRORS = new Set(['FILE_UNKNOWN_TRANSFER', 'FILE_SIZE_MISMATCH', 'FILE_CHECKSUM_MISMATCH', 'FILE_ABORTED']);

/**
 * The file name is the sender's word: keep the last path component, drop control
 * characters, and refuse names that mean something to a file system.
 */
export function safeFileName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const base = (name.split(/[\\/]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (base === '' || base === '.' || base === '..' || base.startsWith('.')) return 'download';
  if (/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i.test(base)) return `_${base}`;
  return base;
}

export class FileTransfer {
  readonly direction: TransferDirection;
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
    this.name = safeFileName(fields.name);
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

interface Outgoing {
  transfer: FileTransfer;
  localId: number;
  controller: AbortController;
  accepted: { resolve: () => void; reject: (error: Error) => void } | null;
  serverId: number | null;
  endedAt: number | null;
}

interface Incoming {
  transfer: FileTransfer;
  chunks: Uint8Array[];
  received: number;
  digest: FileDigest;
}

class OfferRefusedError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export class FileTransfers {
  #connection: GatewayConnection;
  #chat: ChatState;
  #byHistoryId = new SvelteMap<number, FileTransfer>();
  #unlinked = $state.raw<FileTransfer[]>([]);
  #outgoing = new Map<FileTransfer, Outgoing>();
  #pendingOffers: Outgoing[] = [];
  #incoming = new Map<number, Incoming>();
  #nextLocalId = 1;
  #urls = new Set<string>();
  #unsubscribe: (() => void)[];

  constructor(connection: GatewayConnection, chat: ChatState) {
    this.#connection = connection;
    this.#chat = chat;
    this.#unsubscribe = [
      connection.onMessage((message) => this.#handle(message)),
      connection.onClose(() => this.#onClose()),
    ];
  }

  /** The live transfer behind a file entry in a conversation, if this page saw it happen. */
  transferFor(historyId: number): FileTransfer | undefined {
    return this.#byHistoryId.get(historyId);
  }

  /** Files of yours not (yet) in a conversation: waiting for the server, or refused. */
  get unlinked(): readonly FileTransfer[] {
    return this.#unlinked;
  }

  dismiss(transfer: FileTransfer): void {
    if (transfer.inProgress) return;
    this.#unlinked = this.#unlinked.filter((t) => t !== transfer);
  }

  /** Sends a file to the active room or private conversation. */
  async send(file: File): Promise<void> {
    const conversation = this.#chat.active;
    const me = this.#chat.name ?? '';
    const transfer = new FileTransfer('out', {
      name: file.name,
      size: file.size,
      mime: file.type || 'application/octet-stream',
      from: me,
    });
    this.#unlinked = [...this.#unlinked, transfer];

    const limit = this.#chat.maxFileBytes;
    if (limit !== null && file.size > limit) {
      transfer.fail(
        'FILE_TOO_LARGE',
        `"${transfer.name}" is ${formatBytes(file.size)}; the server accepts files up to ${formatBytes(limit)}. Not sent.`,
      );
      return;
    }
    if (!conversation) {
      transfer.fail('NOT_IN_ROOM', 'Open a room or a private conversation first.');
      return;
    }

    const outgoing: Outgoing = {
      transfer,
      localId: this.#nextLocalId,
      controller: new AbortController(),
      accepted: null,
      serverId: null,
      endedAt: null,
    };
    this.#nextLocalId = this.#nextLocalId >= 0xffffffff ? 1 : this.#nextLocalId + 1;
    this.#outgoing.set(transfer, outgoing);
    const signal = outgoing.controller.signal;
    const generation = this.#connection.generation;

    try {
      const acceptance = new Promise<void>((resolve, reject) => {
        outgoing.accepted = { resolve, reject };
      });
      const target = conversation.kind === 'room' ? { room: conversation.name } : { to: conversation.name };
      const offered = this.#connection.send({
        type: 'file-offer',
        transfer: outgoing.localId,
        name: transfer.name,
        size: file.size,
        mime: transfer.mime,
        ...target,
      });
      if (!offered) throw new ConnectionLostError('Not connected to the gateway.');
      this.#pendingOffers.push(outgoing);
      await withTimeout(acceptance, OFFER_TIMEOUT_MS, signal);

      transfer.setState('sending');
      const digest = createFileDigest();
      for (let offset = 0; offset < file.size; offset += FILE_CHUNK_BYTES) {
        await this.#connection.waitForBufferBelow(HIGH_WATER_BYTES, signal);
        const data = new Uint8Array(await file.slice(offset, offset + FILE_CHUNK_BYTES).arrayBuffer());
        signal.throwIfAborted();
        if (this.#connection.generation !== generation) throw new ConnectionLostError();
        digest.update(data);
        if (!this.#connection.send({ type: 'file-data', transfer: outgoing.localId, data })) {
          throw new ConnectionLostError();
        }
        transfer.setDone(offset + data.length);
      }
      const sha256 = await digest.hex();
      signal.throwIfAborted();
      if (!this.#connection.send({ type: 'file-end', transfer: outgoing.localId, sha256 })) {
        throw new ConnectionLostError();
      }
      outgoing.endedAt = Date.now();
      // "Sent" once the browser has handed every byte to the network.
      await this.#connection.waitForBufferBelow(0, signal);
      const url = URL.createObjectURL(file);
      this.#urls.add(url);
      if (transfer.state === 'sending') transfer.complete(url);
    } catch (error) {
      this.#pendingOffers = this.#pendingOffers.filter((o) => o !== outgoing);
      const reason: unknown = signal.aborted ? signal.reason : error;
      if (reason instanceof OfferRefusedError) {
        // The server refused or dropped the transfer: nothing to abort on its side.
        transfer.fail(reason.code, reason.message);
      } else if (signal.aborted) {
        transfer.fail('CANCELLED', 'You cancelled this transfer.');
        // Tell the server only if it knows the transfer and the socket it knows it on is still up.
        if (outgoing.serverId !== null && this.#connection.generation === generation) {
          this.#connection.send({ type: 'file-abort', transfer: outgoing.localId, reason: 'cancelled by sender' });
        }
      } else if (error instanceof ConnectionLostError) {
        transfer.fail('CONNECTION_LOST', `${error.message} The file was not completely sent.`);
      } else if (error instanceof DOMException && error.name === 'NotReadableError') {
        transfer.fail('FILE_UNREADABLE', `The browser could not read "${transfer.name}" (was it moved or deleted?).`);
        if (outgoing.serverId !== null) {
          this.#connection.send({ type: 'file-abort', transfer: outgoing.localId, reason: 'file unreadable' });
        }
      } else {
        transfer.fail('FILE_ABORTED', error instanceof Error ? error.message : String(error));
      }
    } finally {
      if (!transfer.inProgress && transfer.state !== 'complete') this.#outgoing.delete(transfer);
    }
  }

  /** Stops a transfer you are sending. */
  cancel(transfer: FileTransfer): void {
    const outgoing = this.#outgoing.get(transfer);
    // After file-end the server has the whole file; there is nothing left to stop.
    if (outgoing && transfer.inProgress && outgoing.endedAt === null) outgoing.controller.abort();
  }

  dispose(): void {
    for (const off of this.#unsubscribe) off();
    for (const url of this.#urls) URL.revokeObjectURL(url);
    this.#urls.clear();
  }

  #handle(message: ServerMessage): void {
    switch (message.type) {
      case 'file-offer':
        return this.#onOffer(message);
      case 'file-data': {
        const incoming = this.#incoming.get(message.transfer);
        if (!incoming) return;
        incoming.chunks.push(message.data);
        incoming.digest.update(message.data);
        incoming.received += message.data.length;
        incoming.transfer.setDone(incoming.received);
        if (incoming.received > incoming.transfer.size) {
          this.#failIncoming(message.transfer, 'FILE_SIZE_MISMATCH', 'More bytes arrived than the offer announced.');
        }
        return;
      }
      case 'file-end':
        void this.#onEnd(message);
        return;
      case 'file-abort': {
        const why = message.reason || 'The transfer was abandoned.';
        this.#failIncoming(message.transfer, message.code, why);
        for (const outgoing of this.#outgoing.values()) {
          if (outgoing.serverId === message.transfer) this.#failOutgoing(outgoing, message.code, why);
        }
        return;
      }
      case 'error':
        return this.#onError(message);
      default:
        return;
    }
  }

  #onOffer(offer: ServerMessageOf<'file-offer'>): void {
    if (this.#chat.isMe(offer.from)) {
      // The server answers offers in order, so its echo belongs to our oldest open offer.
      const outgoing = this.#pendingOffers.shift();
      if (!outgoing) return;
      outgoing.serverId = offer.transfer;
      outgoing.transfer.link(offer.id);
      this.#byHistoryId.set(offer.id, outgoing.transfer);
      this.#unlinked = this.#unlinked.filter((t) => t !== outgoing.transfer);
      outgoing.accepted?.resolve();
      return;
    }
    const transfer = new FileTransfer('in', { name: offer.name, size: offer.size, mime: offer.mime, from: offer.from });
    transfer.link(offer.id);
    this.#byHistoryId.set(offer.id, transfer);
    this.#incoming.set(offer.transfer, { transfer, chunks: [], received: 0, digest: createFileDigest() });
  }

  async #onEnd(end: ServerMessageOf<'file-end'>): Promise<void> {
    const incoming = this.#incoming.get(end.transfer);
    if (!incoming) return;
    this.#incoming.delete(end.transfer);
    const { transfer } = incoming;
    if (incoming.received !== transfer.size) {
      transfer.fail(
        'FILE_SIZE_MISMATCH',
        `Received ${incoming.received} of ${transfer.size} bytes; the file is incomplete and was discarded.`,
      );
      return;
    }
    transfer.setState('verifying');
    const actual = await incoming.digest.hex();
    if (actual !== end.sha256.toLowerCase()) {
      transfer.fail(
        'FILE_CHECKSUM_MISMATCH',
        `SHA-256 mismatch: the sender announced ${end.sha256}, the bytes received hash to ${actual}. The file was discarded.`,
      );
      return;
    }
    if (transfer.state !== 'verifying') return; // Aborted meanwhile.
    const url = URL.createObjectURL(new Blob(incoming.chunks as BlobPart[], { type: transfer.mime }));
    this.#urls.add(url);
    transfer.complete(url);
  }

  #onError(error: ServerMessageOf<'error'>): void {
    // Error frames carry no transfer id: attribute them by what we are waiting for.
    const pending = this.#pendingOffers[0];
    if (pending && OFFER_ERRORS.has(error.code)) {
      this.#pendingOffers.shift();
      pending.controller.abort(new OfferRefusedError(error.code, error.message));
      return;
    }
    if (!SENDING_ERRORS.has(error.code)) return;
    const now = Date.now();
    for (const outgoing of this.#outgoing.values()) {
      const sending = outgoing.transfer.state === 'sending';
      const justEnded = outgoing.endedAt !== null && now - outgoing.endedAt < LATE_ERROR_WINDOW_MS;
      if (sending || justEnded) {
        this.#failOutgoing(outgoing, error.code, error.message);
        return;
      }
    }
  }

  #failOutgoing(outgoing: Outgoing, code: string, message: string): void {
    // Stop the sending loop (if still running) and show why.
    outgoing.controller.abort(new OfferRefusedError(code, message));
    outgoing.transfer.fail(code, message);
    this.#outgoing.delete(outgoing.transfer);
  }

  #failIncoming(serverId: number, code: string, message: string): void {
    const incoming = this.#incoming.get(serverId);
    if (!incoming) return;
    this.#incoming.delete(serverId);
    incoming.transfer.fail(code, message);
  }

  #onClose(): void {
    for (const serverId of [...this.#incoming.keys()]) {
      this.#failIncoming(serverId, 'CONNECTION_LOST', 'The connection dropped before the file was complete.');
    }
    for (const outgoing of this.#pendingOffers) outgoing.accepted?.reject(new ConnectionLostError());
    this.#pendingOffers = [];
  }
}

function withTimeout(promise: Promise<void>, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      reject(new OfferRefusedError('FILE_ABORTED', 'The server did not answer the file offer in time.'));
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
