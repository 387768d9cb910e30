import { decodeServerMessage, encodeMessage, type ClientMessage, type ServerMessage, type Transport } from '@switchboard/protocol';
import type { ClusterNode } from '../src/cluster/cluster.js';
import { InProcessCluster } from '../src/cluster/in-process-cluster.js';
import { defaultConfig, type GatewayConfig } from '../src/config.js';
import type { HistoryStore } from '../src/history/history-store.js';
import { SqliteHistoryStore } from '../src/history/sqlite-history-store.js';
import { Hub } from '../src/hub/hub.js';
import { Identity } from '../src/identity/identity.js';
import { IdentityStore } from '../src/identity/identity-store.js';
import type { Member } from '../src/hub/member.js';
import type { Link } from '../src/transports/link.js';

/** A connection with no socket: what the hub writes is decoded and kept; `backlog` plays a peer that does not read. */
export class MemoryLink implements Link {
  readonly received: ServerMessage[] = [];
  readonly log: string[] = [];
  paused = false;
  ended = false;
  backlog = 0;
  static #port = 40000;

  constructor(
    readonly transport: Transport = 'tcp',
    readonly ip = '127.0.0.1',
    readonly address = `${ip}:${MemoryLink.#port++}`,
  ) {}

  write(frames: readonly Uint8Array[]): void {
    this.log.push(`write ${this.address}`);
    for (const frame of frames) this.received.push(decodeServerMessage(frame[4]!, frame.subarray(5)));
  }

  get bufferedBytes(): number {
    return this.backlog;
  }

  pauseInput(): void {
    this.paused = true;
  }

  resumeInput(): void {
    this.log.push(`resume ${this.address}`);
    this.paused = false;
  }

  end(): void {
    this.ended = true;
  }

  destroy(): void {
    this.ended = true;
  }

  /** Received frames of one type. */
  of<T extends ServerMessage['type']>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.received.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }

  /** Text lines (type 0) received, for plain devices. */
  lines(): string[] {
    return this.of('text').map((m) => m.text);
  }
}

/**
 * A hub with in-memory history, driven without sockets. Wires what buildApp wires by default:
 * a cluster of one in process, accounts in memory with open registration.
 */
export function testHub(options: { cluster?: ClusterNode; history?: HistoryStore; identity?: Identity; config?: (c: GatewayConfig) => void } = {}): Hub {
  const config = defaultConfig();
  config.dataDir = null;
  config.timing.helloTimeoutMs = 50;
  options.config?.(config);
  const quiet = { info() {}, warn() {}, error() {}, debug() {} };
  const history = options.history ?? new SqliteHistoryStore(null);
  const cluster = options.cluster ?? new InProcessCluster(history.lastId()).node(config.cluster.nodeId ?? 'local');
  const identity =
    options.identity ??
    new Identity(new IdentityStore(null), { registration: 'open', requireLogin: false, requireLoginDevices: false, tokenTtlMs: 30 * 86_400_000 });
  return new Hub({ config, history, cluster, identity, log: quiet, openFileLimit: 100_000 });
}

export interface TestClient {
  member: Member;
  link: MemoryLink;
  send(message: ClientMessage): void;
}

/** Connects a memory link to a hub, optionally saying hello. */
export function connect(hub: Hub, hello?: { name: string; room?: string; ref?: string }, transport: Transport = 'tcp'): TestClient {
  const link = new MemoryLink(transport);
  const member = hub.connect(link);
  if (member === undefined) throw new Error('refused');
  const client = {
    member,
    link,
    send(message: ClientMessage) {
      const frame = encodeMessage(message);
      hub.receive(member, frame[4]!, frame.subarray(5));
    },
  };
  if (hello !== undefined) client.send({ type: 'hello', v: 1, ...hello });
  return client;
}

/** Lets claims settle and the flush run. */
export function settle(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
