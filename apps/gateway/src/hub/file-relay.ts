import { createHash, type Hash } from 'node:crypto';
import { FrameType, ProtocolError, encodeFrame, encodeMessage, u32be, type ClientMessageOf, type ErrorCode, type ServerMessageOf } from '@switchboard/protocol';
import type { MemberDirectory, MemberRecord } from '../cluster/cluster.js';
import type { Delivery } from '../delivery/delivery.js';
import type { FileStore, FileWriter } from '../files/file-store.js';
import type { HistoryService } from '../history/history-service.js';
import { andThen, type Handled } from './handled.js';
import type { Member } from './member.js';
import { hearsFrom, originOf, type Router } from './router.js';

interface Transfer {
  /** The sender's id for it (unique among the sender's open transfers). */
  clientId: number;
  /** The id recipients see. */
  serverId: number;
  historyId: number;
  sender: Member;
  /** Receivers on this node: their reading paces the sender. */
  recipients: Set<Member>;
  /** Where the frames go beyond this node: the room, or the one member on another node. */
  remote: { room: string } | { member: MemberRecord } | undefined;
  size: number;
  received: number;
  hash: Hash;
  /** The copy kept for later (--file-store), when the store takes a file this size. */
  copy: FileWriter | null;
}

export interface FileLimits {
  maxFileBytes: number;
  maxTransfersPerMember: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * Relays files live from a sender to a room or one member. Chunks are forwarded as they come,
 * interleaved with chat, so a big file never holds up anyone's messages. A receiver on this
 * node that falls behind pauses the sender (not the room); one that stays stalled is dropped
 * from the transfer. Receivers on other nodes are paced by their own node.
 */
export class FileRelay {
  readonly #bySender = new Map<Member, Map<number, Transfer>>();

  constructor(
    private readonly router: Router,
    private readonly delivery: Delivery,
    private readonly directory: MemberDirectory,
    private readonly history: HistoryService,
    private readonly limits: FileLimits,
    private readonly now: () => number,
    private readonly store: FileStore | null = null,
    private readonly log?: { warn(obj: object, msg: string): void },
  ) {}

  offer(sender: Member, offer: ClientMessageOf<'file-offer'>): Handled {
    const { maxFileBytes, maxTransfersPerMember } = this.limits;
    const open = this.#bySender.get(sender) ?? new Map<number, Transfer>();
    if (open.has(offer.transfer)) throw new ProtocolError('FILE_TRANSFER_EXISTS', `Transfer ${offer.transfer} is already open.`);
    if (open.size >= maxTransfersPerMember) throw new ProtocolError('TOO_MANY_TRANSFERS', `At most ${maxTransfersPerMember} transfers may be open at once.`);
    if (offer.size > maxFileBytes) throw new ProtocolError('FILE_TOO_LARGE', `The file is ${offer.size} bytes; the limit is ${maxFileBytes} bytes.`);
    if (offer.to !== undefined) {
      const known = this.directory.byName(offer.to);
      // Signed in on another gateway a moment ago: its record may reach this one after its welcome reached the sender (as for a private message).
      const lookup = known === undefined ? this.directory.lookup?.(offer.to) : undefined;
      return andThen(lookup ?? known, (to) => {
        if (to === undefined) throw new ProtocolError('NO_SUCH_MEMBER', `Nobody named "${offer.to}" is connected.`);
        if (sender.isClosed) return;
        const here = this.router.members.get(to.id);
        const local = here === undefined || here === sender ? [] : [here];
        const remote = here === undefined ? { member: to } : undefined;
        return this.#open(sender, offer, open, local, remote, { to: to.name, fromIdentity: sender.identity, toIdentity: to.identity });
      });
    }
    const room = offer.room === undefined ? sender.currentRoom : this.router.rooms.get(offer.room);
    if (room === undefined || !sender.rooms.includes(room)) {
      throw new ProtocolError('NOT_IN_ROOM', offer.room === undefined ? 'You are not in any room.' : `You are not in room "${offer.room}".`);
    }
    // Devices hear a file as they hear words (docs/devices.md, "Who a device hears").
    const origin = originOf(sender);
    const local = [...room.members].filter((m) => m !== sender && (m.hears === undefined || hearsFrom(m.hears, origin)));
    return this.#open(sender, offer, open, local, { room: room.name }, { room: room.name });
  }

