import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import { trafficKey } from './accept-device.js';
import type { GivenScope, RuleScope } from './auto-replies.js';
import type { DeviceLinks } from './device-links.js';
import { plainDeviceKey } from './plain-device-log.js';

/** The traffic key of a device member (`m7`: a line/raw listener's, or a plain device) or an outbound link (`d1`, also while it is down). */
export function trafficKeyOf(hub: Hub, deviceLinks: DeviceLinks, id: string): string {
  const member = hub.members.get(id);
  const link = member?.link;
  if (link?.device !== undefined) return trafficKey(link.device, link.address, member!.connectedAt);
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
  const link = hub.members.get(id)?.link;
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- a scope's `link` (a union with string), not String.prototype.link
  if (link?.device?.link !== undefined) return { link: link.device.link };
  if (link?.device?.listener !== undefined) return { listener: link.device.listener, address: link.ip };
  throw new GatewayError('DEVICE_NOT_FOUND', `No line/raw device member or device link has id "${id}".`);
}
