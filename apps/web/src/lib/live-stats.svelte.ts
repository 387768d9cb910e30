// The admin panel's live charts: /api/stats polled every few seconds, turned into rates and
// kept for the last minutes. Drawn from the gateway itself: no Grafana needed to see them.
import { requestJson, type ServerStats } from './rest-client.js';
import { sampleBetween, type StatsSample } from './stats-rates.js';

export type { StatsSample };

export class LiveStats {
  #samples = $state.raw<StatsSample[]>([]);
  #error = $state<string | null>(null);
  #timer: ReturnType<typeof setInterval> | null = null;
  #last: { stats: ServerStats; at: number } | undefined;

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
    void this.#poll();
    this.#timer = setInterval(() => void this.#poll(), this.everyMs);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#last = undefined;
  }

  async #poll(): Promise<void> {
    try {
      const stats = await requestJson<ServerStats>('GET', '/api/stats', { token: this.token() });
      const at = Date.now();
      const last = this.#last;
      this.#last = { stats, at };
      this.#error = null;
      // A restarted gateway's totals start again at zero: no rate across that gap.
      if (last === undefined || stats.uptimeMs < last.stats.uptimeMs) return;
      const sample = sampleBetween(last.stats, stats, (at - last.at) / 1000, at);
      this.#samples = [...this.#samples.filter((s) => s.at > at - this.windowMs), sample];
    } catch (error) {
      this.#error = (error as Error).message;
    }
  }
}
