/**
 * The bench's C programs (bench/c/*.c) in tests: built with gcc for one test file, run as the
 * bench runs them, on a Node IPC channel (one JSON object per line each way). gcc comes with
 * `npm test` (scripts/run.mjs installs it when missing), so a missing gcc fails loudly here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

type Build = (log: (line: string) => void, out: string) => string;

/** Builds the program into a temporary folder before the file's tests and removes it after; the returned function gives its path. */
export function builtForThisFile(build: Build, name: string): () => string {
  let dir: string | undefined;
  let binary: string | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), `${name}-`));
    binary = build(() => {}, join(dir, name));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (binary === undefined) throw new Error(`${name} is built in beforeAll: ask for it inside a test`);
    return binary;
  };
}

/** Starts the program on an IPC channel; `stderr()` is what it has printed so far (for a failing test's message). */
export function spawnOnIpc(binary: string): { child: ChildProcess; stderr: () => string } {
  const child = spawn(binary, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let printed = '';
  child.stderr!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  return { child, stderr: () => printed };
}
