import { NAME_RULE, isValidName } from '@switchboard/protocol';
import { ClientError } from './client-errors.js';

// Checking and shaping what callers pass in, shared by the client and the file sender.

/** Throws INVALID_ARGUMENT unless `name` follows the name rule (`what`: "room", "member name"...). */
export function checkName(name: string, what: string): void {
  if (!isValidName(name)) {
    throw new ClientError('INVALID_ARGUMENT', `Invalid ${what} "${name}": use ${NAME_RULE}.`);
  }
}

/** Names and rooms are unique ignoring case. */
export function sameName(a: string | null | undefined, b: string | null | undefined): boolean {
  return a != null && b != null && a.toLowerCase() === b.toLowerCase();
}

/** The fields that are set: optional request fields are left out rather than sent as null. */
export function definedOnly<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
