import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { GatewayError } from '../errors.js';
import { readPipeFrames } from '../transports/pipe-reader.js';
import { webSocketHeader } from '../transports/write-batch.js';
import { originAllowed } from '../transports/ws-bridge.js';
import type { DeviceTap } from './device-link.js';

const OPEN = 1;
/** Smaller device reads are copied behind their header (one buffer); larger ones go out as two. */
const JOIN_BELOW = 16 * 1024;
/** A WebSocket header of a message under 64 KiB. */
const MAX_HEADER_BYTES = 4;

/**
 * `GET /ws/devices/:id`: a WebSocket whose binary messages are one device's bytes, both ways,
 * with no chat semantics (what websockify does), but only to devices this gateway knows: an
 * outbound link (`d1`) or a member of a line/raw listener (`m7`). Admin only, since whoever
 * holds a pipe writes straight to the device; the room, and any number of pipes, watch it.
 * Browsers cannot send an Authorization header on an upgrade: they pass `?token=`.
 */
export async function devicePipeRoutes(app: FastifyInstance, options: { requireAdmin: (request: FastifyRequest) => Promise<void> }): Promise<void> {
  const policy = app.hostPolicy;
  const { maxQueueBytes, maxFrameLength } = app.hub.config.limits;
  app.get<{ Params: { id: string }; Querystring: { token?: string } }>(
    '/ws/devices/:id',
    {
      websocket: true,
      preValidation: async (request) => {
        if (!originAllowed(request, policy)) {
          throw new GatewayError('ORIGIN_NOT_ALLOWED', `WebSocket connections from ${request.headers.origin} are not allowed.`);
        }
        const token = request.query.token;
        if (token !== undefined && request.headers.authorization === undefined) request.headers.authorization = `Bearer ${token}`;
        await options.requireAdmin(request);
        if (app.deviceLinks.findLink(request.params.id) === undefined) {
          throw new GatewayError('DEVICE_NOT_FOUND', `No connected device has id "${request.params.id}".`);
        }
      },
    },
    (socket: WebSocket, request) => {
      const link = app.deviceLinks.findLink(request.params.id);
      if (link === undefined) return void socket.close(1011, 'The device went away.');
      const raw = request.socket;
      // Where a small read is framed: used again as long as each write leaves at once (the
      // kernel took it all, so the socket keeps no reference), else the next read gets a new one.
      let scratch: Buffer | undefined;
      const tap: DeviceTap = (direction, bytes) => {
        if (direction !== 'in' || socket.readyState !== OPEN) return;
        // A pipe that does not read is cut, not allowed to hold the device's bytes without bound.
        if (socket.bufferedAmount > maxQueueBytes) return void socket.close(1008, 'The pipe stopped reading.');
        // Framed here and written straight to the socket, one write per message, as the /ws
        // bridge does (ws's sender costs a cork, two writes and an options object each).
        // ws itself only writes control frames (pong, close), never inside one of ours.
        if (bytes.length <= JOIN_BELOW) {
          scratch ??= Buffer.allocUnsafe(JOIN_BELOW + MAX_HEADER_BYTES);
          const head = webSocketHeader(bytes.length);
          scratch.set(head, 0);
          scratch.set(bytes, head.length);
          raw.write(scratch.subarray(0, head.length + bytes.length));
          if (raw.writableLength > 0) scratch = undefined;
          return;
        }
        raw.cork();
        raw.write(webSocketHeader(bytes.length));
        raw.write(bytes);
        raw.uncork();
      };
      link.taps.add(tap);
      // Forgotten when the pipe closes first: a listener per pipe left on the device's socket was
      // a leak (MaxListenersExceededWarning after ten pipes to one device).
      const forget = link.onClose(() => socket.close(1001, 'The device disconnected.'));
      // A device slower than the pipe's writer: the pipe is not read until the device has taken
      // what it was given (the socket's own flow control reaches the browser), never buffered without bound.
      // Paused again on every write past the bound, not only the first: ws resumes the socket
      // when its own receiver drains (for the messages it reads), which may come first.
      let waiting = false;
      const toDevice = (bytes: Uint8Array): void => {
        link.writeRaw(bytes);
        if (link.bufferedBytes <= maxQueueBytes) return;
        raw.pause();
        if (waiting) return;
        waiting = true;
        link.whenDrained(() => {
          waiting = false;
          raw.resume();
        });
      };
      // Binary frames are read by the pipe itself, the payloads of one read written at once;
      // what ws reads (text, fragments, big frames) comes as messages.
      readPipeFrames(socket, raw, maxFrameLength, toDevice);
      socket.on('message', (data: Buffer) => toDevice(data));
      socket.once('close', () => {
        link.taps.delete(tap);
        forget();
      });
    },
  );
}
