/**
 * Log-bucketed histogram of microsecond values: 1 % wide buckets from 1 µs to about 100 s
 * (1,852 counters), so percentiles are within 1 % and histograms from several processes
 * merge by adding counters.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(100e6) / LOG_GROWTH) + 1;

export type SparseHistogram = [bucket: number, count: number][];

export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;
  sum = 0;

  record(us: number): void {
    const v = us < 1 ? 1 : us;
    let b = Math.floor(Math.log(v) / LOG_GROWTH);
    if (b >= BUCKETS) b = BUCKETS - 1;
    this.counts[b]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** The value at or below which `p` percent of the records fall (upper edge of its bucket). */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(Math.pow(GROWTH, b + 1), this.max);
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  toSparse(): { buckets: SparseHistogram; count: number; max: number; sum: number } {
    const buckets: SparseHistogram = [];
    for (let b = 0; b < BUCKETS; b++) if (this.counts[b]! > 0) buckets.push([b, this.counts[b]!]);
    return { buckets, count: this.count, max: this.max, sum: this.sum };
  }

  merge(sparse: { buckets: SparseHistogram; count: number; max: number; sum: number }): void {
    for (const [b, c] of sparse.buckets) this.counts[b]! += c;
    this.count += sparse.count;
    this.sum += sparse.sum;
    if (sparse.max > this.max) this.max = sparse.max;
  }
}
