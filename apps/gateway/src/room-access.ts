import { ProtocolError } from '@switchboard/protocol';

/** Who may join a room, read its history and speak in it (docs/identity-and-security.md, "Rooms and who may use them"). */
export const roomAccessKinds = ['anyone', 'accounts', 'operators', 'named'] as const;
export type RoomAccessKind = (typeof roomAccessKinds)[number];

/** A room's setting; `accounts` (lower case) only with `named`. Operators are always admitted. */
export interface RoomAccess {
  access: RoomAccessKind;
  accounts?: string[];
}

/** A room's setting as it is stored and shared between gateways. */
export interface RoomAccessRow extends RoomAccess {
  room: string;
}

/** Who asks: a signed-in account (and its role), or a guest or device (account null). */
export interface RoomVisitor {
  account: string | null;
  role: 'user' | 'admin' | null;
}

export const OPEN_ROOM: RoomAccess = { access: 'anyone' };

/**
 * What a room with devices in it is until an operator says otherwise: a device acts on every
 * line it hears, so nobody but an operator may command it by default.
 */
export const DEVICE_ROOM_DEFAULT: RoomAccess = { access: 'operators' };

export function admits(setting: RoomAccess, visitor: RoomVisitor): boolean {
  if (visitor.role === 'admin') return true;
  switch (setting.access) {
    case 'anyone':
      return true;
    case 'accounts':
      return visitor.account !== null;
    case 'operators':
      return false;
    case 'named':
      return visitor.account !== null && (setting.accounts ?? []).includes(visitor.account.toLowerCase());
  }
}

/** One form for every place a setting comes from: kind, and the named accounts in lower case, sorted, without repeats. */
export function normalAccess(given: { access: RoomAccessKind; accounts?: readonly string[] | undefined }): RoomAccess {
  if (given.access !== 'named') return { access: given.access };
  return { access: 'named', accounts: [...new Set((given.accounts ?? []).map((a) => a.toLowerCase()))].sort() };
}

export function roomForbidden(room: string, setting: RoomAccess, what: string): ProtocolError {
  const who = setting.access === 'accounts' ? 'signed-in accounts' : setting.access === 'operators' ? 'operators' : 'the accounts it names';
  return new ProtocolError('ROOM_FORBIDDEN', `Room "${room}" is open to ${who} only: you may not ${what}.`);
}
