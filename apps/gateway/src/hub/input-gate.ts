/**
 * Keeps each member's frames in the order sent while earlier ones wait (a name claim, or chat
 * messages the cluster is still storing): later frames are held, then replayed in order.
 */
import { FrameType, type ClientMessage } from '@switchboard/protocol';
import type { Delivery } from '../delivery/delivery.js';
import { MemberInput, type HeldFrame, type Member } from './member.js';

/** Chat frames whose storing (over Redis) may overlap the member's next ones: their replies keep their order. */
const PIPELINED: ReadonlySet<number> = new Set([FrameType.Text, FrameType.Message, FrameType.Private]);
/** At most this many of a member's messages wait for the cluster at once; past it, input pauses. */
const MAX_STORING = 64;

/** Whether a frame of this type may be handled while the member's earlier chat messages are still being stored. */
export function isPipelined(type: number): boolean {
  return PIPELINED.has(type);
}

export class InputGate {
  readonly #delivery: Delivery;
  /** Decodes and handles one frame (through run). */
  readonly #handle: (member: Member, type: number, input: Uint8Array | ClientMessage) => void;
  /** A handler failed: the member hears why. */
  readonly #failed: (member: Member, error: unknown, ref?: string) => void;

  constructor(
    delivery: Delivery,
    handle: (member: Member, type: number, input: Uint8Array | ClientMessage) => void,
    failed: (member: Member, error: unknown, ref?: string) => void,
  ) {
    this.#delivery = delivery;
    this.#handle = handle;
    this.#failed = failed;
  }

  /**
   * A frame passed the rate limit. An earlier frame is still waiting for the cluster: this one
   * waits its turn. Chat messages may follow chat messages still being stored (their order is
   * kept by the one Redis connection); anything else waits until those are done.
   */
  receive(member: Member, type: number, input: Uint8Array | ClientMessage): void {
    const state = member.input;
    if (state?.held !== undefined) state.held.push([type, input]);
    else if (state !== undefined && this.#mustWaitForStores(state, type)) this.#holdUntilStored(member, [type, input]);
    else this.#handle(member, type, input);
  }

  /**
   * Runs a handler; one that waits (a name claim) holds the member's later frames until it is
   * done. A chat message that waits for the cluster to store it (Redis) does not: the member's
   * next messages are sent after it, and their replies come back in the same order (`pipelined`).
   */
  run(member: Member, handler: () => void | Promise<void>, ref?: string, pipelined = false): void {
    const pending = handler();
    if (pending === undefined) return;
    const state = (member.input ??= new MemberInput());
    if (pipelined) {
      state.storing++;
      pending
        .catch((error: unknown) => this.#failed(member, error, ref))
        .finally(() => {
          state.storing--;
          if (state.storing === 0 && state.waitingForStores) {
            state.waitingForStores = false;
            this.#replayHeld(member);
          } else forgetIfIdle(member, state);
        });
      return;
    }
    state.held = [];
    this.#delivery.hold(member);
    pending.catch((error: unknown) => this.#failed(member, error, ref)).finally(() => this.#replayHeld(member));
  }

  /** Messages are being stored and this frame may not overtake them (not a chat message, or too many in flight). */
  #mustWaitForStores(state: MemberInput, type: number): boolean {
    return state.storing > 0 && !(PIPELINED.has(type) && state.storing < MAX_STORING);
  }

  /** Holds a frame (and those after it) until the member's messages in flight are stored. */
  #holdUntilStored(member: Member, frame: HeldFrame): void {
    const state = (member.input ??= new MemberInput());
    state.held = [frame];
    state.waitingForStores = true;
    this.#delivery.hold(member);
  }

  /**
   * What arrived while the member was held, handled in order (until something holds it again).
   * Input resumes only after: a paused link hands out what it kept at once, and that comes after.
   */
  #replayHeld(member: Member): void {
    const state = (member.input ??= new MemberInput());
    const held = state.held ?? [];
    state.held = undefined;
    try {
      for (let i = 0; i < held.length; i++) {
        if (member.isClosed) return;
        const waiting = state.held as MemberInput['held']; // set again when a replayed frame waits too
        if (waiting !== undefined) {
          waiting.push(...held.slice(i)); // another wait began: the rest wait for it
          return;
        }
        const [type, input] = held[i]!;
        if (this.#mustWaitForStores(state, type)) {
          this.#holdUntilStored(member, [type, input]);
          state.held!.push(...held.slice(i + 1));
          return;
        }
        this.#handle(member, type, input);
      }
    } finally {
      this.#delivery.unhold(member);
      forgetIfIdle(member, state);
    }
  }
}

/**
 * A member's input state exists only while something waits (most members never wait, or
 * wait once, for the name claim of their hello): its object is let go once nothing does.
 * Only then: a store in flight keeps it (its `finally` counts down on this very object).
 */
function forgetIfIdle(member: Member, state: MemberInput): void {
  if (member.input === state && state.held === undefined && state.storing === 0 && !state.waitingForStores) member.input = undefined;
}
