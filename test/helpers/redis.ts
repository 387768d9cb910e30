import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, launchRedis } from '../../bench/src/local-servers.js';

/** Debian's redis-server (`npm test` installs it when missing). */
export { REDIS_SERVER } from '../../bench/src/local-servers.js';

export interface RedisProcess {
  url: string;
  port: number;
  dir: string;
  /** Stops it (SIGTERM: a clean shutdown that keeps the AOF) and waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory (it reloads the AOF). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
  /** Redis's own CPU time so far (user + system, seconds), from /proc. */
  cpuSeconds(): number;
}

/**
 * A real redis-server on a free loopback port, with its own temporary directory. `appendonly
 * yes` with `appendfsync always` by default: the persistence the cluster's no-loss promise needs.
 */
export async function startRedis(options: { appendfsync?: 'always' | 'everysec' } = {}): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-redis-'));
  const flags = ['--save', '', '--appendonly', 'yes', '--appendfsync', options.appendfsync ?? 'always'];
  let child: ChildProcess | undefined;
  let log = '';
  const spawnServer = ([command, ...args]: string[]): ChildProcess => {
    child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk) => (log += chunk));
    child.stderr!.on('data', (chunk) => (log += chunk));
    return child;
  };
  const launch = async (): Promise<void> => {
    try {
      await launchRedis(spawnServer, { port, dir, flags, timeoutMs: 10_000 });
    } catch (error) {
      throw new Error(`redis-server: ${(error as Error).message}\n${log}`, { cause: error });
    }
  };
  const halt = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    const timer = setTimeout(() => running.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop: halt,
    restart: launch,
    async close() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    cpuSeconds() {
      const pid = child?.pid;
      if (pid === undefined) return 0;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
  };
}
