import type { SparseHistogram } from './latency-histogram.js';

/**
 * Messages between the coordinator (run-bench) and its load-generator processes, over the
 * Node IPC channel. Times are nowUs() values (CLOCK_MONOTONIC, shared by every process).
 */

/** How a member talks to the system under test. */
export type Wire =
  | 'sb-tcp' // Switchboard over TCP: hello, then message frames
  | 'sb-ws' // Switchboard over WebSocket (/ws): the same frames, one per binary message
  | 'irc' // ngircd: NICK/USER/JOIN, then PRIVMSG lines
  | 'hub' // the bare node:net hub: the same frames as sb-tcp, no hello
  | 'sb-line'; // Switchboard's line listener (--listen line://…?room=…): text lines, no hello, no echo

export interface MemberSpec {
  /** Global member number (0..K-1); carried in the payload as the sender. */
  index: number;
  wire: Wire;
  /** Room (channel for IRC) the member joins. */
  room: string;
  /** Further rooms it joins after the first (Switchboard: join frames; IRC: one JOIN of every channel). */
  moreRooms?: string[];
  /** Always true now: every member reads each payload's sender and sequence (loss and duplicates per message). */
  parse: boolean;
  /** Counts toward the latency percentiles. */
  sample: boolean;
  /** Sender ordinal 0..S-1, or -1 for a member that only receives. */
  sender: number;
  /** Which gateway it connects to: an index into SetupCommand.nodes (absent: tcpPort/httpPort). */
  node?: number;
}

/** A message's destination: a room (with the member indexes in it) or one member (a private message). */
export type Route = { room: string; members: number[] } | { to: number };

export interface SetupCommand {
  type: 'setup';
  host: string;
  /** TCP port (Switchboard's listener, ngircd, the bare hub). */
  tcpPort: number;
  /** HTTP port of Switchboard (for /ws). */
  httpPort: number;
  /** Several gateways sharing one Redis (scenario 8): each member's `node` picks its ports here. */
  nodes?: { tcpPort: number; httpPort: number }[];
  /** Switchboard's line listener port (members on wire sb-line). */
  linePort?: number;
  /** The line listener port for senders on wire sb-line (they hear nothing). */
  senderLinePort?: number;
  members: MemberSpec[];
  /** Member index of each sender ordinal (all senders, not only this process's). */
  senderIndex: number[];
  /**
   * Where each sender's messages go: the message with sequence q of sender ordinal s goes to
   * routes[s][q % routes[s].length]. Every member derives from it which messages it must get.
   */
  routes: Route[][];
  /** Connections opened at once (ngircd's listen backlog is 10). */
  concurrency: number;
  timeoutMs: number;
  payloadBytes: number;
}

export interface RunCommand {
  type: 'run';
  id: number;
  /** Intended send time of message 0. Message g is due at t0 + g * 1e6 / rate. */
  t0: number;
  rate: number;
  /** S: message g is sent by sender ordinal g % S with sequence floor(g / S). */
  senders: number;
  totalMessages: number;
  windowStart: number;
  windowEnd: number;
  /** After the last due time, how long to wait for deliveries before reporting. */
  drainMs: number;
  /** A sender whose unsent bytes pass this stops (the server is not reading). */
  maxBacklogBytes: number;
}

export interface CloseCommand {
  type: 'close';
}

export type GeneratorCommand = SetupCommand | RunCommand | CloseCommand;

export interface HistogramData {
  buckets: SparseHistogram;
  count: number;
  max: number;
  sum: number;
}

export interface ReadyReport {
  type: 'ready';
  members: number;
  setupMs: number;
}

export interface RunReport {
  type: 'report';
  id: number;
  /** Messages written by this process's senders (all / with intended time in the window). */
  sent: number;
  sentInWindow: number;
  /** How late senders wrote window messages compared with their schedule (µs). */
  sendLateness: HistogramData;
  backlogMaxBytes: number;
  backlogOverflow: number;
  members: number;
  /** Chat messages from others that reached this process's members. */
  received: number;
  /** What they should have received: every message of the run, less each sender's own. */
  expected: number;
  /** Sum over members of max(0, expected - received) and max(0, received - expected). */
  missing: number;
  surplus: number;
  /** Received with arrival time inside the window. */
  receivedInWindow: number;
  /** Sender's own messages coming back (Switchboard acknowledges with the message itself). */
  echoes: number;
  duplicates: number;
  /** Parsed payloads with a sender or sequence that was never sent. */
  unexpected: number;
  closed: number;
  closeReasons: Record<string, number>;
  errorFrames: Record<string, number>;
  /** Latency of window messages at sample members, all and by wire. */
  latency: HistogramData;
  latencyByWire: Partial<Record<Wire, HistogramData>>;
  /** This process's CPU time and event-loop delay during the window. */
  cpuUserUs: number;
  cpuSystemUs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  windowUs: number;
}

export interface ErrorReport {
  type: 'error';
  message: string;
}

export type GeneratorReport = ReadyReport | RunReport | ErrorReport | { type: 'closed' };
