#!/usr/bin/env node
// The one entry point behind `npm start`, `npm test`, `npm run client`, `npm run bench`,
// `npm run build`, `npm run typecheck`, `npm run lint` and `npm run format`. On a fresh machine with only Node and npm it installs
// what is missing (pnpm through npx, the workspace's packages, Chromium for the browser tests),
// rebuilds what is stale, then runs. Plain Node, no dependencies: it runs before anything is installed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const PNPM = ['-y', 'pnpm@10.34.8'];
const CHROMIUM = '/usr/bin/chromium';
const bin = (name) => join(root, 'node_modules', '.bin', name);

function say(message) {
  console.log(`\x1b[36m▸ ${message}\x1b[0m`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`\n✗ ${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
    printTimes();
    process.exit(result.status ?? 1);
  }
}

/** How long each phase took, printed at the end (and on a failure): where `npm test`'s time goes. */
const times = [];

function timed(name, fn) {
  const started = Date.now();
  fn();
  times.push([name, (Date.now() - started) / 1000]);
}

function printTimes() {
  if (times.length === 0) return;
  const width = Math.max(...times.map(([name]) => name.length));
  console.log('\nphase'.padEnd(width + 1) + '  seconds');
  for (const [name, seconds] of times) console.log(`${name.padEnd(width)}  ${seconds.toFixed(1).padStart(7)}`);
}

/** Runs a command with its output kept, to print in one piece: for steps that run beside each other. */
function runQuiet(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ status: 1, output: `${output}${error.message}\n` }));
    child.on('close', (status, signal) => resolve({ status: status ?? 1, output, signal }));
  });
}

/**
 * Runs lanes side by side, each lane's steps one after another; prints each step's output when it
 * ends and exits when any step failed (after every lane has stopped, so no output is lost).
 * For checks that do not depend on each other: two cores do them in about half the time.
 */
async function runLanes(lanes) {
  let failed = 0;
  await Promise.all(
    lanes.map(async (steps) => {
      for (const { name, command, args, options } of steps) {
        const started = Date.now();
        const { status, output, signal } = await runQuiet(command, args, options);
        times.push([name, (Date.now() - started) / 1000]);
        say(`${name}: ${status === 0 ? 'passed' : 'FAILED'}`);
        if (output.trim() !== '') process.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
        if (status !== 0) {
          console.error(`\n✗ ${command} ${args.join(' ')} exited with ${status ?? signal}`);
          failed = status || 1;
          return;
        }
      }
    }),
  );
  if (failed !== 0) {
    printTimes();
    process.exit(failed);
  }
}

/** Newest modification time of any file under these paths (skipping node_modules and dist). */
function newest(paths) {
  let latest = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) if (entry !== 'node_modules' && entry !== 'dist') visit(join(path, entry));
    } else latest = Math.max(latest, stat.mtimeMs);
  };
  paths.forEach((p) => visit(join(root, p)));
  return latest;
}

function ensureInstalled() {
  const marker = join(root, 'node_modules', '.modules.yaml');
  const manifests = [
    'pnpm-lock.yaml',
    'package.json',
    'pnpm-workspace.yaml',
    'apps/gateway/package.json',
    'apps/web/package.json',
    'packages/protocol/package.json',
    'packages/client/package.json',
    'test/package.json',
    'bench/package.json',
  ];
  if (existsSync(marker) && newest(manifests) <= statSync(marker).mtimeMs) return;
  say('Installing packages (pnpm through npx)');
  const frozen = existsSync(join(root, 'pnpm-lock.yaml')) ? ['--frozen-lockfile'] : [];
  run('npx', [...PNPM, 'install', ...frozen]);
}

function buildServer() {
  say('Compiling TypeScript (protocol, client, gateway, bench)');
  run(bin('tsc'), ['-b']);
}

const webOutput = join(root, 'apps/web/dist/index.html');
const webInputs = ['apps/web/src', 'apps/web/index.html', 'apps/web/vite.config.ts', 'apps/web/package.json', 'packages/protocol/src'];
const webIsStale = () => !existsSync(webOutput) || newest(webInputs) > statSync(webOutput).mtimeMs;
const viteBuild = () => ({
  name: 'build the page (vite build)',
  command: join(root, 'apps/web/node_modules/.bin/vite'),
  args: ['build', '--logLevel', 'warn'],
  options: { cwd: join(root, 'apps/web') },
});

function buildWeb({ force = false } = {}) {
  if (!force && !webIsStale()) return;
  say('Building the web page (Vite)');
  const step = viteBuild();
  run(step.command, step.args, step.options);
}

const SYSTEM_PYTHON = '/usr/bin/python3';
const pythonImports = (modules) => () => existsSync(SYSTEM_PYTHON) && spawnSync(SYSTEM_PYTHON, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0;

/**
 * Debian packages the tests run for real: Chromium (browser tests), redis-server, redis-cli and HAProxy
 * (several gateways on one Redis or a Redis Cluster, behind the README's load balancer), Python with venv, pytest,
 * setuptools and websockets (clients/python), Mono's mcs and runtime (clients/csharp), gcc (the bench's C
 * receiver, test/integration/c-receiver.test.ts). Each with
 * a file it installs, or a check that it is there.
 */
const TEST_PACKAGES = [
  ['chromium', CHROMIUM],
  ['redis-server', '/usr/bin/redis-server'],
  // redis-cli forms the Redis Cluster of the cluster tests (redis-server depends on it; checked in case it was removed).
  ['redis-tools', '/usr/bin/redis-cli'],
  ['haproxy', '/usr/sbin/haproxy'],
  ['python3-venv', pythonImports('venv, ensurepip')],
  ['python3-pytest', pythonImports('pytest')],
  ['python3-setuptools', pythonImports('setuptools')],
  ['python3-websockets', pythonImports('websockets')],
  ['mono-mcs', '/usr/bin/mcs'],
  ['mono-runtime', '/usr/bin/mono'],
  ['gcc', '/usr/bin/gcc'],
  ['libc6-dev', '/usr/include/stdio.h'],
];

function ensureTestPackages() {
  const installed = (check) => (typeof check === 'function' ? check() : existsSync(check));
  const missing = TEST_PACKAGES.filter(([, check]) => !installed(check)).map(([name]) => name);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    console.error(`✗ The tests need Debian's ${missing.join(' and ')}. Install with: sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  say(`Installing ${missing.join(' and ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update'], { env });
  run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
}

/**
 * The Python client's tests: pytest in a virtual environment (clients/python/.venv, made once,
 * seeing the system's pytest and websockets) with the package installed from the tree, against
 * gateways the tests start from apps/gateway/dist.
 */
function testPythonClient() {
  const venv = join(root, 'clients/python/.venv');
  const python = join(venv, 'bin/python');
  if (!existsSync(python)) run(SYSTEM_PYTHON, ['-m', 'venv', '--system-site-packages', venv]);
  // No build isolation and no index: everything the build needs is already on the machine.
  run(python, ['-m', 'pip', 'install', '--quiet', '--no-index', '--no-build-isolation', '--no-deps', './clients/python']);
  run(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'clients/python/tests']);
}

