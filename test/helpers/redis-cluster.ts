import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS_SERVER, redisServerArgs, waitForPort } from '../../bench/src/local-servers.js';
import { clusterNodeFlags, formCluster, infoFields as fields, onFreePorts, redisCli } from '../../bench/src/redis-cluster-servers.js';

/** One redis-server of the cluster. `role` is what it was at the last look (a replica becomes a master after a failover). */
export interface ClusterNodeProcess {
  port: number;
  /** `redis://127.0.0.1:port`, to reach this node alone. */
  url: string;
  dir: string;
  /** False once killed (or stopped). */
  readonly alive: boolean;
  /** Redis's own node id (40 hex characters). */
  readonly id: string;
}

export interface RedisClusterProcess {
  /** Every node, masters and replicas, in start order. */
  nodes: ClusterNodeProcess[];
  /** Every node's `redis://127.0.0.1:port`. */
  seeds: string[];
  /** The gateway's `--redis-url` form of this cluster: `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...` (every node a seed). */
  url: string;
  /** The hash slot of a key (CLUSTER KEYSLOT: the hash tag `{...}` counts, as on the server). */
  slotOf(key: string): Promise<number>;
  /** The live master that serves a slot (or a key's slot) now, as a live node sees it. */
  masterOf(slotOrKey: number | string): Promise<ClusterNodeProcess>;
  /** The live replicas of a master, as a live node sees them. */
  replicasOf(master: ClusterNodeProcess): Promise<ClusterNodeProcess[]>;
  /**
   * `kill -9` of the master that serves a slot (or a key's slot), then waits (bounded by
   * `timeoutMs`, default 15 s) until one of its replicas serves the slot and every live node says
   * `cluster_state:ok`. Resolves with the killed node and the promoted one.
   */
  killMaster(slotOrKey: number | string, timeoutMs?: number): Promise<{ killed: ClusterNodeProcess; promoted: ClusterNodeProcess }>;
  /** Waits (bounded) until the slot is served by a master other than `former` and the cluster is ok: the wait killMaster does. */
  waitForPromotion(slot: number, former: ClusterNodeProcess, timeoutMs?: number): Promise<ClusterNodeProcess>;
  /**
   * Starts a killed node again on its port and directory (its nodes.conf keeps its identity): it
   * rejoins as a replica of the master that took its place. Resolves (bounded) once it is linked
   * and every node says `cluster_state:ok`.
   */
  restartNode(node: ClusterNodeProcess, timeoutMs?: number): Promise<void>;
  /** SIGSTOP: the node stops answering (and replicating) until resume(); keep it shorter than the node timeout, or it is failed over. */
  pause(node: ClusterNodeProcess): void;
  /** SIGCONT after pause(). */
  resume(node: ClusterNodeProcess): void;
  /** Runs redis-cli against one node and resolves with its output (throws on a non-zero exit). */
  cli(node: ClusterNodeProcess, args: string[]): Promise<string>;
  /** The summed CPU time (user + system, seconds) of the live nodes so far, from /proc. */
  cpuSeconds(): number;
  /** Kills every node (SIGKILL: nothing to keep) and removes their directories. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Default 3 (the fewest Redis Cluster accepts). */
  masters?: number;
  /** Replicas per master; default 1. */
  replicas?: number;
  /** `cluster-node-timeout`: how long a node may be silent before it is failed over. Default 1000 ms. */
  nodeTimeoutMs?: number;
  /** How long the cluster may take to form, in all. Default 30 s. */
  readyTimeoutMs?: number;
}

/** The bench's redis-cli runner (one way to start and ask a cluster: bench/src/redis-cluster-servers.ts), with a test's shorter bound. */
const cli = (port: number, args: string[]): Promise<string> => redisCli(port, args, 5_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value (not undefined), at most `timeoutMs`; `what` names it in the error. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error; // a node still starting, or just killed: try again until the deadline
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`Redis Cluster: ${what} not within ${timeoutMs} ms${why}`);
    }
    await sleep(100);
  }
}

interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
  slots: [number, number][];
}

/** CLUSTER NODES: `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot> ...`. */
function parseNodes(text: string): NodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const parts = line.trim().split(' ');
      const port = Number(parts[1]!.split('@')[0]!.split(':').pop());
      const slots = parts.slice(8).flatMap((range): [number, number][] => {
        if (range.startsWith('[')) return []; // a slot being migrated
        const [from, to = from] = range.split('-').map(Number) as [number, number?];
        return [[from, to]];
      });
      return { id: parts[0]!, port, flags: parts[2]!.split(','), masterId: parts[3]!, slots };
    });
}

