import net from 'node:net';

/** An address with `::ffff:` stripped, so IPv4 clients on a dual-stack socket match IPv4 rules. */
export function plainAddress(ip: string): string {
  return ip.toLowerCase().startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

/** An address or a block of them, as the platform parses it (IPv4 or IPv6). */
export interface AddressRule {
  address: string;
  family: 'ipv4' | 'ipv6';
  /** null: the one address. */
  prefix: number | null;
}

/**
 * `10.1.2.3`, `fd00::7`, `10.0.0.0/8`, `2001:db8::/32` → a rule; undefined when it does not
 * parse by `node:net`'s rules (`127.0.0.040`, `10.0.0.0/8/8`, a prefix past the family's width,
 * a zone index), so nothing is accepted that could never match.
 */
export function parseAddressRule(text: string, options: { prefix: 'required' | 'optional' | 'none' } = { prefix: 'optional' }): AddressRule | undefined {
  const parts = text.trim().split('/');
  if (parts.length > 2) return undefined;
  const [address, bits] = parts as [string, string | undefined];
  if (bits === undefined ? options.prefix === 'required' : options.prefix === 'none') return undefined;
  const version = net.isIP(address);
  if (version === 0 || address.includes('%')) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? null : Number(bits);
  if (prefix !== null && prefix > (family === 'ipv4' ? 32 : 128)) return undefined;
  return { address, family, prefix };
}

/** Built lists by rule text: bans are checked on every hello, and a rule seldom changes. */
const built = new Map<string, net.BlockList>();
const BUILT_MAX = 1024;

function blockListOf(rule: AddressRule): net.BlockList {
  const key = `${rule.address}/${rule.prefix ?? ''}`;
  let list = built.get(key);
  if (list === undefined) {
    list = new net.BlockList();
    if (rule.prefix === null) list.addAddress(rule.address, rule.family);
    else list.addSubnet(rule.address, rule.prefix, rule.family);
    if (built.size >= BUILT_MAX) built.clear();
    built.set(key, list);
  }
  return list;
}

/**
 * Whether `ip` is `rule` or inside it, by `node:net` `BlockList`: IPv4 and IPv6, and an IPv4
 * client seen as `::ffff:a.b.c.d` matches IPv4 rules (and IPv4-mapped IPv6 rules match it).
 */
export function addressMatches(ip: string, rule: AddressRule): boolean {
  const address = plainAddress(ip);
  const version = net.isIP(address);
  if (version === 0) return false;
  return blockListOf(rule).check(address, version === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Whether `ip` is in `block/prefix` (prefix null: the one address). A block that is not an IP
 * address (a host name in --device-targets) matches that same name only.
 */
export function inBlock(ip: string, block: string, prefix: number | null): boolean {
  const rule = parseAddressRule(prefix === null ? block : `${block}/${prefix}`);
  if (rule === undefined) return plainAddress(ip).toLowerCase() === block.toLowerCase();
  return addressMatches(ip, rule);
}

/** `10.0.0.0/8` → its parts; undefined when it is not a CIDR block. */
export function parseCidr(text: string): { block: string; prefix: number } | undefined {
  const rule = parseAddressRule(text, { prefix: 'required' });
  return rule === undefined ? undefined : { block: rule.address, prefix: rule.prefix! };
}
