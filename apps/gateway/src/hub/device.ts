/**
 * What makes a connection a device, as the hub sees it. A link is only a link (transports know
 * nothing of devices): devices/ hands the hub what a device is beside it, in Hub.connect.
 */

/**
 * Whose words in its room a device hears (docs/devices.md, "Who a device hears"): `people` (members that
 * said hello, browsers, plain framed devices), `everyone` (other devices too, loops bounded: see
 * Router), `addressed` (nothing said in a room, only private messages and what the console or a
 * pipe writes to it).
 */
export const hearings = ['people', 'everyone', 'addressed'] as const;
export type Hears = (typeof hearings)[number];

/** A device that speaks no Switchboard framing: how it is framed and where it came from. */
export interface DeviceOrigin {
  framing: 'line' | 'raw';
  /** The listener it connected to, or the outbound link that dialed it. */
  listener?: string | undefined;
  link?: string | undefined;
}

/** Bytes, reads and writes as they crossed a device's own socket (the hub's counters see translated frames). */
export interface WireCounters {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

/** A device link (line/raw listener, outbound link): joins its room at once (no hello), is never pinged, and its link translates frames. */
export interface DeviceAttachment {
  readonly origin: DeviceOrigin;
  readonly hears: Hears;
  readonly wire: WireCounters;
  /** Its name in the room (default: its address). */
  readonly name?: string | undefined;
  readonly room: string;
}

/** How a connection arrives: as a device link, or as a framed connection that may turn out a plain device. */
export interface ConnectOptions {
  device?: DeviceAttachment | undefined;
  /** Whose words it hears if it never says hello (its listener's `hears`); default `people`. */
  hearsIfPlain?: Hears | undefined;
}
