import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import { trafficKey } from './accept-device.js';
import type { GivenScope, RuleScope } from './auto-replies.js';
import type { DeviceLinks } from './device-links.js';
import { plainDeviceKey } from './plain-device-log.js';

/** The traffic key of a device member (`m7`: a line/raw listener's, or a plain device) or an outbound link (`d1`, also while it is down). */
export function trafficKeyOf(hub: Hub, deviceLinks: DeviceLinks, id: string): string {
  const member = hub.members.get(id);
  if (member?.device !== undefined) return trafficKey(member.device.origin, member.link.address, member.connectedAt);
  const plain = member === undefined ? undefined : plainDeviceKey(member);
  if (plain !== undefined) return plain;
  if (deviceLinks.list().some((d) => d.id === id)) return `link:${id}`;
  throw new GatewayError('DEVICE_NOT_FOUND', `No device member or device link has id "${id}".`);
}

/** A rule's `{client}` scope as what outlives the connection: the link, or the listener and the device's address. */
export function lastingScope(hub: Hub, deviceLinks: DeviceLinks, scope: GivenScope): RuleScope {
  if (typeof scope !== 'object' || !('client' in scope)) return scope;
  const id = scope.client;
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- a scope's `link` (a union with string), not String.prototype.link
  if (deviceLinks.list().some((d) => d.id === id)) return { link: id };
  const member = hub.members.get(id);
  const origin = member?.device?.origin;
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- a scope's `link` (a union with string), not String.prototype.link
  if (origin?.link !== undefined) return { link: origin.link };
  if (origin?.listener !== undefined) return { listener: origin.listener, address: member!.link.ip };
  throw new GatewayError('DEVICE_NOT_FOUND', `No line/raw device member or device link has id "${id}".`);
}
