#!/usr/bin/env node
/**
 * Scenario 6: the protocol codec alone, in one process. Prints one JSON document on stdout.
 * Usage: node codec-bench.js [--seconds 1] [--repeats 3] [--protocol <path to protocol dist/index.js>]
 */
import { pathToFileURL } from 'node:url';
import type { CodecFigure } from './results-files.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const seconds = Number(option('--seconds') ?? 1) || 1;
const repeats = Number(option('--repeats') ?? 3) || 3;
// The build under test (run-bench's snapshot), or the workspace package.
const protocolPath = option('--protocol');
const { FrameDecoder, FrameType, decodeClientMessage, encodeFrame, encodeMessage } = (await import(
  protocolPath ? pathToFileURL(protocolPath).href : '@switchboard/protocol'
)) as typeof import('@switchboard/protocol');

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Runs `step` (which handles `framesPerStep` frames) for `seconds`, `repeats` times; frames/s. */
function measure(name: string, what: string, frameBytes: number, framesPerStep: number, step: () => void): CodecFigure {
  const warmEnd = performance.now() + 200;
  while (performance.now() < warmEnd) step();
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let frames = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 16; i++) step();
      frames += 16 * framesPerStep;
      now = performance.now();
    }
    runs.push(frames / ((now - start) / 1000));
  }
  const fps = median(runs);
  return { name, what, frameBytes, framesPerSecond: fps, megabytesPerSecond: (fps * frameBytes) / 1e6, runs };
}

function payload(n: number): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = 97 + (i % 26);
  return p;
}

const small = payload(64);
const large = payload(64 * 1024);
const smallFrame = encodeFrame(FrameType.Text, small); // 69 bytes
const largeFrame = encodeFrame(FrameType.FileData, large); // 65,541 bytes
const figures: CodecFigure[] = [];
let sink = 0;

// A 64 KiB read full of whole 64-byte frames.
const perChunk = Math.floor(65536 / smallFrame.length);
const alignedChunk = new Uint8Array(perChunk * smallFrame.length);
for (let i = 0; i < perChunk; i++) alignedChunk.set(smallFrame, i * smallFrame.length);
{
  const d = new FrameDecoder((_t, p) => (sink += p.length));
  figures.push(measure('decode-64', 'FrameDecoder, 64-byte frames, 64 KiB reads of whole frames', smallFrame.length, perChunk, () => d.push(alignedChunk)));
}

// A continuous stream of 64-byte frames cut into 65,536-byte reads: one frame straddles each cut.
const streamBytes = smallFrame.length * 65536; // a whole number of frames and of 64 KiB reads
const stream = new Uint8Array(streamBytes);
for (let at = 0; at < streamBytes; at += smallFrame.length) stream.set(smallFrame, at);
const reads: Uint8Array[] = [];
for (let at = 0; at < streamBytes; at += 65536) reads.push(stream.subarray(at, at + 65536));
{
  const d = new FrameDecoder((_t, p) => (sink += p.length));
  let next = 0;
  figures.push(
    measure(
      'decode-64-split',
      'FrameDecoder, 64-byte frames, 65,536-byte reads (frames cut at read edges)',
      smallFrame.length,
      65536 / smallFrame.length,
      () => {
        d.push(reads[next]!);
        next = (next + 1) % reads.length;
      },
    ),
  );
}

// 64 KiB frames arriving as TCP delivers them: 65,536-byte reads, so every frame spans two.
const bigStream = new Uint8Array(largeFrame.length * 64);
for (let i = 0; i < 64; i++) bigStream.set(largeFrame, i * largeFrame.length);
const bigReads: Uint8Array[] = [];
for (let at = 0; at < bigStream.length; at += 65536) bigReads.push(bigStream.subarray(at, Math.min(bigStream.length, at + 65536)));
{
  const d = new FrameDecoder((_t, p) => (sink += p.length), { maxFrameLength: 1 << 20 });
  let next = 0;
  figures.push(
    measure('decode-64k-tcp', 'FrameDecoder, 64 KiB frames, 65,536-byte reads (each frame spans two reads)', largeFrame.length, 64 / bigReads.length, () => {
      d.push(bigReads[next]!);
      next = (next + 1) % bigReads.length;
    }),
  );
}
{
  const d = new FrameDecoder((_t, p) => (sink += p.length), { maxFrameLength: 1 << 20 });
  figures.push(
    measure(
      'decode-64k-whole',
      'FrameDecoder, 64 KiB frames, one whole frame per push (a WebSocket message: handed out as a view, no byte copied)',
      largeFrame.length,
      1,
      () => d.push(largeFrame),
    ),
  );
}

// Chat frames end to end: frame + UTF-8 + JSON + shape check.
const chatText = String.fromCharCode(...small);
const chatFrame = encodeMessage({ type: 'message', text: chatText });
const chatPayload = chatFrame.subarray(5);
figures.push(
  measure('decode-chat', 'decodeClientMessage, a `message` frame with 64 bytes of text (JSON)', chatFrame.length, 1, () => {
    sink += (decodeClientMessage(FrameType.Message, chatPayload) as { text: string }).text.length;
  }),
);

figures.push(measure('encode-64', 'encodeFrame, 64-byte payload', smallFrame.length, 1, () => (sink += encodeFrame(FrameType.Text, small).length)));
figures.push(measure('encode-64k', 'encodeFrame, 64 KiB payload', largeFrame.length, 1, () => (sink += encodeFrame(FrameType.FileData, large).length)));
const serverMessage = { type: 'message' as const, id: 123456, room: 'bench', from: 'b42', transport: 'tcp' as const, ts: 1763769600000, text: chatText };
const serverFrameBytes = encodeMessage(serverMessage).length;
figures.push(
  measure(
    'encode-chat',
    'encodeMessage, a server `message` with 64 bytes of text (JSON)',
    serverFrameBytes,
    1,
    () => (sink += encodeMessage(serverMessage).length),
  ),
);

// Small frames must come out as views of the pushed chunk, not copies.
let views = 0;
let copies = 0;
{
  let expectedOffset = alignedChunk.byteOffset + 5;
  const d = new FrameDecoder((_t, p) => {
    if (p.buffer === alignedChunk.buffer && p.byteOffset === expectedOffset) views++;
    else copies++;
    expectedOffset += smallFrame.length;
  });
  d.push(alignedChunk);
}

process.stdout.write(
  JSON.stringify({ figures, zeroCopy: { frames: views + copies, views, copies, pass: copies === 0 && views === perChunk }, sink: sink > 0 }) + '\n',
);
