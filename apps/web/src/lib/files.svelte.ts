// File transfers in both directions (PROTOCOL.md §7). Sending: a file-offer, answered (by ref)
// with our own copy naming the server's transfer; 64 KiB file-data chunks paced by the socket's
// send buffer and hashed as they are read; then file-end with the SHA-256, answered by the
// server's file-end once it has checked size and checksum: only that makes the file sent.
// Receiving: collect chunks, hashing each as it comes, check count and SHA-256, then offer a
// download.
import { FILE_CHUNK_BYTES, type ServerMessage, type ServerMessageOf } from '@switchboard/protocol';
import { SvelteMap } from 'svelte/reactivity';
import type { ChatState } from './chat.svelte.js';
import { ConnectionLostError, type GatewayConnection } from './connection.svelte.js';
import { createFileDigest, type FileDigest } from './file-digest.js';
import { FileTransfer } from './file-transfer.svelte.js';
import { formatBytes } from './format.js';
import { savedFileUrl } from './saved-file.js';
import type { Reply, Request, RequestTracker } from './requests.js';

export type { FileTransfer, TransferDirection, TransferState, TransferError } from './file-transfer.svelte.js';

/** Pause sending while the browser holds more than this many bytes for the socket. */
const HIGH_WATER_BYTES = 1024 * 1024;
/** How long the server may take to accept an offer. */
const OFFER_TIMEOUT_MS = 15_000;
/**
 * How long the server may take to confirm a file once file-end is sent. The last chunks may
 * still be on their way, held back by a slow receiver: this is only a safety net.
 */
const CONFIRM_TIMEOUT_MS = 120_000;
/** file-abort has no answer when it works; an error would come well within this. */
const ABORT_ERROR_WAIT_MS = 10_000;

interface Outgoing {
  transfer: FileTransfer;
  localId: number;
  controller: AbortController;
  serverId: number | null;
  /** file-end was sent: the server has every byte, so there is nothing left to cancel. */
  ended: boolean;
}

interface Incoming {
  transfer: FileTransfer;
  chunks: Uint8Array[];
  received: number;
  digest: FileDigest;
}

/** The server refused the transfer, or dropped it: nothing to abort on its side. */
class TransferRefusedError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export class FileTransfers {
  #connection: GatewayConnection;
  #requests: RequestTracker;
  #chat: ChatState;
  #byHistoryId = new SvelteMap<number, FileTransfer>();
  #unlinked = $state.raw<FileTransfer[]>([]);
  #outgoing = new Map<FileTransfer, Outgoing>();
  #incoming = new Map<number, Incoming>();
  #nextLocalId = 1;
  #urls = new Set<string>();
  #unsubscribe: (() => void)[];