  /** The offer, its recipients known: logged, then announced to them and acknowledged to its sender. */
  #open(
    sender: Member,
    offer: ClientMessageOf<'file-offer'>,
    open: Map<number, Transfer>,
    recipients: Member[],
    remote: Transfer['remote'],
    target: { room: string } | { to: string; fromIdentity: string; toIdentity: string },
  ): Handled {
    const name = offer.name.slice(0, 255);
    const mime = offer.mime?.slice(0, 127) || 'application/octet-stream';
    let local = recipients;
    return andThen(
      this.history.record({ kind: 'file', from: sender.name, transport: sender.transport, name, size: offer.size, mime, ...target }, this.now()),
      (entry) => {
        if (sender.isClosed) return; // it left while the cluster logged the offer
        local = local.filter((m) => !m.isClosed);
        const privately = 'to' in target ? target : undefined;
        const copy =
          this.store?.begin({
            id: entry.id,
            name,
            size: offer.size,
            mime,
            from: sender.name,
            ts: entry.ts,
            room: privately === undefined ? (target as { room: string }).room : null,
            to: privately?.to ?? null,
            fromIdentity: privately?.fromIdentity ?? null,
            toIdentity: privately?.toIdentity ?? null,
          }) ?? null;
        const transfer: Transfer = {
          clientId: offer.transfer,
          // The history id: unique across the cluster, so transfers from two nodes never share one.
          serverId: entry.id >>> 0,
          historyId: entry.id,
          sender,
          recipients: new Set(local.filter((m) => !m.legacy)),
          remote,
          size: offer.size,
          received: 0,
          hash: createHash('sha256'),
          copy,
        };
        open.set(offer.transfer, transfer);
        this.#bySender.set(sender, open);
        const announce: ServerMessageOf<'file-offer'> = {
          type: 'file-offer',
          transfer: transfer.serverId,
          id: entry.id,
          from: sender.name,
          transport: sender.transport,
          ts: entry.ts,
          name,
          size: offer.size,
          mime,
          ...('to' in target ? { to: target.to } : target),
        };
        const frame = encodeMessage(announce);
        // Plain devices are sent no files and no line about them (PROTOCOL.md §2).
        for (const member of local) if (!member.legacy) this.router.deliver(member, frame);
        this.#toRemote(transfer, frame);
        // The sender's copy is its acknowledgement: it tells the server's transfer id and the history id.
        if (sender.speaksProtocol) this.router.deliver(sender, offer.ref === undefined ? frame : encodeMessage({ ...announce, ref: offer.ref }));
      },
    );
  }

  data(sender: Member, clientId: number, data: Uint8Array): void {
    const transfer = this.#get(sender, clientId);
    if (transfer.received + data.length > transfer.size) {
      this.#fail(transfer, 'FILE_SIZE_MISMATCH', `More than the announced ${transfer.size} bytes arrived.`);
      return;
    }
    transfer.received += data.length;
    transfer.hash.update(data);
    transfer.copy?.write(data);
    // One frame for every recipient, with the server's transfer id in front of the data.
    const frame = encodeFrame(FrameType.FileData, data, u32be(transfer.serverId));
    for (const member of transfer.recipients) {
      this.router.deliver(member, frame);
      if (this.delivery.isBackedUp(member)) this.delivery.block(sender, member);
    }
    this.#toRemote(transfer, frame);
  }

