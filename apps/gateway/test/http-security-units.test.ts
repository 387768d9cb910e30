import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { addressMatches, inBlock, parseAddressRule } from '../src/address-match.js';
import { loadConfig, printableConfig } from '../src/config.js';
import { targetAllowed, parseTargets } from '../src/devices/device-settings.js';
import { IdentityStore } from '../src/identity/identity-store.js';
import { HostPolicy, hostNameOf } from '../src/request-guard.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('addresses, parsed and matched by node:net', () => {
  it('refuses what does not parse and matches IPv4, IPv6 and IPv4-mapped addresses', () => {
    for (const bad of ['127.0.0.040', 'not-an-ip', '10.0.0.0/8/8', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/ 8', 'fe80::1%eth0', '']) {
      expect(parseAddressRule(bad), bad).toBeUndefined();
    }
    const all6 = parseAddressRule('::/0')!;
    expect(addressMatches('::1', all6)).toBe(true);
    expect(addressMatches('2001:db8::1', parseAddressRule('2001:db8::/32')!)).toBe(true);
    expect(addressMatches('2001:db9::1', parseAddressRule('2001:db8::/32')!)).toBe(false);
    expect(addressMatches('::ffff:10.1.2.3', parseAddressRule('10.0.0.0/8')!)).toBe(true);
    expect(addressMatches('10.1.2.3', parseAddressRule('::ffff:10.0.0.0/104')!)).toBe(true);
    expect(addressMatches('::1', parseAddressRule('0:0:0:0:0:0:0:1', { prefix: 'none' })!)).toBe(true);
    expect(parseAddressRule('10.0.0.0/8', { prefix: 'none' })).toBeUndefined();
    expect(parseAddressRule('10.0.0.1', { prefix: 'required' })).toBeUndefined();
  });

  it('--device-targets still work for both families, and for host names by name', () => {
    const rules = parseTargets('127.0.0.0/8,::1,[fd00::]/8:502,localhost:9000');
    expect(targetAllowed(rules, '127.4.5.6', 1)).toBe(true);
    expect(targetAllowed(rules, '::1', 1)).toBe(true);
    expect(targetAllowed(rules, 'fd12::7', 502)).toBe(true);
    expect(targetAllowed(rules, 'fd12::7', 503)).toBe(false);
    expect(targetAllowed(rules, '10.0.0.1', 1)).toBe(false);
    expect(targetAllowed(rules, 'localhost', 9000)).toBe(true);
    expect(inBlock('::ffff:127.0.0.9', '127.0.0.0', 8)).toBe(true);
  });
});

describe('ban ids', () => {
  it('are never handed out again, in a database made before AUTOINCREMENT too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-ban-ids-'));
    dirs.push(dir);
    // The table as older gateways made it, with the highest ban already lifted.
    const old = new Database(join(dir, 'identity.sqlite'));
    old.exec(`CREATE TABLE bans (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER);
      INSERT INTO bans VALUES (1, 'ip', '192.0.2.1', 'kept', 0, NULL), (2, 'ip', '192.0.2.2', 'kept', 0, NULL);`);
    old.close();
    let store = new IdentityStore(dir);
    expect(store.bans().map((b) => b.id)).toEqual([1, 2]);
    const third = store.addBan('ip', '192.0.2.3', 'new', null);
    expect(third.id).toBe(3);
    expect(store.removeBan(3)).toBe(true);
    store.close();
    store = new IdentityStore(dir);
    expect(store.addBan('ip', '192.0.2.4', 'after a restart', null).id).toBe(4);
    store.close();
  });
});

describe('host names and origins', () => {
  it('reads a Host header the way browsers write it', () => {
    expect(hostNameOf('Example.COM:8080')).toBe('example.com');
    expect(hostNameOf('[::1]:8080')).toBe('::1');
    expect(hostNameOf('localhost.')).toBe('localhost');
    expect(hostNameOf('::1')).toBe('::1');
  });

  it("serves loopback names and the listen address; on 0.0.0.0 also this machine's hostname; never a stranger", () => {
    const policy = new HostPolicy({ http: { host: '10.9.8.7', port: 80 }, security: { allowedHosts: ['chat.example'], allowedOrigins: [] } as never });
    for (const host of ['localhost', '127.0.0.1:80', '[::1]', '10.9.8.7:8080', 'chat.example', undefined])
      expect(policy.hostAllowed(host), String(host)).toBe(true);
    for (const host of ['evil.example', '10.9.8.6', 'chat.example.evil.example', '']) expect(policy.hostAllowed(host), host).toBe(false);
    const everywhere = new HostPolicy({ http: { host: '0.0.0.0', port: 80 }, security: { allowedHosts: [], allowedOrigins: [] } as never });
    expect(everywhere.hostAllowed(hostname())).toBe(true);
    expect(everywhere.hostAllowed('evil.example')).toBe(false);
  });
});

describe('the new options', () => {
  it('come from flags, env and the config file; --public-read follows --require-login unless set', () => {
    const env = { SWITCHBOARD_ALLOWED_HOSTS: 'a.example, b.example', SWITCHBOARD_MAX_HTTP_CONNECTIONS_PER_IP: '7' };
    const { config } = loadConfig(['--require-login', '--http-idle-timeout-ms', '1234'], env);
    expect(config.security.allowedHosts).toEqual(['a.example', 'b.example']);
    expect(config.limits.maxHttpConnectionsPerIp).toBe(7);
    expect(config.timing.httpIdleTimeoutMs).toBe(1234);
    expect(printableConfig(config)['public-read']).toBe(false);
    expect(printableConfig(loadConfig([], {}).config)['public-read']).toBe(true);
    expect(loadConfig(['--require-login', '--public-read'], {}).config.security.publicRead).toBe(true);
    expect(() => loadConfig(['--max-http-connections', '0'], {})).toThrow(/at least 1/);
  });
});
