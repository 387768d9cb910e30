import net from 'node:net';

/** An address with `::ffff:` stripped, so IPv4 clients on a dual-stack socket match IPv4 rules. */
export function plainAddress(ip: string): string {
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

/** Whether `ip` is in `block/prefix` (IPv4 blocks; IPv6 rules match the exact address). */
export function inBlock(ip: string, block: string, prefix: number | null): boolean {
  const address = plainAddress(ip);
  if (prefix === null || !net.isIPv4(block) || !net.isIPv4(address)) return address.toLowerCase() === block.toLowerCase();
  const value = (text: string): number => text.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const size = 2 ** (32 - Math.min(32, prefix));
  return Math.floor(value(address) / size) === Math.floor(value(block) / size);
}

/** `10.0.0.0/8` → its parts; undefined when it is not a CIDR block. */
export function parseCidr(text: string): { block: string; prefix: number } | undefined {
  const [block, bits] = text.split('/');
  const prefix = Number(bits);
  if (block === undefined || !net.isIP(block) || !Number.isInteger(prefix) || prefix < 0 || prefix > (net.isIPv4(block) ? 32 : 128)) return undefined;
  return { block, prefix };
}
