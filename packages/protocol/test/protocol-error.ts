import { expect } from 'vitest';
import { ProtocolError } from '../src/index.js';

/** Runs `fn` and returns the ProtocolError it throws; fails if it throws anything else or nothing. */
export function protocolErrorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}
