#!/usr/bin/env node
/**
 * One load-generator process. The coordinator (run-bench) tells it over IPC which members to
 * connect and when to run; it connects them, sends on an open-loop schedule, counts what
 * every member receives, and reports. Members that only count walk frame headers or line
 * ends; sample members also read each payload's sender, sequence and intended send time.
 */
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeMessage } from '@switchboard/protocol';
import { nowUs } from './clock.js';
import type { GeneratorCommand, GeneratorReport, MemberSpec, Route, RunCommand, RunReport, SetupCommand, Wire } from './generator-protocol.js';
import { LatencyHistogram } from './latency-histogram.js';
import { frameTemplate, ircTemplate, lineTemplate, maskedBinaryMessage, upgradeRequest, webSocketFrameTemplate, type ChatTemplate } from './outgoing.js';
import { findPayload, payloadSender, payloadSeq, payloadTime } from './payload.js';
import { LengthPrefixWalker, LineWalker, WebSocketFrameWalker, httpHeadEnd, webSocketPayloadOffset, type UnitSink } from './stream-walkers.js';

// Every socket reads into this one buffer: reads are handled to the end before the next one.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
// Arrival time of the read being handled; one clock read per read, not per message.
let readNow = 0;
let windowStart = Infinity;
let windowEnd = -Infinity;
let senderOrdinal = new Int32Array(0);

const latency = new LatencyHistogram();
const latencyByWire = new Map<Wire, LatencyHistogram>();
const errorFrames: Record<string, number> = {};

function send(report: GeneratorReport): void {
  process.send?.(report);
}

type State = 'connecting' | 'handshake' | 'ready' | 'closed';

abstract class Member implements UnitSink {
  socket!: net.Socket;
  state: State = 'connecting';
  closeReason = '';
  received = 0;
  receivedInWindow = 0;
  echoes = 0;
  duplicates = 0;
  unexpected = 0;
  expected = 0;
  /** Per sender ordinal: a bit per sequence number, set when it arrived (undefined: nothing expected from that sender). */
  seen: (Uint32Array | undefined)[] = [];
  /** Per sender ordinal: which of its routes reach this member (undefined: none). */
  wants: (Uint8Array | undefined)[] = [];
  /** Messages each sender sends this run. */
  sentBy = new Int32Array(0);
  stopped = false;
  /** A sender's bytes for each of its routes (message q uses templates[q % length]). */
  templates: ChatTemplate[] = [];
  readonly hist: LatencyHistogram | undefined;
  #settle: ((error?: Error) => void) | undefined;

  constructor(
    readonly spec: MemberSpec,
    protected readonly setup: SetupCommand,
  ) {
    if (spec.sample) {
      let h = latencyByWire.get(spec.wire);
      if (!h) latencyByWire.set(spec.wire, (h = new LatencyHistogram()));
      this.hist = h;
    }
  }

  /** The gateway this member talks to (one of several in a cluster). */
  get tcpPort(): number {
    return this.spec.node === undefined ? this.setup.tcpPort : this.setup.nodes![this.spec.node]!.tcpPort;
  }

  get httpPort(): number {
    return this.spec.node === undefined ? this.setup.httpPort : this.setup.nodes![this.spec.node]!.httpPort;
  }

  abstract unit(buf: Buffer, start: number, end: number): void;
  protected abstract onConnect(): void;
  protected abstract feed(buf: Buffer, n: number): void;