const svelteCheck = () => ({
  name: 'typecheck the page (svelte-check)',
  command: join(root, 'apps/web/node_modules/.bin/svelte-check'),
  args: ['--tsconfig', './tsconfig.json', '--fail-on-warnings', '--output', 'human'],
  options: { cwd: join(root, 'apps/web') },
});
const typecheckTests = () => ({ name: 'typecheck tests (tsc -p tsconfig.tests.json)', command: bin('tsc'), args: ['-p', 'tsconfig.tests.json'] });
const prettierCheck = () => ({ name: 'formatting (prettier --check)', command: bin('prettier'), args: ['--check', '--log-level', 'warn', '.'] });
// ESLint's type-checked rules read the workspace packages' declarations: after `tsc -b`.
const eslint = () => ({ name: 'lint (eslint)', command: bin('eslint'), args: ['--max-warnings', '0', '.'] });

function typecheck() {
  say('Typechecking sources, tests and the Svelte page');
  run(bin('tsc'), ['-b']);
  for (const step of [typecheckTests(), svelteCheck()]) run(step.command, step.args, step.options);
}

/** Formatting (Prettier, checked, never rewritten here) and the linter (ESLint, type-checked rules): `npm run format` rewrites. */
function lint() {
  say('Checking formatting (Prettier) and lint (ESLint)');
  for (const step of [prettierCheck(), eslint()]) run(step.command, step.args, step.options);
}

