import WebSocket from 'ws';
import { sleep } from './clock.js';
import { waitForQuiet } from './fanout.js';
import type { MemberSpec, Wire } from './generator-protocol.js';
import { GeneratorProcess } from './generator-pool.js';
import { processRssBytes } from './proc-stats.js';
import { freePort, getJson, startSystem, type SystemKind } from './systems.js';

export interface IdleCase {
  id: string;
  label: string;
  system: SystemKind;
  connections: number;
  /** Share of connections on WebSocket (Switchboard only). */
  wsShare: number;
}

export interface IdleResult {
  case: IdleCase;
  tcp: number;
  ws: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  perConnectionBytes: number;
  /**
   * Switchboard only (absent in older files): the same two readings, each taken after a full
   * garbage collection that the bench asked V8 for (HeapProfiler.collectGarbage over the
   * gateway's `--inspect` port on loopback), so garbage from the joins does not count.
   */
  rssBeforeGcBytes?: number;
  rssAfterGcBytes?: number;
  perConnectionAfterGcBytes?: number;
  /**
   * Switchboard only (absent in older files): the gateway's `process.memoryUsage()` beside each
   * RSS figure (before, after; each also after a full GC), so the report can say where the
   * memory per connection goes: V8's heap (committed, and in use), external memory (Buffers), and
   * the rest of RSS (Node's and libuv's C++ objects per socket, malloc, code).
   */
  memory?: { before: MemoryParts; after: MemoryParts; beforeGc: MemoryParts; afterGc: MemoryParts };
  setupSeconds: number;
  /** Switchboard's own figures from GET /api/stats after connecting. */
  stats?: unknown;
}

/** Parts of a Node process's memory, bytes (`process.memoryUsage()`; `external` includes `arrayBuffers`). */
export interface MemoryParts {
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Idle members sit in rooms of 100 (`idle-<i % 100>`), so joins do not fan out to everyone. */
export function idleRoom(index: number): string {
  return `idle-${index % 100}`;
}

function wireFor(c: IdleCase, index: number): Wire {
  if (c.system === 'ngircd') return 'irc';
  if (c.system === 'bare-hub') return 'hub';
  if (c.wsShare >= 1) return 'sb-ws';
  return c.wsShare > 0 && index % 2 === 1 ? 'sb-ws' : 'sb-tcp';
}

/** RSS readings per figure, 200 ms apart: the median is reported (one reading moved by up to 1 KiB per connection between runs). */
const RSS_READINGS = 5;

async function medianRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < RSS_READINGS; i++) {
    if (i > 0) await sleep(200);
    readings.push(processRssBytes(pid));
  }
  readings.sort((a, b) => a - b);
  return readings[Math.floor(readings.length / 2)]!;
}

/** The gateway's inspector (Chrome DevTools protocol over a WebSocket on loopback): one call at a time. */
class Inspector {
  #nextId = 1;

  private constructor(private readonly ws: WebSocket) {}

  static async open(port: number): Promise<Inspector> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (url === undefined) throw new Error(`the gateway's inspector on port ${port} lists no target`);
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Inspector(ws);
  }

  async call(method: string, params: object = {}): Promise<unknown> {
    const id = this.#nextId++;
    const answered = new Promise<unknown>((resolve) => {
      const onMessage = (data: Buffer): void => {
        const reply = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown };
        if (reply.id !== id) return;
        this.ws.off('message', onMessage);
        resolve(reply.result);
      };
      this.ws.on('message', onMessage);
    });
    this.ws.send(JSON.stringify({ id, method, params }));
    return answered;
  }

  /** Two full garbage collections. */
  async collectGarbage(): Promise<void> {
    await this.call('HeapProfiler.collectGarbage');
    await this.call('HeapProfiler.collectGarbage');
  }

  /** The gateway's `process.memoryUsage()`. */
  async memoryUsage(): Promise<MemoryParts> {
    const result = (await this.call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })) as {
      result: { value: string };
    };
    const { heapTotal, heapUsed, external, arrayBuffers } = JSON.parse(result.result.value) as MemoryParts;
    return { heapTotal, heapUsed, external, arrayBuffers };
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Resident memory per connection: RSS of the server once started and settled, then again once
 * every member has connected, joined and the join traffic has died down; each the median of
 * RSS_READINGS readings. Switchboard's are also read after a full GC (the gateway runs with
 * `--inspect` on a loopback port for it).
 */
