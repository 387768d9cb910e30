import { createHash, type Hash } from 'node:crypto';
import { FrameType, ProtocolError, encodeFrame, encodeMessage, type ClientMessageOf, type ErrorCode, type ServerMessage } from '@switchboard/protocol';
import type { Hub } from './hub.js';
import type { Member } from './member.js';

interface Transfer {
  /** The sender's id for it (unique among the sender's open transfers). */
  clientId: number;
  /** The id recipients see. */
  serverId: number;
  historyId: number;
  sender: Member;
  recipients: Set<Member>;
  size: number;
  received: number;
  hash: Hash;
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * Relays files live from a sender to a room or one member. Chunks are forwarded as they come,
 * interleaved with chat, so a big file never holds up anyone's messages. A receiver that falls
 * behind pauses the sender (not the room); one that stays stalled is dropped from the transfer.
 */
export class FileRelay {
  readonly #hub: Hub;
  readonly #bySender = new Map<Member, Map<number, Transfer>>();
  #nextServerId = 1;

  constructor(hub: Hub) {
    this.#hub = hub;
  }

  offer(sender: Member, offer: ClientMessageOf<'file-offer'>): void {
    const hub = this.#hub;
    const { maxFileBytes, maxTransfersPerMember } = hub.config.limits;
    const open = this.#bySender.get(sender) ?? new Map<number, Transfer>();
    if (open.has(offer.transfer)) throw new ProtocolError('FILE_TRANSFER_EXISTS', `Transfer ${offer.transfer} is already open.`);
    if (open.size >= maxTransfersPerMember) throw new ProtocolError('TOO_MANY_TRANSFERS', `At most ${maxTransfersPerMember} transfers may be open at once.`);
    if (offer.size > maxFileBytes) {
      throw new ProtocolError('FILE_TOO_LARGE', `The file is ${offer.size} bytes; the limit is ${maxFileBytes} bytes.`);
    }
    const name = offer.name.slice(0, 255);
    const mime = offer.mime?.slice(0, 127) || 'application/octet-stream';
    let recipients: Member[];
    let target: { room: string } | { to: string };
    if (offer.to !== undefined) {
      const to = hub.findByName(offer.to);
      if (to === undefined) throw new ProtocolError('NO_SUCH_MEMBER', `Nobody named "${offer.to}" is connected.`);
      recipients = to === sender ? [] : [to];
      target = { to: to.name };
    } else {
      const room = offer.room === undefined ? sender.currentRoom : hub.rooms.get(offer.room);
      if (room === undefined || !sender.rooms.includes(room)) {
        throw new ProtocolError('NOT_IN_ROOM', offer.room === undefined ? 'You are not in any room.' : `You are not in room "${offer.room}".`);
      }
      recipients = [...room.members].filter((m) => m !== sender);
      target = { room: room.name };
    }
    const entry = hub.store({ kind: 'file', from: sender.name, transport: sender.transport, name, size: offer.size, mime, ...target });
    const transfer: Transfer = {
      clientId: offer.transfer,
      serverId: this.#nextServerId++ >>> 0,
      historyId: entry.id,
      sender,
      recipients: new Set(recipients.filter((m) => !m.legacy)),
      size: offer.size,
      received: 0,
      hash: createHash('sha256'),
    };
    open.set(offer.transfer, transfer);
    this.#bySender.set(sender, open);
    const announce: ServerMessage = {
      type: 'file-offer',
      transfer: transfer.serverId,
      id: entry.id,
      from: sender.name,
      transport: sender.transport,
      ts: entry.ts,
      name,
      size: offer.size,
      mime,
      ...target,
    };
    const frame = encodeMessage(announce);
    const line = encodeMessage({ type: 'text', text: `* ${sender.name} sent a file: ${name} (${offer.size} bytes)` });
    for (const member of recipients) hub.deliver(member, member.legacy ? line : frame);
    // The sender's copy is its acknowledgement and tells it the history id.
    if (!sender.legacy) hub.deliver(sender, frame);
  }

