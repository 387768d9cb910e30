// Servers started on this machine for a run: a free loopback port, waiting until a child listens
// on it, and redis-server on one. The bench uses these, and so do the tests (test/helpers import
// this file), so both start Redis the same way; only the flags and how the child is spawned differ.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Debian's redis-server (`npm test` installs it when missing). */
export const REDIS_SERVER = '/usr/bin/redis-server';

/** The lowest port the kernel hands out for listen(0) and as the source port of an outgoing connection. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low)) return low;
  } catch {
    // not Linux: assume its default range
  }
  return 32768;
}

function listenOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/** Ports this process has handed out, so two calls never name the same one. */
const handedOut = new Set<number>();
const LOWEST_PORT = 10_000;
/** Read once: the range does not change while the bench or a test file runs. */
const EPHEMERAL_LOW = ephemeralLow();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for servers that must be told a port
 * (redis-server, a gateway's `--port`). Chosen below the kernel's ephemeral range: a port from
 * listen(0) lies in that range, where any connection on the machine may take it as its source port
 * before the server binds it (a fresh-clone CI met "bind: Address already in use" that way, on a
 * Redis Cluster bus port).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50 && EPHEMERAL_LOW - LOWEST_PORT >= 1000; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (EPHEMERAL_LOW - LOWEST_PORT));
    if (handedOut.has(port) || (await listenOn(port)) === undefined) continue;
    handedOut.add(port);
    return port;
  }
  const port = await listenOn(0);
  if (port === undefined) throw new Error('no free TCP port on 127.0.0.1');
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Resolves once something accepts connections on the loopback port; rejects if the child exits first or time runs out. */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.exitCode ?? child.signalCode} before listening on ${port}`);
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listening on port ${port} after ${timeoutMs} ms`);
}

/** redis-server's arguments for loopback `port`, its files in `dir`, and the caller's `flags`. */
export function redisServerArgs(port: number, dir: string, flags: string[]): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--protected-mode', 'no', ...flags];
}

/**
 * Starts redis-server on loopback `port` with its files in `dir` and the caller's `flags` (the
 * persistence its purpose needs), through the caller's `spawnServer` (which decides where its output
 * goes, its core and priority), and resolves once it accepts connections; one that does not is killed.
 */
export async function launchRedis(
  spawnServer: (argv: string[]) => ChildProcess,
  { port, dir, flags, timeoutMs }: { port: number; dir: string; flags: string[]; timeoutMs: number },
): Promise<ChildProcess> {
  const child = spawnServer([REDIS_SERVER, ...redisServerArgs(port, dir, flags)]);
  try {
    await waitForPort(port, child, timeoutMs);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
  return child;
}
