/**
 * Microseconds on CLOCK_MONOTONIC. process.hrtime reads the same system-wide clock in every
 * process on the machine, so a send time stamped by the sender process and a receive time
 * taken by a receiver process can be subtracted directly.
 */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves at a given nowUs() instant (at once if it has passed). */
export function sleepUntil(us: number): Promise<void> {
  return sleep(Math.max(0, (us - nowUs()) / 1000));
}
