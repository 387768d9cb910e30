// The admin page's live charts: they open with the gateway's last minutes (/api/stats/history,
// a reading a second) already drawn, then /api/stats is polled every few seconds; each pair of
// readings of the running totals becomes a rate. Drawn from the gateway itself: no Grafana needed.
import { requestJson, type ServerStats, type StatsHistory } from './rest-client.js';
import { sampleBetween, type StatsSample, type StatsTotals } from './stats-rates.js';

export type { StatsSample };

export class LiveStats {
  #samples = $state.raw<StatsSample[]>([]);
  #error = $state<string | null>(null);
  #timer: ReturnType<typeof setInterval> | null = null;
  #last: { totals: StatsTotals; at: number } | undefined;

  constructor(
    private readonly token: () => string | null,
    readonly windowMs = 5 * 60_000,
    readonly everyMs = 2_000,
  ) {}

  get samples(): readonly StatsSample[] {
    return this.#samples;
  }

  get error(): string | null {
    return this.#error;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => void this.#poll(), this.everyMs);
    void this.#loadHistory().then(() => this.#poll());
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#last = undefined;
    this.#samples = [];
  }

  async #loadHistory(): Promise<void> {
    try {
      const history = await requestJson<StatsHistory>('GET', '/api/stats/history', { token: this.token() });
      const readings = history.readings;
      const newest = readings.at(-1);
      if (newest === undefined || this.#timer === null) return;
      // The gateway's clock, shifted to this page's: its newest reading is at most a second old.
      const shift = Date.now() - newest.at;
      for (const reading of readings) this.#add(reading, reading.at + shift);
    } catch (error) {
      this.#error = (error as Error).message;
    }
  }

  async #poll(): Promise<void> {
    try {
      const stats = await requestJson<ServerStats>('GET', '/api/stats', { token: this.token() });
      this.#error = null;
      if (this.#timer !== null) this.#add(stats, Date.now());
    } catch (error) {
      this.#error = (error as Error).message;
    }
  }

  #add(totals: StatsTotals, at: number): void {
    const last = this.#last;
    if (last !== undefined && at <= last.at) return; // A poll that overtook the history.
    this.#last = { totals, at };
    // A restarted gateway's totals start again at zero: no rate across that gap.
    if (last === undefined || restarted(last.totals, totals)) return;
    const sample = sampleBetween(last.totals, totals, (at - last.at) / 1000, at);
    this.#samples = [...this.#samples.filter((s) => s.at > at - this.windowMs), sample];
  }
}

function restarted(before: StatsTotals, after: StatsTotals): boolean {
  const total = (t: StatsTotals) => [t.framesIn.tcp, t.framesIn.ws, t.deliveries.tcp, t.deliveries.ws, t.errorsSent];
  const [a, b] = [total(before), total(after)];
  return a.some((n, i) => b[i]! < n);
}
