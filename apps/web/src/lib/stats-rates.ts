// Rates between two readings of the gateway's running totals (/api/stats), for the live charts.
import type { ServerStats } from './rest-client.js';

export interface StatsSample {
  /** When it was taken (ms since the epoch). */
  at: number;
  /** Frames received from members per second (messages in). */
  framesInPerSecond: number;
  /** Frames queued for members per second (deliveries out). */
  deliveriesPerSecond: number;
  connectionsTcp: number;
  connectionsWs: number;
  queuedBytes: number;
  errorsPerSecond: number;
}

/** What a rate is computed from: /api/stats, or one reading of /api/stats/history. */
export type StatsTotals = Pick<ServerStats, 'connections' | 'framesIn' | 'deliveries' | 'queuedBytes' | 'errorsSent'>;

/** Rates between two readings of the gateway's running totals. */
export function sampleBetween(before: StatsTotals, after: StatsTotals, seconds: number, at: number): StatsSample {
  const rate = (a: number, b: number): number => (seconds > 0 ? Math.max(0, b - a) / seconds : 0);
  return {
    at,
    framesInPerSecond: rate(before.framesIn.tcp + before.framesIn.ws, after.framesIn.tcp + after.framesIn.ws),
    deliveriesPerSecond: rate(before.deliveries.tcp + before.deliveries.ws, after.deliveries.tcp + after.deliveries.ws),
    connectionsTcp: after.connections.tcp,
    connectionsWs: after.connections.ws,
    queuedBytes: after.queuedBytes,
    errorsPerSecond: rate(before.errorsSent, after.errorsSent),
  };
}
