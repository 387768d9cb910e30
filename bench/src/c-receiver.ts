import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BENCH_DIR, WORK_DIR } from './systems.js';

/** Scenario 3's receivers in C (epoll, 64 KiB reads): the source, and where the bench builds it. */
export const C_RECEIVER_SOURCE = join(BENCH_DIR, 'c', 'receiver.c');
export const C_RECEIVER = join(WORK_DIR, 'c-receiver');

/** Scenario 7's client that writes each message on its own, in C (one send() per masked WebSocket message). */
export const C_PIPE_CLIENT_SOURCE = join(BENCH_DIR, 'c', 'pipe-client.c');
export const C_PIPE_CLIENT = join(WORK_DIR, 'c-pipe-client');

/** Builds the C receiver with gcc (every invocation: it takes a second) into `out`; throws with gcc's message when it fails. */
export function buildCReceiver(log: (line: string) => void, out = C_RECEIVER): string {
  return buildC('the C receiver', C_RECEIVER_SOURCE, out, log);
}

/** Builds scenario 7's C client the same way. */
export function buildCPipeClient(log: (line: string) => void, out = C_PIPE_CLIENT): string {
  return buildC("scenario 7's C client", C_PIPE_CLIENT_SOURCE, out, log);
}

function buildC(what: string, source: string, out: string, log: (line: string) => void): string {
  mkdirSync(dirname(out), { recursive: true });
  const args = ['-O2', '-std=c11', '-Wall', '-Wextra', '-Werror', '-o', out, source, '-lm'];
  const result = spawnSync('gcc', args, { encoding: 'utf8' });
  if (result.error) throw new Error(`could not run gcc to build ${what}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`gcc ${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${result.stderr}`);
  log(`Built ${what}: ${out} (gcc ${args.slice(0, 5).join(' ')})`);
  return out;
}
