import { backoffDelay } from '@switchboard/protocol';

/**
 * The wait before SUBSCRIBE try number `attempt` + 2 of a channel still wanted (a shard failing
 * over, Redis away): 100 ms doubling to a second, with jitter so gateways do not come back in
 * step. A room's subscription here, a channel whose master changed in redis-connection.ts.
 */
export function subscribeRetryMs(attempt: number): number {
  return backoffDelay(attempt, { initialMs: 100, maxMs: 1000 });
}

/** Subscribing to and leaving one channel: a PubSub's, for a room's channel. */
export interface Subscriptions {
  subscribe(room: string): Promise<void>;
  unsubscribe(room: string): Promise<void>;
  logError(what: string, error: Error): void;
}

interface RoomState {
  /** The hub serves the room (has a member in it, or one joining). */
  wanted: boolean;
  /** The subscription is acknowledged (and not yet left). */
  subscribed: boolean;
  /** The last step queued for this room: each waits for the one before. */
  steps: Promise<void>;
  /** SUBSCRIBEs failed in a row: the next try waits subscribeRetryMs(failures - 1). */
  failures: number;
  /** That next try, while it waits. */
  retry?: NodeJS.Timeout | undefined;
}

/**
 * Which rooms this node hears from the other nodes: a room's channel is subscribed while the hub
 * serves the room and left when it stops. Steps for one room run one after the other, each
 * doing what is wanted by then, so a last leave and a new join in quick succession end
 * subscribed, and a join waits for the SUBSCRIBE's acknowledgement, after which every message
 * published to the room reaches this node.
 */
export class RoomInterest {
  readonly #rooms = new Map<string, RoomState>();

  constructor(private readonly port: Subscriptions) {}

  /** The hub serves `room` now: resolves once its channel is subscribed (or failed to be: logged, and retried by `resubscribe`). */
  serve(room: string): Promise<void> {
    const state = this.#state(room);
    state.wanted = true;
    return this.#step(room, state);
  }

  /** The hub no longer serves `room`: its channel is left (after any step in flight). */
  drop(room: string): void {
    const state = this.#rooms.get(room);
    if (state === undefined) return;
    state.wanted = false;
    void this.#step(room, state);
  }

  /**
   * The hub serves `room` but does not hear it: its SUBSCRIBE failed (a shard failing over) and
   * no retry has held yet, so what the other nodes say there does not reach its members here.
   */
  deaf(room: string): boolean {
    const state = this.#rooms.get(room);
    // Not while its first SUBSCRIBE is on its way: a join waits for that one (Router.whenServed).
    return state !== undefined && state.wanted && !state.subscribed && state.failures > 0;
  }

  /** A deaf room's SUBSCRIBE tried again now (not at its retry's time): resolves whether the room is heard. */
  async hear(room: string): Promise<boolean> {
    const state = this.#rooms.get(room);
    if (state === undefined || !state.wanted) return false;
    if (!state.subscribed) await this.#step(room, state);
    return state.subscribed;
  }

  /** Rooms whose channel is subscribed now. */
  subscribed(): string[] {
    return [...this.#rooms].filter(([, state]) => state.subscribed).map(([room]) => room);
  }

  /** The connection is back: rooms wanted but not subscribed (a SUBSCRIBE that failed while it was away) are subscribed now. */
  resubscribe(): void {
    for (const [room, state] of this.#rooms) if (state.wanted && !state.subscribed) void this.#step(room, state);
  }

  #state(room: string): RoomState {
    let state = this.#rooms.get(room);
    if (state === undefined) {
      state = { wanted: false, subscribed: false, steps: Promise.resolve(), failures: 0 };
      this.#rooms.set(room, state);
    }
    return state;
  }

  /**
   * A SUBSCRIBE that failed (a shard failing over, Redis away) is tried again, at most a second
   * apart, while the room is wanted: the connection's own comeback may have come before the
   * failure, and a member in the room must not go on hearing nothing from the other nodes.
   */
  #retryLater(room: string, state: RoomState): void {
    if (state.retry !== undefined) return; // one waits already (`hear` tries between)
    state.retry = setTimeout(
      () => {
        state.retry = undefined;
        if (state.wanted && !state.subscribed && this.#rooms.get(room) === state) void this.#step(room, state);
      },
      subscribeRetryMs(state.failures - 1),
    ).unref();
  }

  #step(room: string, state: RoomState): Promise<void> {
    const step = state.steps.then(async () => {
      if (state.wanted && !state.subscribed) {
        try {
          await this.port.subscribe(room);
          state.subscribed = true;
          state.failures = 0;
        } catch (error) {
          this.port.logError(`subscribing to room ${room}`, error as Error);
          state.failures++;
          this.#retryLater(room, state);
        }
      } else if (!state.wanted && state.subscribed) {
        // Failed or not, it is left: a subscription the client keeps brings only events of a room the hub no longer has, which it ignores.
        state.subscribed = false;
        await this.port.unsubscribe(room).catch((error: unknown) => this.port.logError(`leaving room ${room}`, error as Error));
      }
      if (!state.wanted && !state.subscribed && state.steps === step) this.#rooms.delete(room);
    });
    state.steps = step;
    return step;
  }
}
