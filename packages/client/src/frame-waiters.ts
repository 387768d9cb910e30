import type { ServerMessage, ServerMessageOf } from '@switchboard/protocol';
import { ClientError } from './client-errors.js';
import type { ServerMessageType } from './client-types.js';

interface Waiter {
  type: ServerMessageType;
  predicate: ((message: ServerMessage) => boolean) | undefined;
  resolve: (message: ServerMessage) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** The callers of waitFor(): each waits for the next server message of a type that satisfies its predicate. */
export class FrameWaiters {
  readonly #waiters = new Set<Waiter>();

  wait<T extends ServerMessageType>(
    type: T,
    predicate: ((message: ServerMessageOf<T>) => boolean) | undefined,
    timeoutMs: number,
  ): Promise<ServerMessageOf<T>> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        type,
        predicate: predicate as Waiter['predicate'],
        resolve: resolve as Waiter['resolve'],
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new ClientError('TIMEOUT', `Timed out after ${timeoutMs} ms waiting for a "${type}" frame.`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Resolves the waiters `message` satisfies; a predicate that throws rejects its own waiter. */
  notify(message: ServerMessage): void {
    for (const waiter of [...this.#waiters]) {
      if (waiter.type !== message.type) continue;
      let matches: boolean;
      try {
        matches = waiter.predicate ? waiter.predicate(message) : true;
      } catch (error) {
        this.#end(waiter);
        waiter.reject(error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      if (!matches) continue;
      this.#end(waiter);
      waiter.resolve(message);
    }
  }

  /** The connection is gone: nothing more will arrive. */
  rejectAll(error: Error): void {
    for (const waiter of [...this.#waiters]) {
      this.#end(waiter);
      waiter.reject(error);
    }
  }

  #end(waiter: Waiter): void {
    this.#waiters.delete(waiter);
    clearTimeout(waiter.timer);
  }
}
