import { PendingRequests } from '@switchboard/protocol';
import type { IdentityChange } from '../identity/shared-identity.js';
import type { CarriedEntry, ClusterBus, ClusterHandlers, ForwardedCall, ForwardedReply, MemberRecord, RoomEvent } from './cluster.js';
import { BusKind, envelope, openEnvelope, senderOf, type BatchedEvent, type Header, type Question } from './bus-messages.js';
import { RoomInterest } from './room-interest.js';

/** A room's events of one turn travel in one message of at most this many frame bytes (and events): more go as several, in order. */
const BATCH_BYTES = 256 * 1024;
const BATCH_EVENTS = 1024;

/**
 * How messages travel between nodes: publish to a channel, hear the channels subscribed. Redis
 * pub/sub over one client today (redis-io.ts); Redis Cluster's sharded pub/sub (SSUBSCRIBE,
 * SPUBLISH) is another implementation of the same three calls, with nothing above them changed.
 */
export interface PubSub {
  /** Resolves with how many subscribers heard it (0: nobody listens there); rejects when it could not be sent. */
  publish(channel: string, message: Buffer): Promise<number>;
  /** Resolves once the subscription is acknowledged: from then on every message published there is heard. */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
}

/** The channels: one every node hears, one per node, one per room (heard by the nodes that serve it). */
export interface BusChannels {
  all: string;
  node(id: string): string;
  room(name: string): string;
}

/** This node's shared state, told what the other nodes say about theirs. */
export interface SharedState {
  /** A node was heard from: it is live. */
  heard(node: string): void;
  put(record: MemberRecord): void;
  remove(id: string): void;
  /** All of `node`'s records, replacing what was known of it. */
  sync(node: string, records: MemberRecord[]): void;
  lost(node: string): void;
  identity(change: IdentityChange): void;
}

export interface BusProtocolOptions {
  nodeId: string;
  /** How long an ask waits for its answer. */
  timeoutMs: number;
  pubsub: PubSub;
  channels: BusChannels;
  state: SharedState;
  /** Whether the transport is connected now: while it is not, nothing is sent and asks are not answered. */
  ready(): boolean;
  peers(): string[];
  logError(what: string, error: Error): void;
  /** The history entry of a room event (RoomEvent.logId) to carry along with it, where the log keeps one (a Redis Cluster's). */
  carried?(id: number): CarriedEntry | undefined;
}

/**
 * The cluster's message protocol, apart from the transport (compare socket.io-adapter's
 * ClusterAdapter): what each ClusterBus call sends where, dispatch of what is heard to the hub's
 * ClusterHandlers and this node's shared state, and asks matched to their answers by id. Room
 * events go to the room's channel, which a node hears only while it serves the room
 * (RoomInterest); frames for one member, operator actions and their answers to the node's own
 * channel; directory, identity and liveness to the channel every node hears.
 *
 * A room's events of one turn of the event loop are published together at its end, as one
 * `rooms` message (one event alone as a `room` message): one publish per room and turn, not per
 * message, and each receiver opens one envelope for all of them. Anything else this node sends
 * first publishes what waits, so what it publishes keeps the order it was said in.
 */
export class BusProtocol {
  readonly bus: ClusterBus;
  /** Messages this node received from the bus (its own echoes included) and sent to it. */
  readonly traffic = { in: 0, out: 0 };
  readonly #options: BusProtocolOptions;
  readonly #asks = new PendingRequests<number, (value: unknown) => void>((settle) => settle(undefined));
  readonly #rooms: RoomInterest;
  #handlers: ClusterHandlers | undefined;
  /** Room events waiting for the end of this turn, by room. */
  readonly #roomEvents = new Map<string, RoomEvent[]>();
  /** Rooms whose last message this node published was heard by this node alone: no other node serves them, so no history entry is carried there. */
  readonly #heardAlone = new Set<string>();
  #roomsScheduled = false;
  #serveCall: ((call: ForwardedCall) => Promise<ForwardedReply>) | undefined;

