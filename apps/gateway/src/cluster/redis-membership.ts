/**
 * Which gateway nodes are in the Redis cluster, and this node's place among them: its heartbeat,
 * the sweep that finds nodes gone silent, and the resync that republishes this node's state
 * (and reads everyone else's) when it joins, when Redis comes back, or when it was given up.
 */
import type { HubLogger } from '../logger.js';
import type { MemberRecord } from './cluster.js';
import type { DirectoryReplica, RoomChanges } from './directory-replica.js';
import type { Header } from './bus-messages.js';
import type { ScriptName } from './redis-scripts.js';

/** What the membership needs of the RedisCluster that owns it. */
export interface MembershipPort {
  nodeId: string;
  /** Key prefix: another node's member hash is `${prefix}members:${node}`. */
  prefix: string;
  heartbeatMs: number;
  /** Claims and member hashes live this long without a heartbeat. */
  ttlMs: number;
  keys: { counter: string; nodes: string; names: string; members: string };
  replica: DirectoryReplica;
  /** This node's name claims (key → owner value), owned by the cluster: claimed again on resync. */
  claims: ReadonlyMap<string, string>;
  /** The highest message id this node has stored or seen: the cluster's counter must not be below it. */
  highestId(): number;
  ready(): boolean;
  command(args: (string | Buffer)[]): Promise<unknown>;
  run(script: ScriptName, keys: string[], args: string[]): Promise<unknown>;
  /** Publishes on the bus every node hears. */
  publish(header: Header): void;
  resyncIdentity(): Promise<void>;
  /** What another node's members did in rooms while this node did not hear of it (read at a resync): the hub says so. */
  replaced(changes: RoomChanges): void;
  /** A node was given up: its members are gone (the hub says they left). */
  nodeLost(node: string, records: MemberRecord[]): void;
  log: HubLogger;
  logError(what: string, error: Error): void;
}

export class RedisMembership {
  readonly #port: MembershipPort;
  /** Nodes in the node set at the last sweep (or sync), this one included. */
  #live = new Set<string>();
  /** No sweeping until then: after Redis comes back every node needs a heartbeat's time to say it is alive. */
  #sweepAfter = 0;
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(port: MembershipPort) {
    this.#port = port;
  }

  /** Heartbeat and sweep from now on (after the first resync). */
  start(): void {
    const { heartbeatMs } = this.#port;
    this.#every(heartbeatMs, () => this.#heartbeat());
    this.#every(Math.max(50, Math.floor(heartbeatMs / 4)), () => this.#sweep());
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
  }

  /** The other live nodes. */
  peers(): string[] {
    return [...this.#live].filter((node) => node !== this.#port.nodeId);
  }

  /** A node was heard on the bus: it is live. */
  heard(node: string): void {
    this.#live.add(node);
  }

  /**
   * Says this node is alive, publishes its whole state again (names, records) and reads every
   * other node's: at start, after Redis comes back, and when the others had given it up.
   */
  async resync(why: string): Promise<void> {
    const port = this.#port;
    const { keys, nodeId } = port;
    if (!port.ready()) return;
    this.#sweepAfter = Date.now() + port.heartbeatMs * 2;
    try {
      await port.run('raiseCounter', [keys.counter], [String(port.highestId())]);
      await port.run('heartbeat', [keys.nodes, keys.names, keys.members], [nodeId, String(port.ttlMs)]);
      for (const [key, value] of port.claims) {
        const claimed = await port.run('claim', [key, keys.names], [value, String(port.ttlMs)]);
        if (Number(claimed) !== 1) port.log.warn({ node: nodeId, name: key }, 'a name this node held was claimed by another node while Redis was away');
      }
      const own = port.replica.ofNode(nodeId);
      // Written first, then what is stale taken out: a node reading the hash meanwhile (its own
      // resync) never finds it empty, which would tell its members that ours all left.
      const ids = new Set(own.map((record) => record.id));
      if (own.length > 0) await port.command(['HSET', keys.members, ...own.flatMap((record) => [record.id, JSON.stringify(record)])]);
      const stale = ((await port.command(['HKEYS', keys.members])) as string[]).filter((id) => !ids.has(id));
      if (stale.length > 0) await port.command(['HDEL', keys.members, ...stale]);
      port.publish({ k: 'sync', from: nodeId, records: own });
      const live = new Set((await port.command(['ZRANGE', keys.nodes, '0', '-1'])) as string[]);
      this.#live = live;
      for (const node of live) {
        if (node === nodeId) continue;
        const values = (await port.command(['HVALS', `${port.prefix}members:${node}`])) as string[];
        port.replaced(
          port.replica.replaceNode(
            node,
            values.map((value) => JSON.parse(value) as MemberRecord),
          ),
        );
      }
      await port.resyncIdentity();
      // Nodes that went away while we could not hear it.
      for (const node of port.replica.nodes()) if (node !== nodeId && !live.has(node)) this.lost(node);
      port.log.info({ node: nodeId, nodes: live.size, why }, 'cluster state synchronised');
    } catch (error) {
      port.logError('synchronising with the cluster', error as Error);
    }
  }

  /** A node is gone (swept here, or by another node): its members leave. */
  lost(node: string): void {
    if (node === this.#port.nodeId) return; // our next heartbeat puts us back
    this.#live.delete(node);
    const gone = this.#port.replica.removeNode(node);
    this.#port.log.warn({ node, members: gone.length }, 'a gateway node was lost');
    this.#port.nodeLost(node, gone);
  }

  async #heartbeat(): Promise<void> {
    const port = this.#port;
    if (!port.ready()) return;
    try {
      const added = await port.run('heartbeat', [port.keys.nodes, port.keys.names, port.keys.members], [port.nodeId, String(port.ttlMs)]);
      // The others gave this node up (it stalled, or Redis lost its data): it tells them again.
      if (Number(added) === 1) await this.resync('the cluster had given this node up');
    } catch (error) {
      port.logError('heartbeat', error as Error);
    }
  }

  /** Finds lost nodes (not while the others may still be coming back) and refreshes which nodes are live. */
  async #sweep(): Promise<void> {
    const port = this.#port;
    if (!port.ready()) return;
    try {
      if (Date.now() >= this.#sweepAfter) {
        const lost = (await port.run('sweep', [port.keys.nodes], [String(Math.floor(port.heartbeatMs * 1.5)), port.prefix])) as string[];
        for (const node of lost) {
          this.lost(node);
          port.publish({ k: 'lost', from: port.nodeId, node });
        }
      }
      this.#live = new Set((await port.command(['ZRANGE', port.keys.nodes, '0', '-1'])) as string[]);
    } catch (error) {
      port.logError('looking for lost nodes', error as Error);
    }
  }

  #every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.#timers.push(timer);
  }
}
