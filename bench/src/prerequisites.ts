import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian packages the peers (and scenario 8's Redis) come from, and the program each one installs. */
const PACKAGES = [
  { pkg: 'ngircd', program: 'ngircd' },
  { pkg: 'websockify', program: 'websockify' },
  { pkg: 'redis-server', program: 'redis-server' },
] as const;

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(`${dir}/${program}`)) || existsSync(`/usr/sbin/${program}`);
}

/**
 * Makes sure ngircd, websockify and redis-server are installed: as root, with apt-get (one update, one
 * install); otherwise it stops with the command to run.
 */
export function ensurePeers(log: (line: string) => void): void {
  const missing = PACKAGES.filter((p) => !onPath(p.program)).map((p) => p.pkg);
  if (missing.length === 0) return;
  const command = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `The bench needs ${missing.join(' and ')} (Debian packages), which are not installed.\nInstall them with: sudo apt-get update && sudo ${command}`,
    );
  }
  if (!onPath('apt-get')) {
    throw new Error(`The bench needs the Debian packages ${missing.join(', ')}, and this machine has no apt-get. Install them by other means and run again.`);
  }
  log(`Installing ${missing.join(' and ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', ...missing]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (result.status !== 0)
      throw new Error(`apt-get ${args.join(' ')} failed (exit ${result.status ?? result.signal}); install ${missing.join(' ')} by hand and run again.`);
  }
  const still = PACKAGES.filter((p) => !onPath(p.program)).map((p) => p.program);
  if (still.length > 0) throw new Error(`apt-get finished but ${still.join(' and ')} still cannot be found on PATH.`);
}