  open(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(`no answer within ${this.setup.timeoutMs} ms`), this.setup.timeoutMs);
      this.#settle = (error) => {
        clearTimeout(timer);
        this.#settle = undefined;
        if (error) reject(error);
        else resolve();
      };
      this.socket = net.connect({
        host: this.setup.host,
        port,
        noDelay: true,
        onread: {
          buffer: READ_BUFFER,
          callback: (n: number) => {
            readNow = nowUs();
            try {
              this.feed(READ_BUFFER, n);
            } catch (error) {
              this.fail(`bad input: ${(error as Error).message}`);
            }
            return true;
          },
        },
      });
      this.socket.on('connect', () => {
        this.state = 'handshake';
        this.onConnect();
      });
      this.socket.on('error', (error: NodeJS.ErrnoException) => this.closed(error.code ?? error.message));
      this.socket.on('close', () => this.closed('closed by server'));
    });
  }

  protected ready(): void {
    if (this.state !== 'handshake') return;
    this.state = 'ready';
    this.#settle?.();
  }

  protected fail(reason: string): void {
    this.closed(reason);
    this.socket.destroy();
  }

  private closed(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason = reason;
    this.#settle?.(new Error(`member ${this.spec.index} (${this.spec.wire}): ${reason}`));
  }

  /**
   * A chat message somewhere in buf[start, end). Every member reads its sender and sequence
   * (fixed-width digits), so a loss and a duplicate at one member are both counted, not netted.
   */
  protected chat(buf: Buffer, start: number, end: number): void {
    const at = findPayload(buf, start, end);
    if (at < 0) {
      this.unexpected++;
      return;
    }
    const sender = payloadSender(buf, at);
    if (sender === this.spec.index) {
      this.echoes++;
      return;
    }
    const ordinal = sender < senderOrdinal.length ? senderOrdinal[sender]! : -1;
    const seq = payloadSeq(buf, at);
    const seen = ordinal >= 0 ? this.seen[ordinal] : undefined;
    if (seen === undefined || seq >= this.sentBy[ordinal]!) {
      this.unexpected++;
      return;
    }
    const wants = this.wants[ordinal]!;
    if (wants[seq % wants.length] === 0) {
      this.unexpected++; // sent somewhere this member is not
      return;
    }
    const word = seq >>> 5;
    const bit = 1 << (seq & 31);
    if ((seen[word]! & bit) !== 0) {
      this.duplicates++;
      return;
    }
    seen[word] = seen[word]! | bit;
    this.received++;
    if (readNow >= windowStart && readNow < windowEnd) this.receivedInWindow++;
    if (this.hist !== undefined) {
      const sentAt = payloadTime(buf, at);
      if (sentAt >= windowStart && sentAt < windowEnd) {
        const us = readNow - sentAt;
        this.hist.record(us);
        latency.record(us);
      }
    }
  }

  #histories = 0;

  /**
   * A history frame: the last thing hello and join answer. After the first, join the member's
   * further rooms; ready once every room has answered.
   */
  protected joined(write: (frame: Uint8Array) => void): void {
    if (this.state !== 'handshake') return;
    const more = this.spec.moreRooms ?? [];
    if (++this.#histories === 1) for (const room of more) write(encodeMessage({ type: 'join', room }));
    if (this.#histories >= 1 + more.length) this.ready();
  }

  protected errorFrame(json: string): void {
    let code = 'unreadable error frame';
    try {
      code = (JSON.parse(json) as { code?: string }).code ?? code;
    } catch {
      /* counted under the fallback name */
    }
    errorFrames[code] = (errorFrames[code] ?? 0) + 1;
    if (this.state === 'handshake') this.fail(`error frame ${code} during setup`);
  }

  sendChat(seq: number, dueUs: number): void {
    const t = this.templates;
    this.socket.write(t[t.length === 1 ? 0 : seq % t.length]!.build(this.spec.index, seq, dueUs));
  }
}

/** Switchboard over TCP: hello, then frames. */
class SwitchboardTcpMember extends Member {
  readonly walker = new LengthPrefixWalker(this);

  protected onConnect(): void {
    this.socket.write(encodeMessage({ type: 'hello', v: 1, name: `b${this.spec.index}`, room: this.spec.room }));
  }

  protected feed(buf: Buffer, n: number): void {
    this.walker.feed(buf, 0, n);
  }

  unit(buf: Buffer, start: number, end: number): void {
    const type = buf[start + 4];
    if (type === 0x04 || type === 0x05) this.chat(buf, start + 5, end);
    else if (type === 0x10) this.joined((frame) => this.socket.write(frame));
    else if (type === 0x09) this.errorFrame(buf.toString('utf8', start + 5, end));
  }
}

/** Switchboard over WebSocket: an upgrade written by hand, then the same frames, one per binary message. */
class SwitchboardWsMember extends Member {
  readonly walker = new WebSocketFrameWalker(this);
  #head: Buffer | null = Buffer.alloc(0);

  protected onConnect(): void {
    this.socket.write(upgradeRequest(this.setup.host, this.httpPort, '/ws'));
  }

  protected feed(buf: Buffer, n: number): void {
    if (this.#head === null) {
      this.walker.feed(buf, 0, n);
      return;
    }
    const head = Buffer.concat([this.#head, buf.subarray(0, n)]);
    const end = httpHeadEnd(head, 0, head.length);
    if (end < 0) {
      this.#head = head;
      return;
    }
    this.#head = null;
    if (!head.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
      this.fail(`upgrade refused: ${head.toString('latin1', 0, head.indexOf('\r\n'))}`);
      return;
    }
    this.socket.write(maskedBinaryMessage(encodeMessage({ type: 'hello', v: 1, name: `b${this.spec.index}`, room: this.spec.room })));
    if (end < head.length) this.walker.feed(head, end, head.length);
  }

  unit(buf: Buffer, start: number, end: number): void {
    const opcode = buf[start]! & 0x0f;
    const at = start + webSocketPayloadOffset(buf, start);
    if (opcode === 0x2) {
      const type = buf[at + 4];
      if (type === 0x04 || type === 0x05) this.chat(buf, at + 5, end);
      else if (type === 0x10) this.joined((frame) => this.socket.write(maskedBinaryMessage(frame)));
      else if (type === 0x09) this.errorFrame(buf.toString('utf8', at + 5, end));
    } else if (opcode === 0x8) {
      this.fail('WebSocket closed by server');
    } else if (opcode === 0x9) {
      // Pong with the ping's payload, masked.
      const pong = maskedBinaryMessage(buf.subarray(at, end));
      pong[0] = 0x8a;
      this.socket.write(pong);
    }
  }
}

/** ngircd: register, join the channel, then PRIVMSG lines. */
class IrcMember extends Member {
  readonly walker = new LineWalker(this);
  #names = 0;

  protected onConnect(): void {
    const nick = `b${this.spec.index}`;
    this.socket.write(`NICK ${nick}\r\nUSER ${nick} 0 * :bench\r\n`);
  }

  protected feed(buf: Buffer, n: number): void {
    this.walker.feed(buf, 0, n);
  }

  unit(buf: Buffer, start: number, end: number): void {
    if (buf[start] === 0x3a) {
      // ":prefix COMMAND ..." — find the command after the first space.
      let c = start + 1;
      while (c < end && buf[c] !== 0x20) c++;
      c++;
      if (buf[c] === 0x50 && buf[c + 1] === 0x52 && buf[c + 2] === 0x49) {
        this.chat(buf, c, end); // PRIVMSG
        return;
      }
      if (this.state !== 'handshake') return;
      const code = buf.toString('latin1', c, c + 3);
      if (code === '001') this.socket.write(`JOIN ${[this.spec.room, ...(this.spec.moreRooms ?? [])].map((r) => `#${r}`).join(',')}\r\n`);
      else if (code === '366' && ++this.#names >= 1 + (this.spec.moreRooms?.length ?? 0))
        this.ready(); // end of NAMES: joined
      else if (code[0] === '4' || code[0] === '5') this.fail(`IRC error: ${buf.toString('latin1', start, end).trim()}`);
      return;
    }
    if (buf[start] === 0x50 && buf[start + 1] === 0x49) {
      // PING :token → PONG :token
      this.socket.write(`PONG${buf.toString('latin1', start + 4, end)}`);
    } else if (buf[start] === 0x45 && buf[start + 1] === 0x52) {
      this.fail(buf.toString('latin1', start, end).trim()); // ERROR :reason
    }
  }
}

/** The bare hub: no hello; it sends an empty welcome frame on accept. */
class HubMember extends Member {
  readonly walker = new LengthPrefixWalker(this);

  protected onConnect(): void {}

  protected feed(buf: Buffer, n: number): void {
    this.walker.feed(buf, 0, n);
  }

  unit(buf: Buffer, start: number, end: number): void {
    const type = buf[start + 4];
    if (type === 0x04) this.chat(buf, start + 5, end);
    else if (type === 0x03) this.ready();
  }
}

/** Switchboard's line listener: no handshake; every line from it is a chat message (the text alone, no echo). */
class LineMember extends Member {
  readonly walker = new LineWalker(this);

  protected onConnect(): void {
    this.ready();
  }

  protected feed(buf: Buffer, n: number): void {
    this.walker.feed(buf, 0, n);
  }

  unit(buf: Buffer, start: number, end: number): void {
    if (buf[start] === 0x45 && buf.toString('latin1', start, start + 6) === 'ERROR ')
      this.errorFrame(JSON.stringify({ code: buf.toString('latin1', start + 6, end).split(':')[0] }));
    else this.chat(buf, start, end);
  }
}

let members: Member[] = [];
let senders: (Member | undefined)[] = [];

async function setup(cmd: SetupCommand): Promise<void> {
  const started = nowUs();
  senderOrdinal = new Int32Array(Math.max(...cmd.members.map((m) => m.index), ...cmd.senderIndex) + 1).fill(-1);
  cmd.senderIndex.forEach((index, ordinal) => (senderOrdinal[index] = ordinal));
  members = cmd.members.map((spec) => {
    const m =
      spec.wire === 'sb-tcp'
        ? new SwitchboardTcpMember(spec, cmd)
        : spec.wire === 'sb-ws'
          ? new SwitchboardWsMember(spec, cmd)
          : spec.wire === 'irc'
            ? new IrcMember(spec, cmd)
            : spec.wire === 'sb-line'
              ? new LineMember(spec, cmd)
              : new HubMember(spec, cmd);
    if (spec.sender >= 0) m.templates = cmd.routes[spec.sender]!.map((route) => templateFor(spec, route, cmd.payloadBytes));
    // Which of each sender's routes reach this member.
    m.wants = cmd.routes.map((rs, s) => {
      if (cmd.senderIndex[s] === spec.index) return undefined;
      const w = Uint8Array.from(rs, (r) => (('to' in r ? r.to === spec.index : r.members.includes(spec.index)) ? 1 : 0));
      return w.some((x) => x === 1) ? w : undefined;
    });
    return m;
  });
  senders = [];
  for (const m of members) if (m.spec.sender >= 0) senders[m.spec.sender] = m;
  // A fixed number of connections in flight at once: a listen backlog overflow would cost
  // a one-second SYN retry per connection.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < members.length) {
      const m = members[next++]!;
      const linePort = m.spec.sender >= 0 ? (cmd.senderLinePort ?? cmd.linePort!) : cmd.linePort!;
      await m.open(m.spec.wire === 'sb-ws' ? m.httpPort : m.spec.wire === 'sb-line' ? linePort : m.tcpPort);
    }
  };
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency, members.length) }, worker));
  send({ type: 'ready', members: members.length, setupMs: (nowUs() - started) / 1000 });
}

