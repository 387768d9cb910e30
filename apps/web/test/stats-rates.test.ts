import { describe, expect, it } from 'vitest';
import { sampleBetween } from '../src/lib/stats-rates.js';

const stats = (framesIn: number, deliveries: number, errorsSent: number) => ({
  members: 2,
  rooms: 1,
  queuedBytes: 10,
  rssBytes: 0,
  heapUsedBytes: 0,
  openDescriptors: 0,
  uptimeMs: 1000,
  connections: { tcp: 1, ws: 1 },
  framesIn: { tcp: framesIn, ws: 0 },
  deliveries: { tcp: 0, ws: deliveries },
  errorsSent,
});

describe('live stats', () => {
  it('turns two readings of the running totals into rates', () => {
    const sample = sampleBetween(stats(100, 1000, 2), stats(300, 5000, 6), 2, 42);
    expect(sample).toEqual({
      at: 42,
      framesInPerSecond: 100,
      deliveriesPerSecond: 2000,
      connectionsTcp: 1,
      connectionsWs: 1,
      queuedBytes: 10,
      errorsPerSecond: 2,
    });
  });
});
