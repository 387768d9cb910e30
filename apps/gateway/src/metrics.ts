import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Hub } from './hub/hub.js';

// What the gateway measures, read from the hub, its delivery and the HTTP connection guard when
// scraped; routes/operations-routes.ts only serves it at /metrics.

/** The switchboard_* metrics, named by Prometheus conventions (base units, _total counters). */
export function switchboardMetrics(register: Registry, hub: Hub, app: FastifyInstance): { render(): Promise<string> } {
  const registers = [register];
  // Descriptors themselves are process_open_fds and process_max_fds (prom-client's defaults).
  new Gauge({
    name: 'switchboard_http_connections',
    help: 'HTTP connections open now (page, API, WebSocket upgrades not yet open), against --max-http-connections.',
    registers,
    collect() {
      this.set(app.httpConnections.open);
    },
  });
  new Counter({
    name: 'switchboard_http_connections_refused_total',
    help: 'HTTP connections answered 503 and closed at once, for being over the total or per-address cap.',
    registers,
    collect() {
      this.reset();
      this.inc(app.httpConnections.refused);
    },
  });
  /** A counter read from the hub's running totals when scraped. */
  const totalCounter = (name: string, help: string, read: (transport: 'tcp' | 'ws') => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        for (const transport of ['tcp', 'ws'] as const) this.inc({ transport }, read(transport));
      },
    });
  };
  new Gauge({
    name: 'switchboard_connections',
    help: 'Connections now, by transport and by the listener they came through (ws: the WebSocket bridge; outbound: device links).',
    labelNames: ['transport', 'listener'],
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const member of hub.members.values()) {
        const listener = member.link.listener ?? (member.device?.origin.link !== undefined ? 'outbound' : member.transport);
        const key = `${member.transport}\u0000${listener}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [key, count] of counts) {
        const [transport, listener] = key.split('\u0000');
        this.set({ transport: transport!, listener: listener! }, count);
      }
    },
  });
  totalCounter('switchboard_frames_received_total', 'Frames received from members, by transport.', (t) => hub.totals.framesIn[t]);
  totalCounter(
    'switchboard_received_bytes_total',
    'Bytes received from members (frames with their length prefix), by transport.',
    (t) => hub.totals.bytesIn[t],
  );
  totalCounter('switchboard_deliveries_total', 'Frames written to members (one per member a message reached), by transport.', (t) => hub.totals.framesOut[t]);
  totalCounter('switchboard_sent_bytes_total', 'Bytes written to members, by transport.', (t) => hub.totals.bytesOut[t]);
  new Gauge({
    name: 'switchboard_queued_bytes',
    help: 'Bytes waiting for members: in outboxes and in socket buffers.',
    registers,
    collect() {
      let queued = 0;
      for (const member of hub.members.values()) queued += hub.delivery.queuedFor(member);
      this.set(queued);
    },
  });
  const fanOut = new Histogram({
    name: 'switchboard_fanout_latency_seconds',
    help: 'How long the oldest frame of a flush waited between being queued and being written.',
    buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers,
  });
  const commit = new Histogram({
    name: 'switchboard_history_write_seconds',
    help: 'How long a history commit took (one per flush).',
    buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1],
    registers,
  });
  hub.delivery.observer = {
    flushed: (waitedMs) => fanOut.observe(waitedMs / 1000),
    committed: (ms) => commit.observe(ms / 1000),
  };
  const bus = hub.node.busTraffic;
  if (bus !== undefined) {
    new Counter({
      name: 'switchboard_cluster_bus_messages_total',
      help: "Messages this node received from the gateways' bus (in: its own echoes included) and sent to it (out); only with --redis-url.",
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset();
        this.inc({ direction: 'in' }, bus.in);
        this.inc({ direction: 'out' }, bus.out);
      },
    });
  }
  const disconnected = new Counter({
    name: 'switchboard_members_disconnected_total',
    help: 'Members that left or were cut, by reason (quit, left, kicked, overflow, timeout, rate, ...).',
    labelNames: ['reason'],
    registers,
  });
  hub.on('left', (_member, reason) => disconnected.inc({ reason }));
  const errors = new Counter({ name: 'switchboard_errors_sent_total', help: 'Error frames sent to members, by code.', labelNames: ['code'], registers });
  hub.on('error-sent', (code) => errors.inc({ code }));
  return { render: () => register.metrics() };
}
