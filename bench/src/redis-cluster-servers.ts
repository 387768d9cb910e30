import { execFile, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort, launchRedis } from './local-servers.js';
import { sleep } from './clock.js';

/** Debian's redis-cli (package redis-tools, which redis-server depends on). */
const REDIS_CLI = '/usr/bin/redis-cli';

/** Runs redis-cli against one loopback node and resolves with its output (rejects on a non-zero exit). */
export function redisCli(port: number, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`, { cause: error }));
      else resolve(stdout);
    });
  });
}

/** `field:value` lines of CLUSTER INFO or INFO as a map. */
export function infoFields(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) map.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return map;
}

/** What makes a redis-server with its files in `dir` a cluster node, its bus on `busPort`. */
export function clusterNodeFlags(dir: string, busPort: number, nodeTimeoutMs: number): string[] {
  return [
    '--cluster-enabled',
    'yes',
    '--cluster-port',
    String(busPort),
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
  ];
}

/**
 * Runs `start` (which starts a cluster node and resolves once it answers) on two loopback ports
 * free a moment ago: the node's own and its bus's (chosen free too, not the default port + 10,000
 * another process may hold). A port can still be taken between the choice and the bind (a
 * fresh-clone CI met "Address already in use" on a bus port): when `start` rejects, it runs again
 * on new ports, `attempts` times in all.
 */
export async function onFreePorts<T>(start: (port: number, busPort: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort(), await freePort());
    } catch (error) {
      if (attempt >= attempts) throw error;
    }
  }
}

/**
 * Joins the nodes into one cluster (`redis-cli --cluster create`: the first masters, each given
 * `replicas` of the rest) and resolves once every node says `cluster_state:ok` with every slot
 * assigned and every node known, and every replica's link to its master is up (so WAIT can be answered).
 */
export async function formCluster(ports: number[], { replicas, timeoutMs }: { replicas: number; timeoutMs: number }): Promise<void> {
  const addresses = ports.map((port) => `127.0.0.1:${port}`);
  await new Promise<void>((resolve, reject) => {
    execFile(
      REDIS_CLI,
      ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'],
      { timeout: timeoutMs },
      (error, stdout, stderr) =>
        error ? reject(new Error(`redis-cli --cluster create: ${error.message}\n${stdout}\n${stderr}`, { cause: error })) : resolve(),
    );
  });
  const deadline = Date.now() + timeoutMs;
  while (!(await formed(ports, replicas))) {
    if (Date.now() > deadline) throw new Error(`the Redis Cluster was not ok, with every slot assigned and every replica linked, within ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function formed(ports: number[], replicas: number): Promise<boolean> {
  for (const port of ports) {
    const info = infoFields(await redisCli(port, ['CLUSTER', 'INFO']).catch(() => ''));
    if (info.get('cluster_state') !== 'ok' || info.get('cluster_slots_ok') !== '16384' || info.get('cluster_known_nodes') !== String(ports.length))
      return false;
    if (replicas === 0) continue;
    const replication = infoFields(await redisCli(port, ['INFO', 'replication']).catch(() => ''));
    if (replication.get('role') === 'slave' && replication.get('master_link_status') !== 'up') return false;
    if (replication.get('role') === 'master' && Number(replication.get('connected_slaves')) < replicas) return false;
  }
  return true;
}

/** One master of the bench's Redis Cluster. */
export interface ClusterMaster {
  port: number;
  child: ChildProcess;
  dir: string;
}

/**
 * Scenario 8's Redis Cluster: `masters` redis-servers (no replicas: the bench measures the work
 * per message, not failover; the gateways run with `--redis-wait-replicas 0`), each with the
 * caller's persistence `flags`, joined by `redis-cli --cluster create`. Resolves once every node
 * says `cluster_state:ok` with every slot assigned; on failure the nodes started are killed.
 */
export async function launchRedisCluster(
  spawnServer: (index: number, argv: string[]) => ChildProcess,
  { masters, dirOf, flags, timeoutMs }: { masters: number; dirOf: (port: number) => string; flags: string[]; timeoutMs: number },
): Promise<ClusterMaster[]> {
  const nodes: ClusterMaster[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const node = await onFreePorts(async (port, busPort) => {
        const dir = dirOf(port);
        const child = await launchRedis((argv) => spawnServer(i, argv), { port, dir, flags: [...flags, ...clusterNodeFlags(dir, busPort, 15_000)], timeoutMs });
        return { port, child, dir };
      });
      nodes.push(node);
    }
    await formCluster(
      nodes.map((n) => n.port),
      { replicas: 0, timeoutMs },
    );
  } catch (error) {
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    throw error;
  }
  return nodes;
}

/** The master that owns the key's hash slot (for naming the shard that holds the shared counter). */
export async function clusterMasterOfKey(ports: number[], key: string): Promise<number | undefined> {
  const slot = Number((await redisCli(ports[0]!, ['CLUSTER', 'KEYSLOT', key])).trim());
  for (const port of ports) {
    const mine = (await redisCli(port, ['CLUSTER', 'NODES']))
      .split('\n')
      .find((line) => line.includes('myself'))
      ?.trim()
      .split(' ')
      .slice(8);
    for (const range of mine ?? []) {
      const [from, to = from] = range.split('-').map(Number) as [number, number?];
      if (slot >= from && slot <= to) return port;
    }
  }
  return undefined;
}