/** Runs a long-lived child with our stdio, forwarding SIGINT/SIGTERM so it can shut down gracefully. */
function exec(command, args) {
  const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const [task = 'start', ...rest] = process.argv.slice(2);
// npm passes what follows `--` through; accept it with or without.
const args = rest[0] === '--' ? rest.slice(1) : rest;

switch (task) {
  case 'start':
    ensureInstalled();
    buildServer();
    buildWeb();
    exec(process.execPath, ['apps/gateway/dist/main.js', ...args]);
    break;
  case 'client':
    ensureInstalled();
    buildServer();
    exec(process.execPath, ['packages/client/dist/cli.js', ...args]);
    break;
  case 'build':
    ensureInstalled();
    buildServer();
    buildWeb({ force: true });
    break;
  case 'typecheck':
    ensureInstalled();
    typecheck();
    break;
  case 'lint':
    ensureInstalled();
    lint();
    break;
  case 'format':
    ensureInstalled();
    run(bin('prettier'), ['--write', '--log-level', 'warn', '.']);
    break;
  case 'test': {
    const started = Date.now();
    timed('install check (pnpm, Debian packages)', () => {
      ensureInstalled();
      ensureTestPackages();
    });
    timed('compile (tsc -b)', buildServer);
    // Independent checks in two lanes, about equally long: each is one process on one core.
    say('Typechecking tests and the page, building the page, checking formatting and lint (two lanes side by side)');
    await runLanes([
      [typecheckTests(), svelteCheck(), ...(webIsStale() ? [viteBuild()] : [])],
      [prettierCheck(), eslint()],
    ]);
    // Tests that measure the gateway's memory run on their own, after the rest, so other test
    // files' load does not decide what they measure.
    const alone = ['test/integration/churn-soak.test.ts', 'test/integration/console.test.ts'];
    const only = args.filter((a) => !a.startsWith('-'));
    timed('unit and integration tests (vitest)', () => {
      say('Unit and integration tests (vitest, real sockets)');
      run(bin('vitest'), ['run', ...args, ...(only.length === 0 ? alone.flatMap((file) => ['--exclude', file]) : [])]);
    });
    if (only.length === 0) {
      // One at a time: two in one run would still load each other.
      for (const file of alone) {
        timed(`on its own: ${file}`, () => {
          say(`On its own: ${file} (vitest)`);
          run(bin('vitest'), ['run', ...args, file]);
        });
      }
      timed('Python client (pytest)', () => {
        say('Python client (pytest in clients/python/.venv, real gateways)');
        testPythonClient();
      });
    }
    timed('end-to-end tests (Playwright)', () => {
      say('End-to-end tests (Playwright driving Chromium)');
      run(bin('playwright'), ['test']);
    });
    printTimes();
    say(`All tests passed in ${Math.round((Date.now() - started) / 1000)} s`);
    break;
  }
  case 'bench':
    ensureInstalled();
    buildServer();
    exec(process.execPath, ['bench/dist/run-bench.js', ...args]);
    break;
  default:
    console.error(`unknown task "${task}": use start, test, client, bench, build or typecheck`);
    process.exit(2);
}
