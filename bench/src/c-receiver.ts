import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BENCH_DIR, WORK_DIR } from './systems.js';

/** Scenario 3's receivers in C (epoll, 64 KiB reads): the source, and where the bench builds it. */
export const C_RECEIVER_SOURCE = join(BENCH_DIR, 'c', 'receiver.c');
export const C_RECEIVER = join(WORK_DIR, 'c-receiver');

/** Builds the C receiver with gcc (every invocation: it takes a second) into `out`; throws with gcc's message when it fails. */
export function buildCReceiver(log: (line: string) => void, out = C_RECEIVER): string {
  mkdirSync(dirname(out), { recursive: true });
  const args = ['-O2', '-std=c11', '-Wall', '-Wextra', '-Werror', '-o', out, C_RECEIVER_SOURCE, '-lm'];
  const result = spawnSync('gcc', args, { encoding: 'utf8' });
  if (result.error) throw new Error(`could not run gcc to build the C receiver: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`gcc ${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${result.stderr}`);
  log(`Built the C receiver: ${out} (gcc ${args.slice(0, 5).join(' ')})`);
  return out;
}
