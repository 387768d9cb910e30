import { sleep } from './clock.js';
import { waitForQuiet } from './fanout.js';
import type { MemberSpec, Wire } from './generator-protocol.js';
import { GeneratorProcess } from './generator-pool.js';
import { processRssBytes } from './proc-stats.js';
import { getJson, startSystem, type SystemKind } from './systems.js';

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
  setupSeconds: number;
  /** Switchboard's own figures from GET /api/stats after connecting. */
  stats?: unknown;
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

/**
 * Resident memory per connection: RSS of the server once started and settled, then again once
 * every member has connected, joined and the join traffic has died down.
 */
export async function measureIdle(c: IdleCase, generators: number, log: (line: string) => void): Promise<IdleResult> {
  const system = await startSystem(c.system);
  const procs: GeneratorProcess[] = [];
  try {
    await sleep(1000);
    await waitForQuiet(system.pid);
    const rssBefore = processRssBytes(system.pid);
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
    const rssAfter = processRssBytes(system.pid);
    const stats = c.system === 'switchboard' ? await getJson(system.httpPort, '/api/stats').catch(() => undefined) : undefined;
    const ws = members.filter((m) => m.wire === 'sb-ws').length;
    const result: IdleResult = {
      case: c,
      tcp: c.connections - ws,
      ws,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      perConnectionBytes: (rssAfter - rssBefore) / c.connections,
      setupSeconds,
      stats,
    };
    log(
      `    ${c.label}: ${c.connections} connections in ${setupSeconds.toFixed(1)} s, RSS ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssAfter / 2 ** 20).toFixed(1)} MiB, ` +
        `${(result.perConnectionBytes / 1024).toFixed(2)} KiB per connection`,
    );
    return result;
  } finally {
    await Promise.all(procs.map((p) => p.close()));
    await system.stop();
  }
}