/**
 * A real Redis Cluster on loopback (issue 25): `masters` masters with `replicas` replicas each
 * (3 + 3 by default), each node a redis-server with its own temporary directory, joined by
 * `redis-cli --cluster create`. Resolves once every node says `cluster_state:ok`, the slots are
 * all assigned, and every replica's link to its master is up (so WAIT can be answered).
 * No persistence (no AOF, no RDB): the replicas are what keeps the data.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterProcess> {
  const masters = options.masters ?? 3;
  const replicas = options.replicas ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const total = masters * (1 + replicas);

  interface Node extends ClusterNodeProcess {
    child: ChildProcess;
    args: string[];
    log: string;
    alive: boolean;
    id: string;
  }
  const nodes: Node[] = [];
  const launch = (args: string[]): ChildProcess => spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const watch = (node: Node): void => {
    const { child } = node;
    node.alive = true;
    child.stdout!.on('data', (chunk) => (node.log += chunk));
    child.stderr!.on('data', (chunk) => (node.log += chunk));
    child.once('exit', () => (node.alive = false));
  };

  const killNode = async (node: Node): Promise<void> => {
    const { child } = node;
    node.alive = false;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map(killNode));
    for (const node of nodes) rmSync(node.dir, { recursive: true, force: true });
  };

  try {
    // One node at a time, each on ports free a moment ago: one that finds them taken since exits
    // before it listens, and onFreePorts starts it again on new ones.
    for (let i = 0; i < total; i++) {
      const node = await onFreePorts(async (port, busPort): Promise<Node> => {
        const dir = mkdtempSync(join(tmpdir(), 'switchboard-redis-cluster-'));
        const args = redisServerArgs(port, dir, [
          '--save',
          '',
          '--appendonly',
          'no',
          ...clusterNodeFlags(dir, busPort, nodeTimeoutMs),
          // A replica that lost its master a moment ago may still be promoted (the default refuses one "too old" after 10 × node timeout).
          '--cluster-replica-validity-factor',
          '0',
        ]);
        const node: Node = { port, url: `redis://127.0.0.1:${port}`, dir, args, child: launch(args), log: '', alive: true, id: '' };
        watch(node);
        try {
          await waitForPort(port, node.child, 10_000);
          node.id = (await cli(port, ['CLUSTER', 'MYID'])).trim();
          return node;
        } catch (error) {
          await killNode(node);
          rmSync(dir, { recursive: true, force: true });
          throw new Error(`Redis Cluster: node ${port}: ${(error as Error).message}\n${node.log}`, { cause: error });
        }
      });
      nodes.push(node);
    }
    // The first `masters` nodes become masters, each given `replicas` of the rest.
    await formCluster(
      nodes.map((n) => n.port),
      { replicas, timeoutMs: readyTimeoutMs },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const live = (): Node[] => nodes.filter((n) => n.alive);
  const byId = (id: string): Node | undefined => nodes.find((n) => n.id === id);
  const topology = async (): Promise<NodeLine[]> => {
    let lastError: unknown;
    for (const node of live()) {
      try {
        return parseNodes(await cli(node.port, ['CLUSTER', 'NODES']));
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error('Redis Cluster: no live node answers CLUSTER NODES', { cause: lastError });
  };
  const slotOf = async (key: string): Promise<number> => Number((await cli(live()[0]!.port, ['CLUSTER', 'KEYSLOT', key])).trim());
  const slotNumber = async (slotOrKey: number | string): Promise<number> => (typeof slotOrKey === 'number' ? slotOrKey : slotOf(slotOrKey));
  /** The master serving a slot per a live node's view, if that view names a live master for it. */
  const servingMaster = async (slot: number): Promise<Node | undefined> => {
    const line = (await topology()).find((n) => n.flags.includes('master') && !n.flags.includes('fail') && n.slots.some(([a, b]) => slot >= a && slot <= b));
    const node = line === undefined ? undefined : byId(line.id);
    return node?.alive === true ? node : undefined;
  };
  const clusterOk = async (): Promise<boolean> => {
    for (const node of live()) if (fields(await cli(node.port, ['CLUSTER', 'INFO'])).get('cluster_state') !== 'ok') return false;
    return true;
  };
  const waitForPromotion = (slot: number, former: ClusterNodeProcess, timeoutMs = 15_000): Promise<ClusterNodeProcess> =>
    until(`slot ${slot} served by a master other than ${former.port}`, timeoutMs, async () => {
      const master = await servingMaster(slot);
      if (master === undefined || master.id === former.id) return undefined;
      return (await clusterOk()) ? master : undefined;
    });

  return {
    nodes,
    seeds: nodes.map((n) => n.url),
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    slotOf,
    async masterOf(slotOrKey) {
      const slot = await slotNumber(slotOrKey);
      return until(`a live master for slot ${slot}`, 5_000, () => servingMaster(slot));
    },
    async replicasOf(master) {
      return (await topology())
        .filter((n) => n.masterId === master.id && !n.flags.includes('fail'))
        .flatMap((n) => byId(n.id) ?? [])
        .filter((n) => n.alive);
    },
    async killMaster(slotOrKey, timeoutMs = 15_000) {
      const slot = await slotNumber(slotOrKey);
      const master = await until(`a live master for slot ${slot}`, 5_000, () => servingMaster(slot));
      await killNode(master);
      const promoted = await waitForPromotion(slot, master, timeoutMs);
      return { killed: master, promoted };
    },
    waitForPromotion,
    async restartNode(node, timeoutMs = 15_000) {
      const own = node as Node;
      if (own.alive) throw new Error(`Redis Cluster: node ${own.port} is running`);
      own.child = launch(own.args);
      watch(own);
      await until(`node ${own.port} back as a linked replica`, timeoutMs, async () => {
        const replication = fields(await cli(own.port, ['INFO', 'replication']));
        if (replication.get('role') !== 'slave' || replication.get('master_link_status') !== 'up') return undefined;
        return (await clusterOk()) ? true : undefined;
      });
    },
    pause: (node) => (node as Node).child.kill('SIGSTOP'),
    resume: (node) => (node as Node).child.kill('SIGCONT'),
    cli: (node, args) => cli(node.port, args),
    cpuSeconds() {
      let total = 0;
      for (const node of live()) {
        try {
          total += readStat(node.child.pid);
        } catch {
          // exited meanwhile
        }
      }
      return total;
    },
    stop,
  };
}

/** A process's CPU time so far (user + system, seconds), from /proc/<pid>/stat. */
function readStat(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