/** The bytes a sender writes for one route on its wire. */
function templateFor(spec: MemberSpec, route: Route, payloadBytes: number): ChatTemplate {
  if (spec.wire === 'irc') return ircTemplate('to' in route ? `b${route.to}` : `#${route.room}`, payloadBytes);
  if (spec.wire === 'sb-line') {
    if ('to' in route || route.room !== spec.room) throw new Error("a line member only speaks in its listener's room");
    return lineTemplate(payloadBytes);
  }
  // A room is named unless it is the member's only one (after joins the current room is the last joined).
  const target = 'to' in route ? { to: `b${route.to}` } : route.room === spec.room && !spec.moreRooms?.length ? {} : { room: route.room };
  return spec.wire === 'sb-ws' ? webSocketFrameTemplate(payloadBytes, target) : frameTemplate(payloadBytes, target);
}

/** How many q in [0, n) have q mod L = j. */
function countResidue(n: number, L: number, j: number): number {
  return j < n ? Math.floor((n - 1 - j) / L) + 1 : 0;
}

/** Messages sent by sender ordinal s when G messages are spread over S senders. */
function sentBy(s: number, total: number, senderCount: number): number {
  return s < total ? Math.floor((total - 1 - s) / senderCount) + 1 : 0;
}

async function run(cmd: RunCommand): Promise<void> {
  const { t0, rate, senders: S, totalMessages: G } = cmd;
  const interval = 1e6 / rate;
  windowStart = cmd.windowStart;
  windowEnd = cmd.windowEnd;
  latency.counts.fill(0);
  latency.count = latency.max = latency.sum = 0;
  for (const h of latencyByWire.values()) {
    h.counts.fill(0);
    h.count = h.max = h.sum = 0;
  }
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- clears the counts record in place
  for (const key of Object.keys(errorFrames)) delete errorFrames[key];
  for (const m of members) {
    m.received = m.receivedInWindow = m.echoes = m.duplicates = m.unexpected = 0;
    m.stopped = false;
    m.sentBy = Int32Array.from({ length: S }, (_, s) => sentBy(s, G, S));
    m.expected = 0;
    m.seen = m.wants.map((w, s) => {
      if (w === undefined) return undefined;
      const n = m.sentBy[s]!;
      for (let j = 0; j < w.length; j++) if (w[j] === 1) m.expected += countResidue(n, w.length, j);
      return new Uint32Array(Math.ceil(n / 32));
    });
  }

  // Window measurements of this process itself.
  const loopDelay = monitorEventLoopDelay({ resolution: 2 });
  let cpuAtStart = process.cpuUsage();
  let cpu = { user: 0, system: 0 };
  let startedAt = 0;
  let windowUs = 0;
  const windowTimers = [
    setTimeout(
      () => {
        startedAt = nowUs();
        cpuAtStart = process.cpuUsage();
        loopDelay.enable();
      },
      Math.max(0, (windowStart - nowUs()) / 1000),
    ),
    setTimeout(
      () => {
        windowUs = nowUs() - startedAt;
        cpu = process.cpuUsage(cpuAtStart);
        loopDelay.disable();
      },
      Math.max(0, (windowEnd - nowUs()) / 1000),
    ),
  ];

  // Open loop: every tick sends what is due, late or not; the intended time goes in the
  // message, so a late sender shows up as latency instead of being hidden.
  const lateness = new LatencyHistogram();
  let g = 0;
  let sent = 0;
  let sentInWindow = 0;
  let backlogMax = 0;
  let backlogOverflow = 0;
  const mine = senders.some((m) => m !== undefined);
  const corked: Member[] = [];
  const tick = (): void => {
    const now = nowUs();
    while (g < G) {
      const due = t0 + g * interval;
      if (due > now) break;
      const m = senders[g % S];
      if (m !== undefined && m.state === 'ready' && !m.stopped) {
        if (corked.indexOf(m) < 0) {
          m.socket.cork();
          corked.push(m);
        }
        m.sendChat(Math.floor(g / S), due);
        sent++;
        if (due >= windowStart && due < windowEnd) {
          sentInWindow++;
          lateness.record(now - due);
        }
      }
      g++;
    }
    for (const m of corked) m.socket.uncork();
    corked.length = 0;
    for (const m of senders) {
      if (m === undefined || m.stopped) continue;
      const backlog = m.socket.writableLength;
      if (backlog > backlogMax) backlogMax = backlog;
      if (backlog > cmd.maxBacklogBytes) {
        m.stopped = true; // the server stopped reading it; stop before memory runs out
        backlogOverflow++;
      }
    }
  };
  const lastDue = t0 + (G - 1) * interval;
  if (mine) {
    await new Promise<void>((resolve) => {
      const start = setTimeout(
        () => {
          const timer = setInterval(() => {
            tick();
            if (g >= G) {
              clearInterval(timer);
              resolve();
            }
          }, 1);
        },
        Math.max(0, (t0 - nowUs()) / 1000),
      );
      start.unref();
    });
  }
  // Wait for every delivery, or give up at the drain deadline.
  const deadline = Math.max(lastDue, windowEnd) + cmd.drainMs * 1000;
  for (;;) {
    const now = nowUs();
    const flushed = senders.every((m) => m === undefined || m.state === 'closed' || m.socket.writableLength === 0);
    const complete = now > windowEnd && flushed && members.every((m) => m.state === 'closed' || m.received >= m.expected);
    if (complete || now > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const t of windowTimers) clearTimeout(t);
  if (windowUs === 0) {
    // The window closed before its timer ran (only when the process was far behind).
    windowUs = nowUs() - (startedAt || windowStart);
    cpu = process.cpuUsage(cpuAtStart);
    loopDelay.disable();
  }

  const closeReasons: Record<string, number> = {};
  let missing = 0;
  let surplus = 0;
  const report: RunReport = {
    type: 'report',
    id: cmd.id,
    sent,
    sentInWindow,
    sendLateness: lateness.toSparse(),
    backlogMaxBytes: backlogMax,
    backlogOverflow,
    members: members.length,
    received: 0,
    expected: 0,
    missing: 0,
    surplus: 0,
    receivedInWindow: 0,
    echoes: 0,
    duplicates: 0,
    unexpected: 0,
    closed: 0,
    closeReasons,
    errorFrames: { ...errorFrames },
    latency: latency.toSparse(),
    latencyByWire: Object.fromEntries([...latencyByWire].map(([wire, h]) => [wire, h.toSparse()])),
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    loopDelayP99Ms: loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0,
    loopDelayMaxMs: loopDelay.count > 0 ? loopDelay.max / 1e6 : 0,
    windowUs,
  };
  for (const m of members) {
    report.received += m.received;
    report.expected += m.expected;
    report.receivedInWindow += m.receivedInWindow;
    report.echoes += m.echoes;
    report.duplicates += m.duplicates;
    report.unexpected += m.unexpected;
    missing += Math.max(0, m.expected - m.received);
    surplus += Math.max(0, m.received - m.expected);
    if (m.state === 'closed') {
      report.closed++;
      closeReasons[m.closeReason] = (closeReasons[m.closeReason] ?? 0) + 1;
    }
  }
  report.missing = missing;
  report.surplus = surplus;
  send(report);
}

function close(): void {
  for (const m of members) m.socket.destroy();
  send({ type: 'closed' });
  setTimeout(() => process.exit(0), 50);
}

process.on('message', (message: GeneratorCommand) => {
  const done = (p: Promise<void>): void => {
    p.catch((error: unknown) => send({ type: 'error', message: (error as Error).message }));
  };
  if (message.type === 'setup') done(setup(message));
  else if (message.type === 'run') done(run(message));
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a message from the parent is checked, not trusted
  else if (message.type === 'close') close();
});
process.on('disconnect', () => process.exit(0));
