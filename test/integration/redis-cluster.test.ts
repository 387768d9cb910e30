import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../../apps/gateway/src/cluster/key-slot.js';
import { openRedis, RedisPortError, type RedisPort } from '../../apps/gateway/src/cluster/redis-connection.js';
import { SCRIPTS } from '../../apps/gateway/src/cluster/redis-scripts.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { startRedisCluster, type RedisClusterProcess } from '../helpers/redis-cluster.js';

/**
 * The Redis port (apps/gateway/src/cluster/redis-connection.ts) over a real Redis Cluster of
 * three masters and three replicas on loopback, and over one real redis-server: the same calls
 * work on both; on the cluster pub/sub is sharded, and after a master's `kill -9` its replica
 * takes over and chat and writes resume by themselves, with a write WAIT confirmed still there.
 * Every wait is bounded.
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const unique = (): string => randomBytes(4).toString('hex');

/** One script call over two keys: a counter and a stream, as a room's history will be kept. */
const APPEND_SOURCE = `local id = redis.call('INCR', KEYS[1]); redis.call('XADD', KEYS[2], '*', 'i', id, 'e', ARGV[1]); return id`;
const APPEND = { SCRIPT: APPEND_SOURCE, SHA1: createHash('sha1').update(APPEND_SOURCE).digest('hex') };

const ports: RedisPort[] = [];
/** A port, and what it reported as coming back (onReconnect). */
async function open(url: string, reconnects: string[] = []): Promise<RedisPort> {
  const port = await openRedis({ url, connectTimeoutMs: 2_000, onError: () => undefined, onReconnect: (what) => reconnects.push(what) });
  ports.push(port);
  return port;
}

