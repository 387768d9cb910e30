/**
 * The wire format of the Redis bus: what one node publishes and every other node reads, and the
 * deadline put on a Redis command whose caller cannot wait for ever.
 */
import type { AdminAction, ForwardedCall, MemberRecord, RoomEventOrigin } from './cluster.js';
import type { IdentityChange } from '../identity/shared-identity.js';

/** What travels on the pub/sub channels: a small JSON header, then a frame's bytes where there is one. */
export type Header =
  | { k: 'room'; from: string; room: string; legacyText?: string | undefined; except?: string | undefined; origin?: RoomEventOrigin | undefined }
  | { k: 'put'; from: string; record: MemberRecord }
  | { k: 'remove'; from: string; id: string }
  | { k: 'sync'; from: string; records: MemberRecord[] }
  | { k: 'lost'; from: string; node: string }
  | { k: 'member'; from: string; to: string; legacyText?: string | undefined }
  | { k: 'admin'; from: string; ask: number; action: AdminAction }
  | { k: 'announce'; from: string; ask: number; text: string }
  | { k: 'call'; from: string; ask: number; call: ForwardedCall }
  | { k: 'identity'; from: string; change: IdentityChange }
  | { k: 'answer'; from: string; ask: number; value: unknown };

/**
 * [u8 n][n bytes: sending node][u32 m][m bytes: header JSON][payload]: the sender comes first,
 * so a node drops its own echoes (every node hears the bus, itself included) without parsing.
 */
export function envelope(header: Header, payload?: Uint8Array): Buffer {
  const from = Buffer.from(header.from);
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.allocUnsafe(1 + from.length + 4 + json.length + (payload?.length ?? 0));
  out[0] = from.length;
  from.copy(out, 1);
  out.writeUInt32BE(json.length, 1 + from.length);
  json.copy(out, 5 + from.length);
  if (payload !== undefined) out.set(payload, 5 + from.length + json.length);
  return out;
}

export function senderOf(message: Buffer): string {
  return message.toString('latin1', 1, 1 + message[0]!);
}

export function openEnvelope(message: Buffer): { header: Header; payload: Uint8Array } {
  const at = 1 + message[0]!;
  const length = message.readUInt32BE(at);
  return { header: JSON.parse(message.toString('utf8', at + 4, at + 4 + length)) as Header, payload: message.subarray(at + 4 + length) };
}

/** A command that did not answer in time: rejected (it may still land; the caller was told it did not). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