  constructor(connection: GatewayConnection, requests: RequestTracker, chat: ChatState) {
    this.#connection = connection;
    this.#requests = requests;
    this.#chat = chat;
    this.#unsubscribe = [connection.onMessage((message) => this.#handle(message)), connection.onClose(() => this.#onClose())];
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
    const transfer = new FileTransfer('out', {
      name: file.name,
      size: file.size,
      mime: file.type || 'application/octet-stream',
      from: this.#chat.name ?? '',
    });
    this.#unlinked = [...this.#unlinked, transfer];

    const limit = this.#chat.maxFileBytes;
    if (limit !== null && file.size > limit) {
      transfer.fail('FILE_TOO_LARGE', `"${transfer.name}" is ${formatBytes(file.size)}; the server accepts files up to ${formatBytes(limit)}. Not sent.`);
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
      serverId: null,
      ended: false,
    };
    this.#nextLocalId = this.#nextLocalId >= 0xffffffff ? 1 : this.#nextLocalId + 1;
    this.#outgoing.set(transfer, outgoing);
    const signal = outgoing.controller.signal;
    const generation = this.#connection.generation;

    try {
      const target = conversation.kind === 'room' ? { room: conversation.name } : { to: conversation.name };
      const offer = await this.#ask(
        { type: 'file-offer', transfer: outgoing.localId, name: transfer.name, size: file.size, mime: transfer.mime, ...target },
        (reply) => (reply.type === 'file-offer' ? reply : undefined),
        { timeoutMs: OFFER_TIMEOUT_MS, late: 'The server did not answer the file offer in time.', signal },
      );
      outgoing.serverId = offer.transfer;
      transfer.link(offer.id);
      this.#byHistoryId.set(offer.id, transfer);
      this.#unlinked = this.#unlinked.filter((t) => t !== transfer);

      transfer.setState('sending');
      // Hashed as it is read, chunk by chunk: the file is never in memory whole.
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
      const sha256 = digest.hex();
      signal.throwIfAborted();
      outgoing.ended = true;
      transfer.setState('verifying');
      // Sent once the server says the bytes it got have this size and this SHA-256.
      await this.#ask({ type: 'file-end', transfer: outgoing.localId, sha256 }, (reply) => (reply.type === 'file-end' ? reply : undefined), {
        timeoutMs: CONFIRM_TIMEOUT_MS,
        late: 'The server did not confirm the file in time.',
        signal,
      });
      // Not the File itself: its own type (text/html…) would make the link a page of this origin.
      const url = savedFileUrl([file]);
      this.#urls.add(url);
      transfer.complete(url);
    } catch (error) {
      const reason: unknown = signal.aborted ? signal.reason : error;
      if (reason instanceof TransferRefusedError) {
        transfer.fail(reason.code, reason.message);
      } else if (signal.aborted) {
        transfer.fail('CANCELLED', 'You cancelled this transfer.');
        // Tell the server only if it knows the transfer and the socket it knows it on is still up.
        if (outgoing.serverId !== null && this.#connection.generation === generation) this.#abort(outgoing, 'cancelled by sender');
      } else if (error instanceof ConnectionLostError) {
        const what = outgoing.ended ? 'The server had not confirmed the file yet.' : 'The file was not completely sent.';
        transfer.fail('CONNECTION_LOST', `${error.message} ${what}`);
      } else if (error instanceof DOMException && error.name === 'NotReadableError') {
        transfer.fail('FILE_UNREADABLE', `The browser could not read "${transfer.name}" (was it moved or deleted?).`);
        if (outgoing.serverId !== null) this.#abort(outgoing, 'file unreadable');
      } else {
        transfer.fail('FILE_ABORTED', error instanceof Error ? error.message : String(error));
      }
    } finally {
      this.#outgoing.delete(transfer);
    }
  }

  /** Stops a transfer you are sending. */
  cancel(transfer: FileTransfer): void {
    const outgoing = this.#outgoing.get(transfer);
    // After file-end the server has the whole file; there is nothing left to stop.
    if (outgoing && transfer.inProgress && !outgoing.ended) outgoing.controller.abort();
  }

  dispose(): void {
    for (const off of this.#unsubscribe) off();
    for (const url of this.#urls) URL.revokeObjectURL(url);
    this.#urls.clear();
  }

  /**
   * Sends a request and resolves with the reply `pick` accepts. Rejects with
   * TransferRefusedError when the server answers with an error or not in time, with
   * ConnectionLostError when the socket goes, and with the signal's reason when aborted.
   */
  #ask<T>(request: Request, pick: (reply: Reply) => T | undefined, options: { timeoutMs: number; late: string; signal: AbortSignal }): Promise<T> {
    const { signal } = options;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        if (ref !== null) this.#requests.forget(ref);
        reject(signal.reason as Error);
      };
      const settle = (outcome: () => void) => {
        signal.removeEventListener('abort', onAbort);
        outcome();
      };
      if (signal.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const ref = this.#requests.send(request, {
        reply: (message) => {
          const picked = pick(message);
          if (picked === undefined) return false;
          settle(() => resolve(picked));
          return true;
        },
        error: (error) => settle(() => reject(new TransferRefusedError(error.code, error.message))),
        lost: (reason) => settle(() => reject(reason === 'closed' ? new ConnectionLostError() : new TransferRefusedError('FILE_ABORTED', options.late))),
        timeoutMs: options.timeoutMs,
      });
      if (ref === null) reject(new ConnectionLostError('Not connected to the gateway.'));
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #abort(outgoing: Outgoing, reason: string): void {
    // The transfer is over on our side either way: an error (the server had already dropped
    // it) has nothing left to tell the user.
    this.#requests.send({ type: 'file-abort', transfer: outgoing.localId, reason }, { error: () => {}, timeoutMs: ABORT_ERROR_WAIT_MS });
  }

  #handle(message: ServerMessage): void {
    switch (message.type) {
      case 'file-offer':
        // Our own offers come back as answers to their requests (matched by ref).
        if (!this.#chat.isMe(message.from)) this.#onOffer(message);
        return;
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
        // One with a ref confirms a file we sent: its request has it.
        if (message.ref === undefined) this.#onEnd(message);
        return;
      case 'file-abort': {
        const why = message.reason || 'The transfer was abandoned.';
        this.#failIncoming(message.transfer, message.code, why);
        for (const outgoing of this.#outgoing.values()) {
          // Stops the sending loop (or the wait for the confirmation); send() shows why.
          if (outgoing.serverId === message.transfer) outgoing.controller.abort(new TransferRefusedError(message.code, why));
        }
        return;
      }
      default:
        return;
    }
  }

  #onOffer(offer: ServerMessageOf<'file-offer'>): void {
    const transfer = new FileTransfer('in', { name: offer.name, size: offer.size, mime: offer.mime, from: offer.from });
    transfer.link(offer.id);
    this.#byHistoryId.set(offer.id, transfer);
    this.#incoming.set(offer.transfer, { transfer, chunks: [], received: 0, digest: createFileDigest() });
  }

  #onEnd(end: ServerMessageOf<'file-end'>): void {
    const incoming = this.#incoming.get(end.transfer);
    if (!incoming) return;
    this.#incoming.delete(end.transfer);
    const { transfer } = incoming;
    if (incoming.received !== transfer.size) {
      transfer.fail('FILE_SIZE_MISMATCH', `Received ${incoming.received} of ${transfer.size} bytes; the file is incomplete and was discarded.`);
      return;
    }
    transfer.setState('verifying');
    const actual = incoming.digest.hex();
    if (actual !== end.sha256.toLowerCase()) {
      transfer.fail(
        'FILE_CHECKSUM_MISMATCH',
        `SHA-256 mismatch: the sender announced ${end.sha256}, the bytes received hash to ${actual}. The file was discarded.`,
      );
      return;
    }
    // The sender's mime is shown on the card, never given to the blob (saved-file.ts says why).
    const url = savedFileUrl(incoming.chunks as BlobPart[]);
    this.#urls.add(url);
    transfer.complete(url);
  }

  #failIncoming(serverId: number, code: string, message: string): void {
    const incoming = this.#incoming.get(serverId);
    if (!incoming) return;
    this.#incoming.delete(serverId);
    incoming.transfer.fail(code, message);
  }

  #onClose(): void {
    // Outgoing transfers learn it from their socket or their pending request.
    for (const serverId of [...this.#incoming.keys()]) {
      this.#failIncoming(serverId, 'CONNECTION_LOST', 'The connection dropped before the file was complete.');
    }
  }
}
