import { describe, expect, it } from 'vitest';
import { ProtocolError } from '@switchboard/protocol';
import { AttemptLimiter, attemptAddress } from '../src/identity/attempt-limiter.js';
import { Identity, MAX_FAILURE_KEYS } from '../src/identity/identity.js';
import { IdentityStore } from '../src/identity/identity-store.js';
import { lookAlikeKey } from '../src/identity/look-alike.js';

const codeOf = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'signed in',
    (error: unknown) => (error instanceof ProtocolError ? error.code : String(error)),
  );

describe('the failure table', () => {
  it('a spray of names and addresses past its bound does not forget recent failures', async () => {
    const identity = new Identity(new IdentityStore(null), { registration: 'open', requireLogin: false, requireLoginDevices: false, tokenTtlMs: 60_000 });
    try {
      // The victim's guesser is limited...
      for (let i = 0; i < 10; i++) expect(await codeOf(identity.signIn({ token: `bad-${i}` }, 'victim', '192.0.2.1'))).toBe('AUTH_FAILED');
      expect(await codeOf(identity.signIn({ token: 'bad' }, 'victim', '192.0.2.1'))).toBe('AUTH_RATE_LIMITED');
      // ...then fills the table with bad tokens from fresh addresses (two counters each)...
      const spray = Math.ceil(MAX_FAILURE_KEYS / 2) + 100;
      const codes = new Map<string, number>();
      for (let i = 0; i < spray; i++) {
        const code = await codeOf(identity.signIn({ token: 'bad' }, `n${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      // (once full, new counters are refused rather than old ones dropped)
      expect(codes.get('AUTH_RATE_LIMITED')).toBeGreaterThan(0);
      // ...and is still limited: nothing recent was forgotten.
      expect(await codeOf(identity.signIn({ token: 'bad' }, 'victim', '192.0.2.1'))).toBe('AUTH_RATE_LIMITED');
    } finally {
      identity.store.close();
    }
  });

  it('keys with nothing recent make room; a settled success leaves no key behind', () => {
    let now = 0;
    const limiter = new AttemptLimiter(1000, 2, () => now);
    const reserve = (key: string) => limiter.reserve([{ key, max: 3 }]);
    const a = reserve('a');
    const b = reserve('b');
    expect('full' in reserve('c')).toBe(true); // a and b are running: no room
    if ('full' in a || 'full' in b) throw new Error('reserved');
    a.settle(false);
    b.settle(true);
    expect(limiter.size).toBe(1);
    now = 2000; // b's failure is out of the window
    expect('full' in reserve('c')).toBe(false);
    expect(limiter.failures('b')).toBe(0);
  });

  it('parallel attempts are counted while they run', () => {
    const limiter = new AttemptLimiter(60_000, 100);
    const held = Array.from({ length: 12 }, () => limiter.reserve([{ key: 'k', max: 10 }]));
    expect(held.filter((r) => 'full' in r).length).toBe(2);
  });
});

describe('addresses and names as counted', () => {
  it('an IPv6 address counts by its /64, IPv4 as itself', () => {
    expect(attemptAddress('2001:db8:1:2:aaaa::1')).toBe(attemptAddress('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(attemptAddress('2001:db8:1:2::1')).not.toBe(attemptAddress('2001:db8:1:3::1'));
    expect(attemptAddress('::ffff:192.0.2.7')).toBe('192.0.2.7');
  });

  it('look-alike names share a key (TR39 skeleton from the confusables table)', () => {
    expect(lookAlikeKey('\u0430lice')).toBe(lookAlikeKey('alice')); // Cyrillic а
    expect(lookAlikeKey('ALICE')).toBe(lookAlikeKey('alice'));
    expect(lookAlikeKey('m\u0430llory')).toBe(lookAlikeKey('mallory'));
    expect(lookAlikeKey('rnallory')).toBe(lookAlikeKey('mallory'));
    expect(lookAlikeKey('ｂｏｂ')).toBe(lookAlikeKey('bob'));
    expect(lookAlikeKey('bob')).not.toBe(lookAlikeKey('rob'));
  });
});