  end(sender: Member, end: ClientMessageOf<'file-end'>): void {
    const transfer = this.#get(sender, end.transfer);
    if (transfer.received !== transfer.size) {
      this.#fail(transfer, 'FILE_SIZE_MISMATCH', `Received ${transfer.received} of the announced ${transfer.size} bytes.`, end.ref);
      return;
    }
    const digest = transfer.hash.digest('hex');
    if (!SHA256_HEX.test(end.sha256) || digest !== end.sha256.toLowerCase()) {
      this.#fail(transfer, 'FILE_CHECKSUM_MISMATCH', `The bytes received hash to ${digest}, not ${end.sha256}.`, end.ref);
      return;
    }
    // Kept only now: the bytes passed the sender's SHA-256.
    const copy = transfer.copy;
    transfer.copy = null;
    this.#close(transfer);
    this.history.completeFile(transfer.historyId, digest);
    copy?.complete(digest, (error) => {
      if (error) this.log?.warn({ err: error, file: transfer.historyId }, 'a completed file could not be kept (--file-store)');
    });
    const done: ServerMessageOf<'file-end'> = { type: 'file-end', transfer: transfer.serverId, sha256: digest };
    const frame = encodeMessage(done);
    for (const member of transfer.recipients) this.router.deliver(member, frame);
    this.#toRemote(transfer, frame);
    // The sender's confirmation that the file arrived whole (PROTOCOL.md §7).
    this.router.deliver(sender, end.ref === undefined ? frame : encodeMessage({ ...done, ref: end.ref }));
  }

  abort(sender: Member, abort: ClientMessageOf<'file-abort'>): void {
    const transfer = this.#get(sender, abort.transfer);
    this.#close(transfer);
    this.#tellRecipients(transfer, 'FILE_ABORTED', abort.reason ? `The sender stopped: ${abort.reason}` : 'The sender stopped the transfer.');
  }

  /** A member left: abort what it was sending; stop sending to it. */
  memberLeft(member: Member): void {
    for (const transfer of [...(this.#bySender.get(member)?.values() ?? [])]) {
      this.#close(transfer);
      this.#tellRecipients(transfer, 'FILE_ABORTED', 'The sender disconnected.');
    }
    for (const transfers of this.#bySender.values()) {
      for (const transfer of transfers.values()) transfer.recipients.delete(member);
    }
  }

  /** The sender waited too long for receivers that do not read: drop them from its transfers. */
  releaseStalled(sender: Member): void {
    const stalled = [...sender.outbox.blockedBy].filter((m) => m !== sender) as Member[];
    for (const transfer of this.#bySender.get(sender)?.values() ?? []) {
      for (const member of stalled) {
        if (!transfer.recipients.delete(member)) continue;
        const abort: ServerMessageOf<'file-abort'> = {
          type: 'file-abort',
          transfer: transfer.serverId,
          code: 'FILE_ABORTED',
          reason: 'You fell too far behind to receive this file.',
        };
        this.router.deliver(member, encodeMessage(abort));
      }
    }
    this.delivery.release(sender, stalled);
  }

  #toRemote(transfer: Transfer, frame: Uint8Array, line?: string): void {
    const remote = transfer.remote;
    if (remote === undefined) return;
    if ('room' in remote)
      this.router.publishRoom({ room: remote.room, frame, legacyText: line, except: transfer.sender.id, origin: originOf(transfer.sender) });
    else this.router.toMember(remote.member, frame, line);
  }

  #get(sender: Member, clientId: number): Transfer {
    const transfer = this.#bySender.get(sender)?.get(clientId);
    if (transfer === undefined) throw new ProtocolError('FILE_UNKNOWN_TRANSFER', `No open transfer has id ${clientId}.`);
    return transfer;
  }

  /** The transfer is over: a copy still being written is one that did not complete, and goes. */
  #close(transfer: Transfer): void {
    transfer.copy?.abort();
    transfer.copy = null;
    const open = this.#bySender.get(transfer.sender);
    open?.delete(transfer.clientId);
    if (open?.size === 0) this.#bySender.delete(transfer.sender);
  }

  #fail(transfer: Transfer, code: ErrorCode, message: string, ref?: string): void {
    this.#close(transfer);
    const error = new ProtocolError(code, `Transfer ${transfer.clientId}: ${message}`);
    error.ref = ref;
    this.#tellRecipients(transfer, code, message);
    throw error;
  }

  #tellRecipients(transfer: Transfer, code: ErrorCode, reason: string): void {
    const frame = encodeMessage({ type: 'file-abort', transfer: transfer.serverId, code, reason });
    for (const member of transfer.recipients) this.router.deliver(member, frame);
    this.#toRemote(transfer, frame);
  }
}
