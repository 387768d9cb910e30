import { afterAll, afterEach, beforeAll } from 'vitest';
import { spawnClusterNode, type ClusterNodeProcess } from './cluster-node.js';
import { Peer } from './peer.js';
import { startRedisCluster, type RedisClusterProcess } from './redis-cluster.js';

/** What a test file on a real Redis Cluster uses: the cluster, and gateways and peers that are closed after each test. */
export interface RedisClusterSuite {
  /** The file's cluster (three masters, three replicas), started before its first test and stopped after its last. */
  readonly cluster: RedisClusterProcess;
  /** A gateway on the cluster (heartbeat 2 s) with the suite's flags and `args`. */
  gateway(id: string, args?: string[]): Promise<ClusterNodeProcess>;
  /** A TCP connection to a gateway's chat port. */
  tcpPeer(port: number): Promise<Peer>;
}

/** One cluster for the whole file (starting one takes seconds); every test's gateways and peers closed after it. */
export function useRedisCluster(gatewayArgs: string[] = []): RedisClusterSuite {
  let cluster: RedisClusterProcess | undefined;
  const gateways: ClusterNodeProcess[] = [];
  const peers: Peer[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    for (const peer of peers.splice(0)) peer.destroy();
    await Promise.all(gateways.splice(0).map((g) => g.dispose()));
  });
  const started = (): RedisClusterProcess => {
    if (!cluster) throw new Error('the Redis Cluster is not started: use it inside a test or a hook');
    return cluster;
  };
  return {
    get cluster() {
      return started();
    },
    async gateway(id, args = []) {
      const gateway = await spawnClusterNode(started().url, id, { heartbeatMs: 2000, args: [...gatewayArgs, ...args] });
      gateways.push(gateway);
      return gateway;
    },
    async tcpPeer(port) {
      const peer = await Peer.tcp(port);
      peers.push(peer);
      return peer;
    },
  };
}