  data(sender: Member, clientId: number, data: Uint8Array): void {
    const transfer = this.#get(sender, clientId);
    if (transfer.received + data.length > transfer.size) {
      this.#fail(transfer, 'FILE_SIZE_MISMATCH', `More than the announced ${transfer.size} bytes arrived.`);
      return;
    }
    transfer.received += data.length;
    transfer.hash.update(data);
    if (transfer.recipients.size === 0) return;
    // One frame for every recipient, with the server's transfer id in front of the data.
    const frame = encodeFrame(FrameType.FileData, data, u32be(transfer.serverId));
    const hub = this.#hub;
    for (const member of transfer.recipients) {
      hub.deliver(member, frame);
      if (hub.isBackedUp(member)) hub.block(sender, member);
    }
  }

  end(sender: Member, end: ClientMessageOf<'file-end'>): void {
    const transfer = this.#get(sender, end.transfer);
    if (transfer.received !== transfer.size) {
      this.#fail(transfer, 'FILE_SIZE_MISMATCH', `Received ${transfer.received} of the announced ${transfer.size} bytes.`);
      return;
    }
    const digest = transfer.hash.digest('hex');
    if (!SHA256_HEX.test(end.sha256) || digest !== end.sha256.toLowerCase()) {
      this.#fail(transfer, 'FILE_CHECKSUM_MISMATCH', `The bytes received hash to ${digest}, not ${end.sha256}.`);
      return;
    }
    this.#close(transfer);
    this.#hub.history.completeFile(transfer.historyId, digest);
    const frame = encodeMessage({ type: 'file-end', transfer: transfer.serverId, sha256: digest });
    for (const member of transfer.recipients) this.#hub.deliver(member, frame);
  }

  abort(sender: Member, abort: ClientMessageOf<'file-abort'>): void {
    const transfer = this.#get(sender, abort.transfer);
    this.#close(transfer);
    this.#tellRecipients(transfer, 'FILE_ABORTED', abort.reason ? `The sender stopped: ${abort.reason}` : 'The sender stopped the transfer.');
  }

  /** A member left: abort what it was sending; stop sending to it. */
  memberLeft(member: Member): void {
    const open = this.#bySender.get(member);
    if (open !== undefined) {
      for (const transfer of [...open.values()]) {
        this.#close(transfer);
        this.#tellRecipients(transfer, 'FILE_ABORTED', 'The sender disconnected.');
      }
    }
    for (const transfers of this.#bySender.values()) {
      for (const transfer of transfers.values()) transfer.recipients.delete(member);
    }
  }

  /** The sender waited too long for receivers that do not read: drop them from its transfers. */
  releaseStalled(sender: Member): void {
    const stalled = [...sender.blockedBy].filter((m) => m !== sender);
    for (const transfer of this.#bySender.get(sender)?.values() ?? []) {
      for (const member of stalled) {
        if (!transfer.recipients.delete(member)) continue;
        this.#hub.deliver(
          member,
          encodeMessage({ type: 'file-abort', transfer: transfer.serverId, code: 'FILE_ABORTED', reason: 'You fell too far behind to receive this file.' }),
        );
      }
    }
    for (const member of stalled) {
      sender.blockedBy.delete(member);
      member.waiters.delete(sender);
    }
    if (sender.blockedBy.size === 0) sender.link.resumeInput();
  }

  #get(sender: Member, clientId: number): Transfer {
    const transfer = this.#bySender.get(sender)?.get(clientId);
    if (transfer === undefined) throw new ProtocolError('FILE_UNKNOWN_TRANSFER', `No open transfer has id ${clientId}.`);
    return transfer;
  }

  #close(transfer: Transfer): void {
    const open = this.#bySender.get(transfer.sender);
    open?.delete(transfer.clientId);
    if (open?.size === 0) this.#bySender.delete(transfer.sender);
  }

  #fail(transfer: Transfer, code: ErrorCode, message: string): void {
    this.#close(transfer);
    this.#hub.sendError(transfer.sender, code, `Transfer ${transfer.clientId}: ${message}`);
    this.#tellRecipients(transfer, code, message);
  }

  #tellRecipients(transfer: Transfer, code: ErrorCode, reason: string): void {
    const frame = encodeMessage({ type: 'file-abort', transfer: transfer.serverId, code, reason });
    for (const member of transfer.recipients) this.#hub.deliver(member, frame);
  }
}

function u32be(value: number): Uint8Array {
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}
