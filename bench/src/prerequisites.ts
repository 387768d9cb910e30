import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

interface Package {
  pkg: string;
  program: string;
  /** Present when this says so (default: the program is on PATH). */
  present?: () => boolean;
}

/** Debian packages the peers (and scenario 8's Redis) come from, and the program each one installs. */
const PEERS: Package[] = [
  { pkg: 'ngircd', program: 'ngircd' },
  { pkg: 'websockify', program: 'websockify' },
  { pkg: 'redis-server', program: 'redis-server' },
];

/** Scenario 3's C receiver: gcc and the C library's headers (epoll). */
const C_TOOLCHAIN: Package[] = [
  { pkg: 'gcc', program: 'gcc' },
  { pkg: 'libc6-dev', program: 'the C library headers', present: () => onPath('gcc') && compiles('#include <sys/epoll.h>\nint main(void){return 0;}') },
];

function compiles(source: string): boolean {
  return spawnSync('gcc', ['-x', 'c', '-fsyntax-only', '-'], { input: source, stdio: ['pipe', 'ignore', 'ignore'] }).status === 0;
}

const isPresent = (p: Package): boolean => (p.present ? p.present() : onPath(p.program));

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(`${dir}/${program}`)) || existsSync(`/usr/sbin/${program}`);
}

/**
 * Makes sure ngircd, websockify and redis-server are installed (and gcc with the C headers when
 * `cToolchain`): as root, with apt-get (one update, one install); otherwise it stops with the command to run.
 */
export function ensurePeers(log: (line: string) => void, options: { cToolchain?: boolean } = {}): void {
  const packages = [...PEERS, ...(options.cToolchain ? C_TOOLCHAIN : [])];
  const missing = packages.filter((p) => !isPresent(p)).map((p) => p.pkg);
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
  const still = packages.filter((p) => !isPresent(p)).map((p) => p.program);
  if (still.length > 0) throw new Error(`apt-get finished but ${still.join(' and ')} still cannot be found on PATH.`);
}
