import type { Transport } from '@switchboard/protocol';
/** Running totals for metrics, per transport: plain numbers, so counting costs nothing on the hot path. */
export interface HubTotals {
  framesIn: Record<Transport, number>;
  bytesIn: Record<Transport, number>;
  framesOut: Record<Transport, number>;
  bytesOut: Record<Transport, number>;
  /** Error frames sent. */
  errorsSent: number;
}
