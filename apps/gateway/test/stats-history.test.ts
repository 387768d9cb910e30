import { describe, expect, it } from 'vitest';
import { StatsHistory, type StatsReading } from '../src/stats-history.js';

describe('StatsHistory', () => {
  it('keeps only the newest readings, oldest first', () => {
    let n = 0;
    const reading = (): StatsReading => ({
      at: ++n,
      connections: { tcp: 0, ws: 0 },
      framesIn: { tcp: 0, ws: 0 },
      deliveries: { tcp: 0, ws: 0 },
      queuedBytes: 0,
      errorsSent: 0,
    });
    const history = new StatsHistory(reading, 1000, 5);
    for (let i = 0; i < 12; i++) history.record();
    expect(history.readings().map((r) => r.at)).toEqual([8, 9, 10, 11, 12]);
  });
});
