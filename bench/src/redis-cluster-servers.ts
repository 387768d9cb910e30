import { execFile, type ChildProcess } from 'node:child_process';
import { freePort, launchRedis } from './local-servers.js';
import { sleep } from './clock.js';

/** Debian's redis-cli (package redis-tools, which redis-server depends on). */
const REDIS_CLI = '/usr/bin/redis-cli';

/** One master of the bench's Redis Cluster. */
export interface ClusterMaster {
  port: number;
  child: ChildProcess;
  dir: string;
}

function cli(port: number, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`, { cause: error }));
      else resolve(stdout);
    });
  });
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
      const port = await freePort();
      const dir = dirOf(port);
      // The cluster bus's port chosen free too, not the default port + 10,000 another process may hold.
      const busPort = await freePort();
      const clusterFlags = [
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(busPort),
        '--cluster-config-file',
        `${dir}/nodes.conf`,
        '--cluster-node-timeout',
        '15000',
      ];
      const child = await launchRedis((argv) => spawnServer(i, argv), { port, dir, flags: [...flags, ...clusterFlags], timeoutMs });
      nodes.push({ port, child, dir });
    }
    await new Promise<void>((resolve, reject) => {
      execFile(
        REDIS_CLI,
        ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: timeoutMs },
        (error, stdout, stderr) =>
          error ? reject(new Error(`redis-cli --cluster create: ${error.message}\n${stdout}\n${stderr}`, { cause: error })) : resolve(),
      );
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(nodes.map((n) => cli(n.port, ['CLUSTER', 'INFO']).catch(() => '')));
      if (states.every((s) => /cluster_state:ok/.test(s) && /cluster_slots_ok:16384/.test(s) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(s))) break;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster was not ok within ${timeoutMs} ms`);
      await sleep(100);
    }
  } catch (error) {
    for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    throw error;
  }
  return nodes;
}

/** The master that owns the key's hash slot (for naming the shard that holds the shared counter). */
export async function clusterMasterOfKey(ports: number[], key: string): Promise<number | undefined> {
  const slot = Number((await cli(ports[0]!, ['CLUSTER', 'KEYSLOT', key])).trim());
  for (const port of ports) {
    const mine = (await cli(port, ['CLUSTER', 'NODES']))
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
