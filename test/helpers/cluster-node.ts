import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnGateway, type GatewayProcess } from './gateway-process.js';
import type { Peer } from './peer.js';
import { startRedis } from './redis.js';

/** One gateway of a cluster, in a process of its own. */
export interface ClusterNodeProcess extends GatewayProcess {
  readonly nodeId: string;
  /** Its own data directory (history, identity, stored settings): nodes share only Redis. */
  readonly dataDir: string;
  readonly wsUrl: string;
  /** Kills it (SIGKILL, as tests end) and removes its data directory. */
  dispose(): Promise<void>;
}

export interface ClusterNodeOptions {
  /** --node-heartbeat-ms: how soon the others notice it is gone. Default 1000. */
  heartbeatMs?: number;
  /** More flags, after the cluster's own (--hello-timeout-ms 150, --max-file-bytes …). */
  args?: string[];
}

/**
 * A gateway on a shared Redis (`--redis-url`) under a node id, with a heartbeat and a data
 * directory of its own: the several-gateways tests start each node this way.
 */
export async function spawnClusterNode(redisUrl: string, nodeId: string, options: ClusterNodeOptions = {}): Promise<ClusterNodeProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), `switchboard-node-${nodeId}-`));
  let gateway: GatewayProcess;
  try {
    gateway = await spawnGateway([
      '--redis-url',
      redisUrl,
      '--node-id',
      nodeId,
      '--node-heartbeat-ms',
      String(options.heartbeatMs ?? 1000),
      '--data-dir',
      dataDir,
      ...(options.args ?? []),
    ]);
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return Object.assign(gateway, {
    nodeId,
    dataDir,
    wsUrl: gateway.httpUrl.replace('http', 'ws') + '/ws',
    async dispose() {
      await gateway.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/** Gateways on one fresh Redis, each started by `node(id)`; `close()` ends the peers pushed to `peers`, the gateways and the Redis. */
export interface RedisCluster {
  node(id: string): Promise<ClusterNodeProcess>;
  readonly peers: Peer[];
  close(): Promise<void>;
}

export async function startRedisCluster(): Promise<RedisCluster> {
  const redis = await startRedis({ appendfsync: 'everysec' });
  const gateways: ClusterNodeProcess[] = [];
  const peers: Peer[] = [];
  return {
    async node(id) {
      const gateway = await spawnClusterNode(redis.url, id);
      gateways.push(gateway);
      return gateway;
    },
    peers,
    async close() {
      peers.forEach((p) => p.destroy());
      await Promise.all(gateways.map((g) => g.dispose()));
      await redis.close();
    },
  };
}
