// A few composable checks for JSON bodies. Zero dependencies on purpose: the protocol
// package ships to browsers and devices' test rigs, and its shapes are small.
import { ProtocolError } from './errors.js';

export type Check<T> = (value: unknown, path: string) => T;

function fail(path: string, expected: string): never {
  throw new ProtocolError('INVALID_MESSAGE', `${path || 'body'} must be ${expected}.`);
}

export const str: Check<string> = (v, p) => (typeof v === 'string' ? v : fail(p, 'a string'));

// JSON may spell zero as -0; `+ 0` turns it into plain 0, so a decoded id survives re-encoding
// unchanged and Object.is(id, 0) holds.

/** A non-negative safe integer (ids, sizes, counts, timestamps). */
export const uint: Check<number> = (v, p) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v + 0 : fail(p, 'a non-negative integer'));

/** An unsigned 32-bit integer (transfer ids travel in 4 bytes). */
export const u32: Check<number> = (v, p) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v + 0 : fail(p, 'an integer from 0 to 4294967295');

export const bool: Check<boolean> = (v, p) => (typeof v === 'boolean' ? v : fail(p, 'true or false'));

export function oneOf<const T extends readonly string[]>(...values: T): Check<T[number]> {
  return (v, p) => (typeof v === 'string' && values.includes(v) ? v : fail(p, `one of ${values.join(', ')}`));
}

/** Marks a field optional: absent or null both read as undefined. */
export interface Optional<T> {
  optional: Check<T>;
}
export function opt<T>(check: Check<T>): Optional<T> {
  return { optional: check };
}

type Fields = Record<string, Check<unknown> | Optional<unknown>>;
type Out<F extends Fields> = {
  [K in keyof F as F[K] extends Optional<unknown> ? never : K]: F[K] extends Check<infer T> ? T : never;
} & {
  [K in keyof F as F[K] extends Optional<unknown> ? K : never]?: F[K] extends Optional<infer T> ? T : never;
};

/** An object with these fields; unknown fields are ignored so newer peers can add some. */
export function obj<F extends Fields>(fields: F): Check<Out<F>> {
  const entries = Object.entries(fields);
  return (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, 'an object');
    const source = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, spec] of entries) {
      const value = source[key];
      const where = p ? `${p}.${key}` : key;
      if (typeof spec === 'function') out[key] = spec(value, where);
      else if (value !== undefined && value !== null) out[key] = spec.optional(value, where);
    }
    return out as Out<F>;
  };
}

export function arr<T>(item: Check<T>): Check<T[]> {
  return (v, p) => {
    if (!Array.isArray(v)) fail(p, 'an array');
    return v.map((x, i) => item(x, `${p}[${i}]`));
  };
}
