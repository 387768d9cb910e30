import { ProtocolError, encodeMessage, type ClientMessageOf, type ServerMessageOf } from '@switchboard/protocol';
import type { ClusterNode, MemberRecord, RoomEvent, RoomEventOrigin } from '../cluster/cluster.js';
import type { GatewayConfig } from '../config.js';
import type { HistoryService } from '../history/history-service.js';
import { andThen, type Handled } from './handled.js';
import type { Member } from './member.js';
import { plainLines } from './plain-lines.js';
import { originOf, type Router } from './router.js';

/**
 * A room message on its way out. Its frame is encoded when the first member needs it, once: a
 * room where nobody else listens (a device watched only through its pipe) never pays for it.
 * A class with the getter on its prototype, not an object literal with a getter: V8 makes such a
 * literal a dictionary-mode object, and the scavenger then keeps what its getter holds (the
 * message, its frame) alive until the next full collection, so every message was promoted to the
 * old generation (3.2 MB/s at 4,000 msg/s in a room of 200: scavenges of 4-15 ms and a
 * mark-compact every 2 s; docs/benchmark.md).
 */
class MessageEvent implements RoomEvent {
  #frame: Uint8Array | undefined;

  constructor(
    readonly room: string,
    private readonly message: ServerMessageOf<'message'>,
    readonly legacyText: string,
    readonly except: string | undefined,
    readonly origin: RoomEventOrigin,
  ) {}

  /** The history entry this event is: the bus may carry it along. */
  get logId(): number {
    return this.message.id;
  }

  get frame(): Uint8Array {
    return (this.#frame ??= encodeMessage(this.message));
  }
}

/** What members say (PROTOCOL.md §4): room messages and private ones, stored before they are sent. */
export class ChatMessages {
  readonly #node: ClusterNode;
  readonly #router: Router;
  readonly #history: HistoryService;
  readonly #now: () => number;
  readonly #limits: GatewayConfig['limits'];

  constructor(node: ClusterNode, router: Router, history: HistoryService, now: () => number, limits: GatewayConfig['limits']) {
    this.#node = node;
    this.#router = router;
    this.#history = history;
    this.#now = now;
    this.#limits = limits;
  }

  /** A message to a room: stored, then fanned out (its sender gets its own copy, with the ref, as its acknowledgement). */
  say(member: Member, room: string, { text, data }: Said, ref?: string): Handled {
    this.#checkText(text, data);
    return andThen(this.#history.record({ kind: 'message', room, from: member.name, transport: member.transport, text, data }, this.#now()), (entry) => {
      const message: ServerMessageOf<'message'> = { type: 'message', id: entry.id, room, from: entry.from, transport: entry.transport, ts: entry.ts, text };
      if (data !== undefined) message.data = data;
      const legacyText = plainLines.chat(room, entry.from, text);
      // Plain devices do not get their own words back: many treat incoming lines as commands.
      // A sender with a ref gets its own copy, carrying the ref: its acknowledgement.
      const ownCopy = member.speaksProtocol && ref !== undefined;
      const except = !member.speaksProtocol || ownCopy ? member.id : undefined;
      this.#router.toRoom(new MessageEvent(room, message, legacyText, except, originOf(member)));
      if (ownCopy && !member.isClosed) this.#router.deliver(member, encodeMessage({ ...message, ref }));
    });
  }

  /** A private message to a member of any node: stored in both sides' history, then delivered. */
  private(member: Member, request: ClientMessageOf<'private'>): Handled {
    const { text, data } = said(request);
    this.#checkText(text, data);
    const known = this.#node.directory.byName(request.to);
    // Signed in on another gateway a moment ago: its record may reach this one after its welcome reached whoever writes to it.
    const lookup = known === undefined ? this.#node.directory.lookup?.(request.to) : undefined;
    return andThen(lookup ?? known, (target) => {
      if (target === undefined) throw new ProtocolError('NO_SUCH_MEMBER', `Nobody named "${request.to}" is connected.`);
      return this.#privateTo(member, request, target, text, data);
    });
  }

  #privateTo(member: Member, request: ClientMessageOf<'private'>, target: MemberRecord, text: string, data: string | undefined): Handled {
    const entry = {
      kind: 'private',
      from: member.name,
      to: target.name,
      transport: member.transport,
      text,
      data,
      fromIdentity: member.identity,
      toIdentity: target.identity,
    } as const;
    return andThen(this.#history.record(entry, this.#now()), (entry) => {
      const message: ServerMessageOf<'private'> = {
        type: 'private',
        id: entry.id,
        from: entry.from,
        to: entry.to,
        transport: entry.transport,
        ts: entry.ts,
        text,
      };
      if (data !== undefined) message.data = data;
      const frame = encodeMessage(message);
      if (target.id !== member.id) this.#router.toMember(target, frame, plainLines.private(entry.from, text));
      if (member.speaksProtocol && !member.isClosed)
        this.#router.deliver(member, request.ref === undefined ? frame : encodeMessage({ ...message, ref: request.ref }));
    });
  }

  #checkText(text: string, data?: string): void {
    const max = this.#limits.maxTextBytes;
    // base64: 4 characters for every 3 bytes.
    if (data !== undefined) {
      // With data, the text is the server's reading of it (U+FFFD, 3 bytes, per stray byte): PROTOCOL.md §4 limits the bytes.
      if ((data.length / 4) * 3 > max + 2) throw new ProtocolError('TEXT_TOO_LONG', `Data is longer than ${max} bytes.`);
      return;
    }
    // Cheap bound first: a UTF-16 code unit is at most 3 UTF-8 bytes. Then counted, not encoded
    // (encoding a device's 64 KiB message to measure it was a 64 KiB copy thrown away).
    if (text.length * 3 > max && Buffer.byteLength(text, 'utf8') > max) {
      throw new ProtocolError('TEXT_TOO_LONG', `Text is longer than ${max} bytes of UTF-8.`);
    }
  }
}

/** What a member said: text, or bytes (base64 `data`) with their UTF-8 reading as the text. */
export interface Said {
  text: string;
  data?: string | undefined;
}

const lossyUtf8 = new TextDecoder('utf-8');

export function said(request: { text: string; data?: string | undefined }): Said {
  if (request.data === undefined) return { text: request.text };
  return { text: lossyUtf8.decode(Buffer.from(request.data, 'base64')), data: request.data };
}
