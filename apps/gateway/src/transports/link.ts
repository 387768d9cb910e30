import type { Transport } from '@switchboard/protocol';
import type { Hears } from '../devices/device-settings.js';

/**
 * What a transport adapter gives the hub for one connection. The hub never sees a socket:
 * it hands a link whole frames and asks it to pause, end or cut the connection.
 */
/** A device that speaks no Switchboard framing: how it is framed and where it came from. */
export interface DeviceOrigin {
  framing: 'line' | 'raw';
  /** The listener it connected to, or the outbound link that dialed it. */
  listener?: string | undefined;
  link?: string | undefined;
}

export interface Link {
  readonly transport: Transport;
  /** The TCP listener it came through (absent for WebSocket members and outbound links). */
  readonly listener?: string | undefined;
  /** For devices: what crossed the socket itself (the hub's own counters see translated frames). */
  readonly wire?: { bytesIn: number; bytesOut: number; messagesIn: number; messagesOut: number } | undefined;
  /** Set for devices: they join at once (no hello), are never pinged, and get frames translated by their link. */
  readonly device?: DeviceOrigin | undefined;
  /**
   * Whose words it hears once it is a device (line/raw/link, or a plain framed connection);
   * absent: `people`. A member that said hello hears everyone.
   */
  readonly hears?: Hears | undefined;
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