export async function measureIdle(c: IdleCase, generators: number, log: (line: string) => void): Promise<IdleResult> {
  const inspectPort = c.system === 'switchboard' ? await freePort() : undefined;
  const system = await startSystem(c.system, inspectPort !== undefined ? { nodeFlags: [`--inspect=127.0.0.1:${inspectPort}`] } : {});
  const procs: GeneratorProcess[] = [];
  // Opened for each reading and closed again: no debugger session stays while members join.
  const inspect = async <T>(use: (inspector: Inspector) => Promise<T>): Promise<T | undefined> => {
    if (inspectPort === undefined) return undefined;
    const inspector = await Inspector.open(inspectPort);
    try {
      return await use(inspector);
    } finally {
      inspector.close();
    }
  };
  const memory: Partial<NonNullable<IdleResult['memory']>> = {};
  const afterGc = (): Promise<[number, MemoryParts] | undefined> =>
    inspect(async (inspector) => {
      await inspector.collectGarbage();
      await sleep(500);
      return [await medianRss(system.pid), await inspector.memoryUsage()];
    });
  try {
    await sleep(1000);
    await waitForQuiet(system.pid);
    const rssBefore = await medianRss(system.pid);
    memory.before = await inspect((inspector) => inspector.memoryUsage());
    const beforeGc = await afterGc();
    const rssBeforeGc = beforeGc?.[0];
    if (beforeGc !== undefined) memory.beforeGc = beforeGc[1];
    const members: MemberSpec[] = Array.from({ length: c.connections }, (_, index) => ({
      index,
      wire: wireFor(c, index),
      room: idleRoom(index),
      parse: false,
      sample: false,
      sender: -1,
    }));
    const groups: MemberSpec[][] = Array.from({ length: generators }, () => []);
    members.forEach((m, i) => groups[i % generators]!.push(m));
    const started = Date.now();
    for (let i = 0; i < generators; i++) procs.push(new GeneratorProcess(`idle-${c.id}-${i}`));
    await Promise.all(
      groups.map((group, i) =>
        procs[i]!.setup({
          type: 'setup',
          host: '127.0.0.1',
          tcpPort: system.tcpPort,
          httpPort: system.httpPort,
          members: group,
          senderIndex: [],
          routes: [],
          concurrency: c.system === 'ngircd' ? 8 : 32,
          // ngircd takes about 40 s for 10,000 on a quiet machine; a busy one needs more, and a slow set-up is reported, not failed.
          timeoutMs: 180_000,
          payloadBytes: 64,
        }),
      ),
    );
    const setupSeconds = (Date.now() - started) / 1000;
    await waitForQuiet(system.pid, 30_000);
    await sleep(1000);
    const rssAfter = await medianRss(system.pid);
    memory.after = await inspect((inspector) => inspector.memoryUsage());
    const afterGcReading = await afterGc();
    const rssAfterGc = afterGcReading?.[0];
    if (afterGcReading !== undefined) memory.afterGc = afterGcReading[1];
    const stats = c.system === 'switchboard' ? await getJson(system.httpPort, '/api/stats').catch(() => undefined) : undefined;
    const ws = members.filter((m) => m.wire === 'sb-ws').length;
    const result: IdleResult = {
      case: c,
      tcp: c.connections - ws,
      ws,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      perConnectionBytes: (rssAfter - rssBefore) / c.connections,
      ...(rssBeforeGc !== undefined &&
        rssAfterGc !== undefined && {
          rssBeforeGcBytes: rssBeforeGc,
          rssAfterGcBytes: rssAfterGc,
          perConnectionAfterGcBytes: (rssAfterGc - rssBeforeGc) / c.connections,
        }),
      ...(memory.before !== undefined &&
        memory.after !== undefined &&
        memory.beforeGc !== undefined &&
        memory.afterGc !== undefined && { memory: { before: memory.before, after: memory.after, beforeGc: memory.beforeGc, afterGc: memory.afterGc } }),
      setupSeconds,
      stats,
    };
    log(
      `    ${c.label}: ${c.connections} connections in ${setupSeconds.toFixed(1)} s, RSS ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssAfter / 2 ** 20).toFixed(1)} MiB, ` +
        `${(result.perConnectionBytes / 1024).toFixed(2)} KiB per connection` +
        (result.perConnectionAfterGcBytes !== undefined ? `; after a full GC ${(result.perConnectionAfterGcBytes / 1024).toFixed(2)} KiB` : ''),
    );
    return result;
  } finally {
    await Promise.all(procs.map((p) => p.close()));
    await system.stop();
  }
}
