import net from 'node:net';

/**
 * Redis's own account of its work, read with `INFO` over a plain socket (no client library:
 * one inline command, one bulk reply). Scenario 8 reads it at the measured window's edges.
 */

/** Per command: calls and microseconds spent executing them (`INFO commandstats`). */
export type CommandStats = Record<string, { calls: number; usec: number }>;

export interface RedisInfo {
  commands: CommandStats;
  /** `INFO persistence`: AOF size and fsyncs Redis had to delay (with appendfsync always: none). */
  aofCurrentSize: number;
  aofDelayedFsync: number;
  /** `INFO stats`: commands processed, and pub/sub channels the gateways hear. */
  totalCommandsProcessed: number;
  pubsubChannels: number;
  /** `INFO clients`: connected clients (three per gateway). */
  connectedClients: number;
}

/** One `INFO <sections>` reply from the Redis on 127.0.0.1:port. */
export function redisInfoText(port: number, sections: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`INFO ${sections}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`INFO ${sections}\r\n`));
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const eol = data.indexOf('\r\n');
      if (eol < 0) return;
      if (data[0] !== 0x24) {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(`INFO ${sections}: ${data.toString('utf8', 0, eol)}`));
        return;
      }
      const length = Number(data.toString('latin1', 1, eol));
      if (data.length < eol + 2 + length) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString('utf8', eol + 2, eol + 2 + length));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export async function redisInfo(port: number): Promise<RedisInfo> {
  // Redis 7 takes several sections in one INFO.
  const text = await redisInfoText(port, 'commandstats persistence stats clients');
  const fields = new Map<string, string>();
  const commands: CommandStats = {};
  for (const line of text.split('\r\n')) {
    const c = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (c) {
      commands[c[1]!] = { calls: Number(c[2]), usec: Number(c[3]) };
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  const num = (key: string): number => Number(fields.get(key) ?? NaN);
  return {
    commands,
    aofCurrentSize: num('aof_current_size'),
    aofDelayedFsync: num('aof_delayed_fsync'),
    totalCommandsProcessed: num('total_commands_processed'),
    pubsubChannels: num('pubsub_channels'),
    connectedClients: num('connected_clients'),
  };
}

/** What happened between two readings: per command calls and µs, and the counters' growth. */
export function redisInfoDelta(before: RedisInfo, after: RedisInfo): RedisInfo {
  const commands: CommandStats = {};
  for (const [name, a] of Object.entries(after.commands)) {
    const b = before.commands[name] ?? { calls: 0, usec: 0 };
    if (a.calls > b.calls) commands[name] = { calls: a.calls - b.calls, usec: a.usec - b.usec };
  }
  return {
    commands,
    aofCurrentSize: after.aofCurrentSize - before.aofCurrentSize,
    aofDelayedFsync: after.aofDelayedFsync - before.aofDelayedFsync,
    totalCommandsProcessed: after.totalCommandsProcessed - before.totalCommandsProcessed,
    pubsubChannels: after.pubsubChannels,
    connectedClients: after.connectedClients,
  };
}
