#!/usr/bin/env node
/**
 * The browser side of the bridge scenarios: a WebSocket client (the `ws` package, as a
 * browser-like client) talking to a raw TCP peer through Switchboard's chat (/ws), through
 * Switchboard's raw device pipe (/ws/devices/:id) or through websockify. Driven over IPC by
 * run-bench:
 *
 *   { type: 'start', url, mode: 'switchboard' | 'websockify' | 'pipe', rttCount, rttWarmup, inFlight, throughputMs, runs }
 *
 * Through Switchboard the client says hello and waits in `lobby` until the echo device joins
 * (it reports { type: 'waiting' } so run-bench can start the device). Each message is a chat
 * `message` frame whose text carries a sequence number and send time; the device echoes the
 * text, so the client gets its own acknowledgement and then the device's line. Through
 * websockify and through the raw pipe (scenario 7) the same frame bytes go to an echo server
 * and come back unchanged, as a byte stream: a WebSocket message may hold part of a frame or
 * several.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { encodeMessage } from '@switchboard/protocol';
import { nowUs } from './clock.js';
import { LatencyHistogram } from './latency-histogram.js';
import { frameTemplate } from './outgoing.js';
import { findPayload, payloadSeq, payloadTime } from './payload.js';
import { LengthPrefixWalker } from './stream-walkers.js';

interface Start {
  type: 'start';
  url: string;
  mode: BridgeMode;
  rttCount: number;
  rttWarmup: number;
  inFlight: number;
  throughputMs: number;
  runs: number;
  /**
   * Scenario 7: the sends one received WebSocket message causes leave in one write (the TCP
   * socket is corked while it is handled), as a browser's sends from one task usually do.
   * Each is still its own WebSocket message. Scenario 4 leaves it off.
   */
  batchSends?: boolean;
}

/** `switchboard`: chat frames over /ws; `websockify` and `pipe`: the frame bytes as a stream. */
export type BridgeMode = 'switchboard' | 'websockify' | 'pipe';

export interface BridgeRun {
  rttP50Ms: number;
  rttP99Ms: number;
  rttMaxMs: number;
  rttSamples: number;
  messagesPerSecond: number;
  loadedP50Ms: number;
  loadedP99Ms: number;
  clientCpu: number;
  duplicates: number;
  /** CPU of the gateway or websockify (with its children) during the loaded phase, share of a core; set by run-bench. */
  serverCpu?: number;
  /**
   * The server's read and write system calls (syscr, syscw of its processes' /proc/<pid>/io: read,
   * write, writev …, not recv or send) per message during the loaded phase; set by run-bench.
   */
  serverReadsPerMessage?: number;
  serverWritesPerMessage?: number;
  /** CPU of the generator core's processes (this client and the processes run-bench names) during the loaded phase; set by run-bench when asked. */
  generatorCpu?: number;
  /** This client's own share of `generatorCpu`. */
  loadedClientCpu?: number;
  /**
   * CPU that processes other than the server and the generator core's used over the whole run
   * (both phases), in cores, from /proc/stat; set by run-bench with `generatorCpu`.
   */
  otherCpu?: number;
  /** When the phases ran, µs of CLOCK_MONOTONIC (a CPU profile's samples are stamped on it). */
  rttFromUs?: number;
  rttToUs?: number;
  loadFromUs?: number;
  loadToUs?: number;
}

const NAME = 'bridge-client';
const template = frameTemplate(64);
const ownEcho = Buffer.from(`"from":"${NAME}"`);

function reply(message: object): void {
  process.send?.(message);
}

