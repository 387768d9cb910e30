// Servers started on this machine for a run: a free loopback port, waiting until a child listens
// on it, and redis-server on one. The bench uses these, and so do the tests (test/helpers import
// this file), so both start Redis the same way; only the flags and how the child is spawned differ.
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

/** Debian's redis-server (`npm test` installs it when missing). */
export const REDIS_SERVER = '/usr/bin/redis-server';

/** A TCP port on 127.0.0.1 that was free a moment ago (for servers that must be told a port, not given 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
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

/**
 * Starts redis-server on loopback `port` with its files in `dir` and the caller's `flags` (the
 * persistence its purpose needs), through the caller's `spawnServer` (which decides where its output
 * goes, its core and priority), and resolves once it accepts connections; one that does not is killed.
 */
export async function launchRedis(
  spawnServer: (argv: string[]) => ChildProcess,
  { port, dir, flags, timeoutMs }: { port: number; dir: string; flags: string[]; timeoutMs: number },
): Promise<ChildProcess> {
  const child = spawnServer([REDIS_SERVER, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--protected-mode', 'no', ...flags]);
  try {
    await waitForPort(port, child, timeoutMs);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
  return child;
}
