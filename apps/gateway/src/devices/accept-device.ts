import type net from 'node:net';
import type { Hub } from '../hub/hub.js';
import type { Member } from '../hub/member.js';
import type { DeviceOrigin } from '../hub/device.js';
import type { AutoReplies } from './auto-replies.js';
import { DeviceLink } from './device-link.js';
import type { HeldBudget } from './framing.js';
import type { IdCounter } from './id-counter.js';
import { makeFraming, type DeviceOptions } from './device-settings.js';
import type { TrafficLog } from './traffic-log.js';

/** What every device connection is watched by, and the ids operators' additions get. */
export interface DeviceServices {
  traffic: TrafficLog;
  rules: AutoReplies;
  /** What raw connections' unfinished files hold together (framing.ts, HeldBudget). */
  fileBudget?: HeldBudget | undefined;
  ids: IdCounter;
}

/**
 * Where a device's traffic is kept: an outbound link's one log (its connections, dials and
 * backoffs in it), or one log per connection of a listener's device (listener, `ip:port`, and
 * when it connected), so a second connection's bytes never land in another's log.
 */
export function trafficKey(origin: Pick<DeviceOrigin, 'link' | 'listener'>, address: string, connectedAt: number): string {
  return origin.link !== undefined ? `link:${origin.link}` : `listener:${origin.listener}:${address}@${connectedAt}`;
}

/**
 * A device socket (accepted by a line/raw listener, or dialed by an outbound link) joins the
 * hub as a member of its room, named `name` or by its address.
 */
export function acceptDevice(
  hub: Hub,
  services: DeviceServices,
  socket: net.Socket,
  options: DeviceOptions,
  origin: DeviceOrigin,
  name?: string,
): Member | undefined {
  const link = new DeviceLink(socket, {
    origin,
    framing: makeFraming(options, hub.config.limits, services.fileBudget),
    encoding: options.encoding,
    senderPrefix: options.senderPrefix,
    notices: options.notices,
    rate: options.rate,
    maxFileBytes: hub.config.limits.maxFileBytes,
    closeTimeoutMs: hub.config.timing.closeTimeoutMs,
    // A listener's members share its settings; an outbound link's are its own.
    translatedAlike: origin.listener !== undefined ? options : undefined,
  });
  const member = hub.connect(link, { device: { origin, hears: options.hears, wire: link.wire, name, room: options.room } });
  if (member === undefined) return undefined;
  const key = trafficKey(origin, link.address, member.connectedAt);
  services.traffic.open(key);
  services.traffic.event(key, origin.link !== undefined ? `connected to ${link.address}` : `connected from ${link.address}`);
  socket.once('close', () => services.traffic.event(key, 'disconnected'));
  link.taps.add((direction, bytes, auto, shared) => services.traffic.record(key, direction, bytes, auto, shared));
  const device = {
    memberId: member.id,
    link: origin.link,
    listener: origin.listener,
    address: link.ip,
    port: link.port,
    reply: (bytes: Uint8Array) => link.reply(bytes),
    get closed() {
      return link.closed;
    },
  };
  link.attach({ message: (message, bytes) => hub.receiveMessage(member, message, bytes) }, (message) => services.rules.onMessage(device, message));
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
