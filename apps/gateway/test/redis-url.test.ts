import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { keySlot } from '../src/cluster/key-slot.js';
import { parseRedisUrl } from '../src/cluster/redis-url.js';

describe('--redis-url', () => {
  it('names one Redis as it always has: the URL unchanged', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379/2' });
    expect(parseRedisUrl('rediss://user:pw@redis.example:6380')).toEqual({ kind: 'single', url: 'rediss://user:pw@redis.example:6380' });
  });

  it('names a cluster by redis+cluster:// (one seed or several) or by a list of URLs', () => {
    const seeds = [
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 6379 },
    ];
    const plain = { kind: 'cluster', seeds, tls: false, username: undefined, password: undefined };
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,10.0.0.2')).toEqual(plain);
    expect(parseRedisUrl('redis://10.0.0.1:7000, redis://10.0.0.2/0')).toEqual(plain);
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000')).toEqual({ ...plain, seeds: [seeds[0]] });
    expect(parseRedisUrl('rediss+cluster://app:p%40ss@[::1]:7000')).toEqual({
      kind: 'cluster',
      seeds: [{ host: '::1', port: 7000 }],
      tls: true,
      username: 'app',
      password: 'p@ss',
    });
  });

  it.each([
    ['http://127.0.0.1:6379', /must start with redis:\/\//],
    ['redis://a:1,,redis://b:2', /empty entry/],
    ['redis://a:1,rediss://b:2', /all TLS/],
    ['redis+cluster://a:1/3', /only database 0/],
    ['redis+cluster://a:1?cluster=1', /host:port only/],
    ['redis://u:x@a:1,redis://u:y@b:2', /different credentials/],
    ['redis+cluster://', /names no host|not a URL/],
  ])('refuses %s with a message that says why', (value, message) => {
    expect(() => parseRedisUrl(value)).toThrow(message);
  });

  it('is validated by the configuration, a cluster as well as one Redis; --redis-wait-replicas is 0 or 1, 1 unless said', () => {
    expect(loadConfig(['--redis-url', 'redis://127.0.0.1:6379']).config.cluster.redisUrl).toBe('redis://127.0.0.1:6379');
    const { cluster } = loadConfig(['--redis-url', 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001']).config;
    expect(cluster).toMatchObject({ redisUrl: 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001', waitReplicas: 1 });
    expect(loadConfig(['--redis-wait-replicas', '0']).config.cluster.waitReplicas).toBe(0);
    expect(() => loadConfig(['--redis-wait-replicas', '2'])).toThrow(/--redis-wait-replicas must be 0 or 1/);
    expect(() => loadConfig(['--redis-url', 'redis://a:1,rediss://b:2'])).toThrow(/--redis-url: the seeds of one cluster are all TLS/);
    expect(() => loadConfig(['--redis-url', 'tcp://a:1'])).toThrow(/--redis-url must start with/);
  });
});

describe('keySlot', () => {
  // Redis Cluster's specification: CRC16("123456789") = 0x31C3; the rest are CLUSTER KEYSLOT's answers (test/integration/redis-cluster.test.ts asks a real cluster).
  it('is CRC16-XMODEM modulo 16384, of the hash tag when there is a non-empty one', () => {
    expect(keySlot('123456789')).toBe(0x31c3);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('sb:{room:lobby}:log')).toBe(keySlot('room:lobby'));
    expect(keySlot('sb:{room:lobby}:seq')).toBe(keySlot('sb:{room:lobby}:log'));
    expect(keySlot('{}{x}')).not.toBe(keySlot('x'));
  });
});
