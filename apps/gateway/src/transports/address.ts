import type { Socket } from 'node:net';

/** `ip:port` as the classic online list showed it; IPv6 in brackets; IPv4-mapped IPv6 as IPv4. */
export function formatAddress(ip: string | undefined, port: number | undefined): { ip: string; address: string } {
  let host = ip ?? 'unknown';
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice(7);
  return { ip: host, address: host.includes(':') ? `[${host}]:${port ?? 0}` : `${host}:${port ?? 0}` };
}

/**
 * The peer of an accepted socket, read once for its link. Node keeps what it read in an object
 * on the socket (`_peername`: address, family, port), some 60 bytes for as long as the connection
 * lives; the link keeps its own copy, so Node's is let go (a later `remoteAddress` asks the OS again).
 */
export function peerOf(socket: Socket): { ip: string; address: string } {
  const peer = formatAddress(socket.remoteAddress, socket.remotePort);
  const cached = socket as Socket & { _peername?: unknown };
  if (cached._peername !== undefined) cached._peername = undefined;
  return peer;
}