/** Collects a channel's messages; `next()` waits (bounded) for the first one it has not returned yet. */
function inbox(): { listener: (message: Buffer, channel: string) => void; received: string[]; next(timeoutMs?: number): Promise<string> } {
  const received: string[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  return {
    received,
    listener: (message, channel) => {
      received.push(`${channel}:${message.toString()}`);
      wake?.();
    },
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length <= taken) {
        if (Date.now() > deadline) throw new Error(`no message within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
      return received[taken++]!;
    },
  };
}

/** What the port promises on one Redis and on a cluster alike. */
function portContract(url: () => string): void {
  it('delivers a message to a subscriber on another connection, and only on the channel it hears', async () => {
    const [publisher, subscriber] = [await open(url()), await open(url())];
    const room = `sb:{room:${unique()}}:bus`;
    const other = `sb:{room:${unique()}}:bus`;
    const heard = inbox();
    await subscriber.subscribe(room, heard.listener);
    expect(subscriber.channels()).toEqual([room]);
    expect(await publisher.publish(other, 'not for you')).toBe(0);
    expect(await publisher.publish(room, 'hello')).toBe(1);
    expect(await heard.next()).toBe(`${room}:hello`);
    // A marker after the stray message: had the other channel reached the subscriber, it would be here first.
    await publisher.publish(room, Buffer.from('second'));
    expect(await heard.next()).toBe(`${room}:second`);
    expect(heard.received).toEqual([`${room}:hello`, `${room}:second`]);

    await subscriber.unsubscribe(room);
    expect(subscriber.channels()).toEqual([]);
    expect(await publisher.publish(room, 'after')).toBe(0);
  });

  it('runs a script over hash-tagged keys and reads the stream it wrote, by range and by a blocking read', async () => {
    const port = await open(url());
    const tag = `{room:${unique()}}`;
    const [counter, stream] = [`sb:${tag}:seq`, `sb:${tag}:log`];
    expect(await port.run(APPEND, [counter, stream], ['first'])).toBe(1);
    expect(await port.run(APPEND, [counter, stream], ['second'])).toBe(2);
    const entries = await port.xrange(stream, '-', '+');
    expect(entries.map((e) => e.fields)).toEqual([
      { i: '1', e: 'first' },
      { i: '2', e: 'second' },
    ]);
    expect(await port.xread(stream, entries[0]!.id)).toEqual([entries[1]]);
    // A blocking read is woken by an XADD from another connection (and blocks no command meanwhile).
    const writer = await open(url());
    const blocked = port.xread(stream, entries[1]!.id, { blockMs: 5_000 });
    await sleep(100);
    expect(await port.command(['GET', counter], counter)).toBe('2');
    const id = await writer.xadd(stream, { i: '3', e: 'third' }, 1000);
    expect(await blocked).toEqual([{ id, fields: { i: '3', e: 'third' } }]);
    // The gateway's own scripts (node-redis defineScript) run through the port as they are.
    expect(await port.run(SCRIPTS.raiseCounter, [counter], ['7'])).toBe(1);
    expect(await port.command(['GET', counter], counter)).toBe('7');
  });
}

describe('on a Redis Cluster (3 masters, 3 replicas)', () => {
  let cluster: RedisClusterProcess;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 45_000);
  afterAll(async () => {
    await Promise.all(ports.splice(0).map((p) => p.close()));
    await cluster.stop();
  });

  it('comes up with every slot covered on every node, three masters each with a replica', async () => {
    for (const node of cluster.nodes) {
      const info = await cluster.cli(node, ['CLUSTER', 'INFO']);
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_slots_ok:16384');
    }
    const masters = new Set(await Promise.all([0, 8000, 16383].map((slot) => cluster.masterOf(slot))));
    expect(masters.size).toBe(3);
    for (const master of masters) expect(await cluster.replicasOf(master)).toHaveLength(1);
    const port = await open(cluster.url);
    expect(port.mode).toBe('cluster');
  });

  it("computes a key's slot as Redis does, hash tags included", async () => {
    for (const key of ['foo', 'sb:{room:lobby}:log', 'sb:{room:lobby}:seq', 'a{}b', '{}{x}', 'x{y', 'héllo', '{user1000}.following']) {
      expect(keySlot(key), key).toBe(await cluster.slotOf(key));
    }
  });

  portContract(() => cluster.url);

  it('publishes sharded: the channel lives on the master that owns its slot, on no other node', async () => {
    const reconnects: string[] = [];
    const subscriber = await open(cluster.url, reconnects);
    const channel = `sb:{room:${unique()}}:bus`;
    await subscriber.subscribe(channel, () => undefined);
    await subscriber.publish(channel, 'x');
    // A new connection to a known master (the subscription's) is not Redis coming back.
    expect(reconnects).toEqual([]);
    const owner = await cluster.masterOf(channel);
    for (const node of cluster.nodes) {
      const channels = await cluster.cli(node, ['PUBSUB', 'SHARDCHANNELS']);
      if (node === owner) expect(channels).toContain(channel);
      else expect(channels).not.toContain(channel);
      expect(await cluster.cli(node, ['PUBSUB', 'CHANNELS'])).not.toContain(channel);
    }
  });

  it('refuses a script or keys spread over several slots, with a clear error', async () => {
    const port = await open(cluster.url);
    await expect(port.run(APPEND, [`sb:{a}:seq`, `sb:{b}:log`], ['x'])).rejects.toThrow(RedisPortError);
  });

  it('confirms a write with WAIT once a replica has it, and says when none did in time', async () => {
    const port = await open(cluster.url);
    const key = `sb:{room:${unique()}}:seq`;
    await port.command(['SET', key, '1'], key);
    expect(await port.waitForReplica(key, 2_000)).toBe('replicated');
    const [replica] = await cluster.replicasOf(await cluster.masterOf(key));
    // A replica that cannot take the write (stopped, well under the node timeout): WAIT gives up.
    cluster.pause(replica!);
    try {
      await port.command(['SET', key, '2'], key);
      expect(await port.waitForReplica(key, 300)).toBe('timed-out');
    } finally {
      cluster.resume(replica!);
    }
    expect(await port.waitForReplica(key, 2_000)).toBe('replicated');
  });

  // Last: it leaves a master dead.
  it('after kill -9 of a master, its replica takes over: pub/sub and writes resume within 10 s, and a WAIT-confirmed write is still there', async () => {
    const reconnects: string[] = [];
    const [publisher, subscriber] = [await open(cluster.url, reconnects), await open(cluster.url)];
    const tag = `{room:${unique()}}`;
    const [channel, counter, stream] = [`sb:${tag}:bus`, `sb:${tag}:seq`, `sb:${tag}:log`];
    const heard = inbox();
    await subscriber.subscribe(channel, heard.listener);
    expect(await publisher.publish(channel, 'before')).toBe(1);
    expect(await heard.next()).toBe(`${channel}:before`);
    expect(await publisher.run(APPEND, [counter, stream], ['acknowledged'])).toBe(1);
    expect(await publisher.waitForReplica(stream, 2_000)).toBe('replicated');

    // The subscriber's blocking-read connection is open to the stream's master when it dies.
    expect((await subscriber.xread(stream, '0-0', { blockMs: 1_000 })).map((e) => e.fields.e)).toEqual(['acknowledged']);

    const killedAt = Date.now();
    const { killed, promoted } = await cluster.killMaster(channel);
    expect(promoted.port).not.toBe(killed.port);

    // Chat resumes by itself: publish until the old subscriber hears it (it was resubscribed on the promoted master).
    let resumedAt: number | undefined;
    for (let attempt = 0; resumedAt === undefined && Date.now() - killedAt < 10_000; attempt++) {
      try {
        if ((await publisher.publish(channel, `after ${attempt}`)) === 1) {
          await heard.next(500);
          resumedAt = Date.now();
        }
      } catch {
        // the shard's topology not refreshed yet: try again
      }
      if (resumedAt === undefined) await sleep(200);
    }
    expect(resumedAt, 'pub/sub did not resume within 10 s of the kill').toBeDefined();

    // Writes resume, on the stream's new master, after the acknowledged entry.
    let written: unknown;
    while (written === undefined && Date.now() - killedAt < 10_000) {
      written = await publisher.run(APPEND, [counter, stream], ['after the failover']).catch(() => undefined);
      if (written === undefined) await sleep(200);
    }
    expect(written, 'writes did not resume within 10 s of the kill').toBe(2);
    expect((await publisher.xrange(stream, '-', '+')).map((e) => e.fields.e)).toEqual(['acknowledged', 'after the failover']);
    expect(await cluster.masterOf(stream)).toBe(promoted);
    expect(reconnects).toContain(`node 127.0.0.1:${promoted.port}`);

    // Blocking reads resume too, on their own connection.
    let read: string[] = [];
    while (read.length < 2 && Date.now() - killedAt < 10_000) {
      read = await subscriber.xread(stream, '0-0', { blockMs: 500 }).then(
        (entries) => entries.map((e) => e.fields.e!),
        () => [],
      );
      if (read.length < 2) await sleep(200);
    }
    expect(read, 'blocking reads did not resume within 10 s of the kill').toEqual(['acknowledged', 'after the failover']);

    // The killed master comes back as a replica of the one that took its place.
    await cluster.restartNode(killed);
    expect(await cluster.replicasOf(promoted)).toEqual([killed]);
  }, 40_000);
});

describe('on one redis-server', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(ports.splice(0).map((p) => p.close()));
    await redis.close();
  });

  it('is a single Redis, classic pub/sub, and WAIT has nothing to wait for', async () => {
    const port = await open(redis.url);
    expect(port.mode).toBe('single');
    expect(await port.waitForReplica('anything', 1_000)).toBe('no-replicas');
  });

  portContract(() => redis.url);

  it('after Redis restarts, pub/sub and commands resume by themselves within 10 s', async () => {
    const reconnects: string[] = [];
    const [publisher, subscriber] = [await open(redis.url, reconnects), await open(redis.url)];
    const channel = `sb:{room:${unique()}}:bus`;
    const heard = inbox();
    await subscriber.subscribe(channel, heard.listener);
    expect(reconnects).toEqual([]);
    await redis.stop();
    // Refused at once while Redis is away, not queued.
    await expect(publisher.publish(channel, 'while away')).rejects.toThrow();
    const restartedAt = Date.now();
    await redis.restart();
    let delivered = false;
    while (!delivered && Date.now() - restartedAt < 10_000) {
      delivered = (await publisher.publish(channel, 'back').catch(() => 0)) === 1;
      if (!delivered) await sleep(200);
    }
    expect(delivered, 'pub/sub did not resume within 10 s').toBe(true);
    expect(await heard.next()).toBe(`${channel}:back`);
    expect(reconnects).toContain('redis');
  });

  it('lets keys of several slots meet in one script (one Redis has no slots)', async () => {
    const port = await open(redis.url);
    expect(await port.run(APPEND, [`sb:{a}:seq`, `sb:{b}:log`], ['x'])).toBe(1);
  });
});

describe('when nothing answers', () => {
  it.each([
    ['one Redis', (port: number) => `redis://127.0.0.1:${port}`],
    ['a cluster', (port: number) => `redis+cluster://127.0.0.1:${port}`],
  ])('opening %s is refused within its bound, not retried for ever', async (_, url) => {
    const opening = openRedis({ url: url(await freePort()), connectTimeoutMs: 200, openTimeoutMs: 1_000, onError: () => undefined });
    const outcome = await Promise.race([
      opening.then(
        () => 'opened',
        () => 'refused',
      ),
      sleep(5_000).then(() => 'still waiting'),
    ]);
    expect(outcome).toBe('refused');
  });
});
