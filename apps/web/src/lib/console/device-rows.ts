// The Devices view's rows: every device the gateway knows, from three REST lists. Outbound
// links are listed by their link id (it outlives reconnects), with their member's counters
// while connected; members of line/raw listeners and plain devices by member id.
import type { ClientInfo, DeviceInfo, ListenerInfo } from '../rest-client.js';

export type DeviceKind = 'listener' | 'link' | 'plain';

/** One row of the Devices view. */
export interface DeviceRow {
  /** What the console opens: an outbound link's id (`d1`, it outlives reconnects) or a member id (`m7`). */
  id: string;
  name: string;
  kind: DeviceKind;
  /** The member id while connected. */
  memberId: string | null;
  /** A member's state (pending, joined, closed), a link's (connecting, connected, backoff, stopped), or `gone`. */
  state: string;
  online: boolean;
  /** The device's address as the gateway sees it (a link: the target it dials). */
  address: string;
  listener: string | null;
  framing: 'line' | 'raw' | 'frame';
  /** A line device's delimiter as escape text (`\r\n`); null for other framings. */
  delimiter: string | null;
  room: string | null;
  bytesIn: number | null;
  bytesOut: number | null;
  messagesIn: number | null;
  messagesOut: number | null;
  /** A link in backoff: when it dials again (ms since the epoch); else null. */
  nextDialAt: number | null;
}

function counters(client: ClientInfo | undefined): Pick<DeviceRow, 'bytesIn' | 'bytesOut' | 'messagesIn' | 'messagesOut'> {
  return {
    bytesIn: client?.bytesIn ?? null,
    bytesOut: client?.bytesOut ?? null,
    messagesIn: client?.messagesIn ?? null,
    messagesOut: client?.messagesOut ?? null,
  };
}

/** The rows, from the three lists: outbound links (with their member, when connected), listener members, plain devices. */
export function deviceRows(clients: readonly ClientInfo[], links: readonly DeviceInfo[], listeners: readonly ListenerInfo[]): DeviceRow[] {
  const rows: DeviceRow[] = [];
  const linkIds = new Set(links.map((l) => l.id));
  for (const link of links) {
    const member = clients.find((c) => c.outbound === link.id);
    rows.push({
      id: link.id,
      name: link.name,
      kind: 'link',
      memberId: link.memberId,
      state: link.state,
      online: link.state === 'connected',
      address: `${link.host}:${link.port}`,
      listener: null,
      framing: link.framing,
      delimiter: link.framing === 'line' ? (link.delimiter ?? '\\n') : null,
      room: link.room,
      nextDialAt: link.state === 'backoff' && link.nextDialAt !== null ? Date.parse(link.nextDialAt) : null,
      ...counters(member),
    });
  }
  for (const client of clients) {
    if (client.outbound !== undefined) {
      if (linkIds.has(client.outbound)) continue;
      // The link list is not in yet (or not ours to read): the member stands in for it.
    } else if (client.framing === undefined && !client.legacy) continue;
    const listener = listeners.find((l) => l.id === client.listener);
    const framing = client.framing ?? 'frame';
    rows.push({
      id: client.outbound ?? client.id,
      name: client.name,
      kind: client.outbound !== undefined ? 'link' : client.framing !== undefined ? 'listener' : 'plain',
      memberId: client.id,
      state: client.state ?? 'joined',
      online: client.state !== 'closed',
      address: client.address,
      listener: client.listener ?? null,
      framing,
      delimiter: framing === 'line' ? (listener?.delimiter ?? '\\n') : null,
      room: client.rooms[0] ?? null,
      nextDialAt: null,
      ...counters(client),
    });
  }
  const order: Record<DeviceKind, number> = { link: 0, listener: 1, plain: 2 };
  return rows.sort(
    (a, b) =>
      order[a.kind] - order[b.kind] ||
      (a.listener ?? '').localeCompare(b.listener ?? '', undefined, { numeric: true }) ||
      a.name.localeCompare(b.name, undefined, { numeric: true }),
  );
}
