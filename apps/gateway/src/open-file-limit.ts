import { readFileSync } from 'node:fs';

/** Descriptors kept free for HTTP, the database and logs when members fill the rest. */
export const DESCRIPTOR_RESERVE = 64;

/**
 * The process's soft limit on open files (`ulimit -n`), from /proc on Linux; Infinity where it
 * cannot be read. When accept() runs out of descriptors, libuv closes the new connection
 * silently, so the gateway refuses members itself before that point and says why.
 */
export function openFileLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (match === null || match[1] === 'unlimited') return Infinity;
    return Number(match[1]);
  } catch {
    return Infinity;
  }
}
