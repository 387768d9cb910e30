import { PendingRequests, readU32BE, u32be, type ClientMessage, type ServerMessage } from '@switchboard/protocol';
import { ClientError } from './client-errors.js';

/** The client frames that carry a `ref` (every JSON request; not text, file-data, ping, pong). */
export type RefRequest = Exclude<ClientMessage, { type: 'text' | 'file-data' | 'ping' | 'pong' }>;

type ReplyType = ServerMessage['type'];

/**
 * The replies a request waits for, in the order they come, each given as the type (or the
 * types) it may have: join waits for ['roster', 'history'], nick for [['presence', 'notice']].
 */
export type Expected = readonly (ReplyType | readonly ReplyType[])[];

interface Pending {
  kind: string;
  expects: Expected;
  replies: ServerMessage[];
  resolve: (replies: ServerMessage[]) => void;
  reject: (error: Error) => void;
  detach: () => void;
}

/**
 * The requests waiting for their replies, keyed by the `ref` they were sent with. The server
 * repeats a request's ref in every reply and every error that request causes (PROTOCOL.md),
 * so a reply or an error goes to exactly the request that caused it, however many are out
 * and in whatever order the answers come. The timeout is only a safety net for a reply that
 * never comes. Pings carry bytes, not JSON: their payload is their ref as a u32 (pingData),
 * which the pong repeats.
 */
export class RequestTracker {
  readonly #timeoutMs: number;
  readonly #pending = new PendingRequests<string, Pending>((pending) =>
    this.#finish(pending, new ClientError('TIMEOUT', `No reply to ${pending.kind} within ${this.#timeoutMs} ms.`)),
  );

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** A ref not used before on this connection, so a late reply can never match a newer request; a u32, for pings. */
  nextRef(): string {
    return String(this.#pending.nextId());
  }

  /** Requests still waiting. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Waits for the replies `expects` lists, carrying `ref`. Rejects with the error frame that
   * carries `ref`, with TIMEOUT, with `signal`'s reason when it aborts, or when rejectAll runs.
   */
  track(ref: string, kind: string, expects: Expected, signal?: AbortSignal): Promise<ServerMessage[]> {
    if (this.#pending.has(ref)) return Promise.reject(new Error(`The ref ${ref} is already waiting for a reply.`));
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => this.#settle(ref, signal!.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      const detach = (): void => signal?.removeEventListener('abort', onAbort);
      this.#pending.add(ref, { kind, expects, replies: [], resolve, reject, detach }, this.#timeoutMs);
    });
  }

  /**
   * A server message that carries `ref`. True when it was the next reply a waiting request
   * expects (and was taken as such); false when no request waits for it, e.g. the join's own
   * presence, the second rename of a nick, or a reply after its request timed out.
   */
  reply(ref: string, message: ServerMessage): boolean {
    const pending = this.#pending.get(ref);
    const next = pending?.expects[pending.replies.length];
    if (!pending || next === undefined) return false;
    if (typeof next === 'string' ? next !== message.type : !next.includes(message.type)) return false;
    pending.replies.push(message);
    if (pending.replies.length === pending.expects.length) this.#settle(ref);
    return true;
  }

  /** An error frame (or a local failure) for `ref`. True when a waiting request took it. */
  fail(ref: string, error: Error): boolean {
    if (!this.#pending.has(ref)) return false;
    this.#settle(ref, error);
    return true;
  }

  /** Ends every waiting request with `error`: the connection is gone. */
  rejectAll(error: Error): void {
    for (const [, pending] of this.#pending.settleAll()) this.#finish(pending, error);
  }

  #settle(ref: string, error?: Error): void {
    const pending = this.#pending.settle(ref);
    if (pending) this.#finish(pending, error);
  }

  #finish(pending: Pending, error?: Error): void {
    pending.detach();
    if (error) pending.reject(error);
    else pending.resolve(pending.replies);
  }
}

/** A ping's payload: its ref as 4 big-endian bytes. */
export function pingData(ref: string): Uint8Array {
  return u32be(Number(ref));
}

/** The ref a pong answers, read back from the payload its ping carried. */
export function pongRef(data: Uint8Array): string | undefined {
  return data.length === 4 ? String(readU32BE(data, 0)) : undefined;
}
