import type { Transport } from '@switchboard/protocol';

/**
 * What a transport adapter gives the hub for one connection. The hub never sees a socket:
 * it hands a link whole frames and asks it to pause, end or cut the connection. What makes a
 * connection a device is not the link's: devices/ hands it to the hub beside it (hub/device.ts).
 */
export interface Link {
  readonly transport: Transport;
  /** The TCP listener it came through (absent for WebSocket members and outbound links). */
  readonly listener?: string | undefined;
  /** `ip:port` as members see it (`[::1]:5000` for IPv6). */
  readonly address: string;
  /** The remote IP alone, for per-address limits. */
  readonly ip: string;
  /** Write whole frames in order, in as few writes as the transport allows. */
  write(frames: readonly Uint8Array[]): void;
  /** Bytes handed to write() that the OS has not taken yet. */
  readonly bufferedBytes: number;
  /** Stop reading from the peer (backpressure); resumeInput undoes it. */
  pauseInput(): void;
  resumeInput(): void;
  /** Send what is queued, then close. */
  end(): void;
  /** Close now, dropping anything queued. */
  destroy(): void;
}
