/**
 * What `--redis-url` names: one Redis (as it always has), or a Redis Cluster given by seed nodes.
 * - `redis://host:port[/db]` or `rediss://…` (TLS): one Redis, the URL passed to node-redis unchanged.
 * - `redis+cluster://host:port` (or `rediss+cluster://`): a Redis Cluster found from that seed node;
 *   several seeds comma-separated, `redis+cluster://h1:p1,h2:p2`, each taking the scheme of the
 *   first when it has none of its own.
 * - a comma-separated list of URLs, `redis://h1:p1,redis://h2:p2`: a cluster with those seeds.
 * A seed only tells the client where to ask for the cluster's map; any live one will do.
 * Plain data and no imports: config.ts validates with it and the connection module reads it.
 */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'cluster';
      seeds: { host: string; port: number }[];
      tls: boolean;
      username: string | undefined;
      password: string | undefined;
    };

const SCHEMES = new Map([
  ['redis:', { tls: false, cluster: false }],
  ['rediss:', { tls: true, cluster: false }],
  ['redis+cluster:', { tls: false, cluster: true }],
  ['rediss+cluster:', { tls: true, cluster: true }],
]);

/** Parses `--redis-url`; throws an Error whose message says what is wrong (config.ts turns it into a ConfigError). */
export function parseRedisUrl(value: string): RedisTarget {
  const items = value.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new Error('--redis-url has an empty entry in its comma-separated list.');
  const firstScheme = /^([a-z+]+:)\/\//i.exec(items[0]!)?.[1]?.toLowerCase();
  const parsed = items.map((item) => {
    // A later seed without a scheme (`redis+cluster://h1:1,h2:2`) takes the first one's.
    const text = /^[a-z+]+:\/\//i.test(item) || firstScheme === undefined ? item : `${firstScheme}//${item}`;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Error(`--redis-url: "${item}" is not a URL (redis://host:port, rediss://, redis+cluster:// or rediss+cluster://).`);
    }
    const scheme = SCHEMES.get(url.protocol);
    if (scheme === undefined) throw new Error('--redis-url must start with redis://, rediss://, redis+cluster:// or rediss+cluster://.');
    return { url, text, ...scheme };
  });
  const cluster = parsed.length > 1 || parsed.some((p) => p.cluster);
  if (!cluster) return { kind: 'single', url: value.trim() };

  if (new Set(parsed.map((p) => p.tls)).size > 1) throw new Error('--redis-url: the seeds of one cluster are all TLS (rediss) or all not.');
  const credentials = new Set(parsed.filter((p) => p.url.username !== '' || p.url.password !== '').map((p) => `${p.url.username}:${p.url.password}`));
  if (credentials.size > 1) throw new Error('--redis-url: the seeds of one cluster give different credentials.');
  const seeds = parsed.map(({ url, text }) => {
    if (url.hostname === '') throw new Error(`--redis-url: "${text}" names no host.`);
    // A cluster has database 0 only.
    if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0')
      throw new Error('--redis-url: a Redis Cluster has only database 0 (no /db in its URLs).');
    if (url.search !== '' || url.hash !== '') throw new Error(`--redis-url: "${text}" has a query or fragment; a seed is host:port only.`);
    // WHATWG URL keeps IPv6 brackets in hostname; a socket wants the bare address.
    return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 6379 : Number(url.port) };
  });
  const { username, password } = parsed.find((p) => p.url.username !== '' || p.url.password !== '')?.url ?? { username: '', password: '' };
  return {
    kind: 'cluster',
    seeds,
    tls: parsed[0]!.tls,
    username: username === '' ? undefined : decodeURIComponent(username),
    password: password === '' ? undefined : decodeURIComponent(password),
  };
}