async function main(start: Start): Promise<void> {
  const ws = new WebSocket(start.url, { perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  let onReply: (seq: number, sentAt: number) => void = () => {};
  const walker = new LengthPrefixWalker({
    unit(buf, s, e) {
      if (buf[s + 4] !== 0x04) return;
      const at = findPayload(buf, s + 5, e);
      if (at >= 0) onReply(payloadSeq(buf, at), payloadTime(buf, at));
    },
  });
  let peerJoined: () => void = () => {};
  const joined = new Promise<void>((resolve) => (peerJoined = resolve));

  // The client's TCP socket (public: the upgrade response's socket), corked around a batch of sends.
  let tcp: Socket | undefined;
  ws.once('upgrade', (response) => (tcp = response.socket));
  const batched = (sends: () => void): void => {
    if (!start.batchSends || tcp === undefined) return sends();
    tcp.cork();
    try {
      sends();
    } finally {
      tcp.uncork();
    }
  };

  ws.on('message', (data: Buffer) => {
    if (start.mode !== 'switchboard') {
      // websockify and the pipe relay TCP reads: frames may be split or joined.
      batched(() => walker.feed(data, 0, data.length));
      return;
    }
    const type = data[4];
    if (type === 0x04) {
      if (data.indexOf(ownEcho) >= 0) return; // our own acknowledgement
      const at = findPayload(data, 5, data.length);
      if (at >= 0) onReply(payloadSeq(data, at), payloadTime(data, at));
    } else if (type === 0x06 && data.indexOf('"legacy":true') >= 0 && data.indexOf('"event":"join"') >= 0) {
      peerJoined();
    } else if (type === 0x09) {
      reply({ type: 'error', message: `error frame: ${data.toString('utf8', 5)}` });
    }
  });
  ws.on('error', (error) => reply({ type: 'error', message: `WebSocket: ${error.message}` }));
  ws.on('close', (code) => reply({ type: 'error', message: `WebSocket closed (${code})` }));
  await new Promise<void>((resolve) => ws.once('open', () => resolve()));

  if (start.mode === 'switchboard') {
    ws.send(encodeMessage({ type: 'hello', v: 1, name: NAME }));
    reply({ type: 'waiting' });
    await joined;
  }

  let seq = 0;
  const sendOne = (): void => {
    ws.send(template.build(0, seq++, nowUs()));
  };

  const runs: BridgeRun[] = [];
  for (let run = 0; run < start.runs; run++) {
    // One message in flight: send, wait for the echo, send the next.
    const rtt = new LatencyHistogram();
    reply({ type: 'mark', what: 'rtt-start', run });
    const cpu0 = process.cpuUsage();
    const t0 = nowUs();
    await new Promise<void>((resolve) => {
      let done = 0;
      onReply = (_seq, sentAt) => {
        if (done++ >= start.rttWarmup) rtt.record(nowUs() - sentAt);
        if (done >= start.rttWarmup + start.rttCount) resolve();
        else sendOne();
      };
      sendOne();
    });
    // A window of messages in flight: each echo sends the next one.
    const loaded = new LatencyHistogram();
    let completed = 0;
    let duplicates = 0;
    const outstanding = new Set<number>();
    const warmupUs = Math.min(1_000_000, (start.throughputMs * 1000) / 4);
    const begin = nowUs();
    const measureFrom = begin + warmupUs;
    const measureTo = begin + start.throughputMs * 1000;
    // run-bench reads the server's CPU when told the measured part starts and ends.
    let measuring = false;
    await new Promise<void>((resolve) => {
      let stopping = false;
      onReply = (s, sentAt) => {
        if (!outstanding.delete(s)) {
          duplicates++;
          return;
        }
        const now = nowUs();
        if (now >= measureFrom && now < measureTo) {
          if (!measuring) reply({ type: 'mark', what: 'load-start', run });
          measuring = true;
          completed++;
          loaded.record(now - sentAt);
        }
        if (now >= measureTo && !stopping) {
          stopping = true;
          reply({ type: 'mark', what: 'load-end', run });
        }
        if (!stopping) {
          outstanding.add(seq);
          sendOne();
        } else if (outstanding.size === 0) resolve();
      };
      batched(() => {
        for (let i = 0; i < start.inFlight; i++) {
          outstanding.add(seq);
          sendOne();
        }
      });
    });
    const cpu = process.cpuUsage(cpu0);
    runs.push({
      rttP50Ms: rtt.percentile(50) / 1000,
      rttP99Ms: rtt.percentile(99) / 1000,
      rttMaxMs: rtt.max / 1000,
      rttSamples: rtt.count,
      messagesPerSecond: completed / ((measureTo - measureFrom) / 1e6),
      loadedP50Ms: loaded.percentile(50) / 1000,
      loadedP99Ms: loaded.percentile(99) / 1000,
      clientCpu: (cpu.user + cpu.system) / (nowUs() - t0),
      duplicates,
      rttFromUs: t0,
      rttToUs: begin,
      loadFromUs: measureFrom,
      loadToUs: measureTo,
    });
  }
  reply({ type: 'done', runs });
  ws.close();
}

process.once('message', (message: Start) => {
  main(message).catch((error: unknown) => reply({ type: 'error', message: (error as Error).message }));
});
process.on('disconnect', () => process.exit(0));