  constructor(options: BusProtocolOptions) {
    this.#options = options;
    const { nodeId: from, channels, pubsub } = options;
    this.#rooms = new RoomInterest({
      subscribe: (room) => pubsub.subscribe(channels.room(room)),
      unsubscribe: (room) => pubsub.unsubscribe(channels.room(room)),
      logError: (what, error) => options.logError(what, error),
    });
    this.bus = {
      publishRoom: (event) => this.#queueRoomEvent(event),
      sendToMember: (node, event) => this.#send(channels.node(node), { k: BusKind.Member, from, to: event.to, legacyText: event.legacyText }, event.frame),
      request: async (node, action) => (await this.#ask(node, { k: BusKind.Admin, action })) === true,
      announce: async (node, announcement) => {
        const value = await this.#ask(node, { k: BusKind.Announce, text: announcement.text });
        return typeof value === 'number' ? value : undefined;
      },
      forward: async (node, call) => (await this.#ask(node, { k: BusKind.Call, call })) as ForwardedReply | undefined,
      peers: () => options.peers(),
      serveRoom: (room) => this.#rooms.serve(room),
      dropRoom: (room) => {
        this.#heardAlone.delete(room);
        this.#rooms.drop(room);
      },
      serveCalls: (handler) => {
        this.#serveCall = handler;
      },
      serve: (handlers) => {
        this.#handlers = handlers;
      },
    };
  }

  /** To every node (directory, identity, liveness). */
  toAll(header: Header): void {
    this.#send(this.#options.channels.all, header);
  }

  /** The hub's handlers, once it registered them. */
  get handlers(): ClusterHandlers | undefined {
    return this.#handlers;
  }

  /** Rooms whose channel this node hears now. */
  roomsHeard(): string[] {
    return this.#rooms.subscribed();
  }

  /** This node serves `room` but does not hear it from the other nodes (its subscription failed, not yet made again). */
  roomDeaf(room: string): boolean {
    return this.#rooms.deaf(room);
  }

  /** A deaf room's subscription made again now: resolves whether the room is heard. */
  hearRoom(room: string): Promise<boolean> {
    return this.#rooms.hear(room);
  }

  /** The transport is back: room subscriptions that failed meanwhile are made now. */
  reconnected(): void {
    this.#rooms.resubscribe();
  }

  /** Every ask still out is answered `undefined`: the node is leaving (what its rooms said this turn is published first). */
  close(): void {
    this.#publishRooms();
    for (const [, settle] of this.#asks.settleAll()) settle(undefined);
  }

  /** What the subscriptions heard. A bad message, or a handler that throws, is logged: it must not reach the transport (nor end the process). */
  received(message: Buffer): void {
    this.traffic.in++;
    try {
      if (senderOf(message) === this.#options.nodeId) return; // our own echo
      this.#dispatch(message);
    } catch (error) {
      this.#options.logError('handling a cluster message', error as Error);
    }
  }

  #dispatch(message: Buffer): void {
    const { header, payload } = openEnvelope(message);
    const handlers = this.#handlers;
    const state = this.#options.state;
    switch (header.k) {
      case BusKind.Room:
        return handlers?.room({
          room: header.room,
          frame: payload,
          legacyText: header.legacyText,
          except: header.except,
          origin: header.origin,
          log: header.log,
        });
      case BusKind.Rooms:
        return this.#dispatchRoomEvents(header.room, header.events, payload);
      case BusKind.Member:
        return handlers?.member({ to: header.to, frame: payload, legacyText: header.legacyText });
      case BusKind.Put:
        state.heard(header.from);
        return state.put(header.record);
      case BusKind.Remove:
        return state.remove(header.id);
      case BusKind.Sync:
        state.heard(header.from);
        return state.sync(header.from, header.records);
      case BusKind.Lost:
        return state.lost(header.node);
      case BusKind.Identity:
        return state.identity(header.change);
      case BusKind.Admin:
        return this.#answer(header.from, header.ask, handlers?.admin(header.action) ?? false);
      case BusKind.Announce:
        return this.#answer(header.from, header.ask, handlers?.announce({ kind: 'announce', text: header.text }) ?? 0);
      case BusKind.Call:
        return this.#serve(header.from, header.ask, header.call);
      case BusKind.Answer:
        return this.#asks.settle(header.ask)?.(header.value);
    }
  }

  /** A `rooms` message: each event to the handlers in turn, its frame sliced from the payload; one that throws is logged, the others still go. */
  #dispatchRoomEvents(room: string, events: BatchedEvent[], payload: Uint8Array): void {
    let at = 0;
    for (const { n, legacyText, except, origin, log } of events) {
      const frame = payload.subarray(at, (at += n));
      try {
        this.#handlers?.room({ room, frame, legacyText, except, origin, log });
      } catch (error) {
        this.#options.logError('handling a cluster message', error as Error);
      }
    }
  }

  #serve(from: string, ask: number, call: ForwardedCall): void {
    const failed = (message: string): ForwardedReply => ({ status: 500, contentType: 'application/json', body: JSON.stringify({ code: 'INTERNAL', message }) });
    const serve = this.#serveCall;
    if (serve === undefined) return this.#answer(from, ask, failed('That node does not serve its API yet.'));
    serve(call).then(
      (reply) => this.#answer(from, ask, reply),
      (error: unknown) => this.#answer(from, ask, failed((error as Error).message)),
    );
  }

  #answer(to: string, ask: number, value: unknown): void {
    this.#send(this.#options.channels.node(to), { k: BusKind.Answer, from: this.#options.nodeId, ask, value });
  }

  /** A question to another node, answered by it; undefined when nobody answered in time. */
  async #ask(node: string, question: Question): Promise<unknown> {
    const { pubsub, channels, nodeId, timeoutMs } = this.#options;
    if (!this.#options.ready()) return undefined;
    const ask = this.#asks.nextId();
    const answer = new Promise<unknown>((resolve) => this.#asks.add(ask, resolve, timeoutMs));
    this.#publishRooms(); // what was said before the ask goes before it
    try {
      this.traffic.out++;
      const listeners = await pubsub.publish(channels.node(node), envelope({ ...question, from: nodeId, ask }));
      // Nobody subscribed: the node is gone; no need to wait out the timeout.
      if (listeners === 0) this.#asks.settle(ask)?.(undefined);
    } catch {
      this.#asks.settle(ask)?.(undefined);
    }
    return answer;
  }

  /** A message whose delivery nobody waits for, after the room events waiting (so this node's messages keep their order). */
  #send(channel: string, header: Header, payload?: Uint8Array): void {
    this.#publishRooms();
    this.#publish(channel, header, payload);
  }

  /** Published now; its failure is logged (the transport being away is reported once, by status). `heard`: how many subscribers heard it. */
  #publish(channel: string, header: Header, payload?: Uint8Array | readonly Uint8Array[], heard?: (subscribers: number) => void): void {
    if (!this.#options.ready()) return;
    this.traffic.out++;
    this.#options.pubsub.publish(channel, envelope(header, payload)).then(heard, (error: unknown) => this.#options.logError('publishing', error as Error));
  }

  /** A room event waits for the end of this turn, with the room's others. */
  #queueRoomEvent(event: RoomEvent): void {
    let events = this.#roomEvents.get(event.room);
    if (events === undefined) this.#roomEvents.set(event.room, (events = []));
    events.push(event);
    if (this.#roomsScheduled) return;
    this.#roomsScheduled = true;
    setImmediate(() => {
      this.#roomsScheduled = false;
      this.#publishRooms();
    });
  }

  /** Each room's waiting events, as one message per room (cut where one would pass BATCH_BYTES or BATCH_EVENTS). */
  #publishRooms(): void {
    if (this.#roomEvents.size === 0) return;
    const rooms = [...this.#roomEvents];
    this.#roomEvents.clear();
    const { nodeId: from, channels } = this.#options;
    for (const [room, events] of rooms) {
      const channel = channels.room(room);
      // Taken either way (the log forgets it); carried only where another node heard the room's last message (a node that starts
      // serving the room meanwhile reads the stream for what comes without one, and gets them carried from the next on).
      const alone = this.#heardAlone.has(room);
      const logOf = (event: RoomEvent): CarriedEntry | undefined => {
        const log = event.logId === undefined ? undefined : this.#options.carried?.(event.logId);
        return alone ? undefined : log;
      };
      const heard = (subscribers: number): void => {
        if (subscribers <= 1) this.#heardAlone.add(room);
        else this.#heardAlone.delete(room);
      };
      if (events.length === 1) {
        const [event] = events as [RoomEvent];
        const { legacyText, except, origin, frame } = event;
        this.#publish(channel, { k: BusKind.Room, from, room, legacyText, except, origin, log: logOf(event) }, frame, heard);
        continue;
      }
      let batched: BatchedEvent[] = [];
      let frames: Uint8Array[] = [];
      let bytes = 0;
      for (const event of events) {
        const { legacyText, except, origin, frame } = event;
        if (batched.length === BATCH_EVENTS || (batched.length > 0 && bytes + frame.length > BATCH_BYTES)) {
          this.#publish(channel, { k: BusKind.Rooms, from, room, events: batched }, frames, heard);
          batched = [];
          frames = [];
          bytes = 0;
        }
        batched.push({ n: frame.length, legacyText, except, origin, log: logOf(event) });
        frames.push(frame);
        bytes += frame.length;
      }
      this.#publish(channel, { k: BusKind.Rooms, from, room, events: batched }, frames, heard);
    }
  }
}
