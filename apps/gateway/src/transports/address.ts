/** `ip:port` as the classic online list showed it; IPv6 in brackets; IPv4-mapped IPv6 as IPv4. */
export function formatAddress(ip: string | undefined, port: number | undefined): { ip: string; address: string } {
  let host = ip ?? 'unknown';
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice(7);
  return { ip: host, address: host.includes(':') ? `[${host}]:${port ?? 0}` : `${host}:${port ?? 0}` };
}
