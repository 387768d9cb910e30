import type net from 'node:net';
import type { Hub } from '../hub/hub.js';
import type { Member } from '../hub/member.js';
import type { DeviceOrigin } from '../transports/link.js';
import { DeviceLink } from './device-link.js';
import { makeFraming, type DeviceOptions } from './device-settings.js';

/**
 * A device socket (accepted by a line/raw listener, or dialed by an outbound link) joins the
 * hub as a member of its room, named `name` or by its address.
 */
export function acceptDevice(hub: Hub, socket: net.Socket, options: DeviceOptions, origin: DeviceOrigin, name?: string): Member | undefined {
  const link = new DeviceLink(socket, {
    origin,
    framing: makeFraming(options, hub.config.limits.maxTextBytes),
    encoding: options.encoding,
    senderPrefix: options.senderPrefix,
    maxFileBytes: hub.config.limits.maxFileBytes,
    closeTimeoutMs: hub.config.timing.closeTimeoutMs,
  });
  const member = hub.connect(link, { name, room: options.room });
  if (member === undefined) return undefined;
  link.attach({ frame: (type, payload) => hub.receive(member, type, payload) });
  socket.on('drain', () => hub.drained(member));
  socket.once('close', () => hub.disconnect(member, 'quit'));
  if (options.idleTimeoutMs > 0) {
    // A device cannot answer protocol pings; silence this long means it is gone.
    socket.setTimeout(options.idleTimeoutMs, () =>
      hub.disconnect(member, 'timeout', { code: 'IDLE_TIMEOUT', message: `Nothing came from the device for ${options.idleTimeoutMs} ms.` }),
    );
  }
  return member;
}
