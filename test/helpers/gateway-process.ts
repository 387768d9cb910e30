import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const mainJs = join(repoRoot, 'apps/gateway/dist/main.js');

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  httpUrl: string;
  tcpPort: number;
  output: () => string;
  /** Sends a signal and waits for the process to exit; resolves with its exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  rssBytes(): number;
  openDescriptors(): number;
}

/**
 * The real gateway binary (apps/gateway/dist/main.js, built by `tsc -b`) in its own process,
 * so tests can signal it and read its memory and descriptors from /proc.
 */
export async function spawnGateway(args: string[], env: Record<string, string> = {}, options: { openFileLimit?: number } = {}): Promise<GatewayProcess> {
  // A data directory of its own unless the test names one (or its config file does): the default,
  // ./data in the repository, would carry stored links, rules and history from one test (and one
  // run) into the next.
  const ownData = args.includes('--data-dir') || args.includes('--config') ? [] : ['--data-dir', mkdtempSync(join(tmpdir(), 'switchboard-gateway-'))];
  const argv = [mainJs, '--http-port', '0', '--tcp-port', '0', '--log-level', 'warn', ...ownData, ...args];
  // `ulimit -n` for the gateway alone, through a shell that then becomes the gateway.
  const [command, commandArgs] =
    options.openFileLimit === undefined
      ? [process.execPath, argv]
      : ['/bin/sh', ['-c', `ulimit -n ${options.openFileLimit} && exec "$0" "$@"`, process.execPath, ...argv]];
  const child = spawn(command, commandArgs, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const banner = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${output}`)), 15_000);
    const check = () => {
      const match = output.match(/page https?:\/\/[^:]+:(\d+)\/.*TCP [^:\s]+:(\d+)/);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve(match);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => reject(new Error(`gateway exited with ${code}:\n${output}`)));
  });
  const pid = child.pid!;
  return {
    child,
    pid,
    httpUrl: `http://127.0.0.1:${banner[1]}`,
    tcpPort: Number(banner[2]),
    output: () => output,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    rssBytes() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    openDescriptors() {
      return readdirSync(`/proc/${pid}/fd`).length;
    },
  };
}
