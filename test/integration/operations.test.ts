import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { repoRoot, spawnGateway } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';

// Issue 14 against a running gateway: OpenAPI and /docs, Prometheus metrics, liveness and readiness.

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({ security: { adminToken: 'ops-token' } });
});
afterAll(async () => {
  await gateway.close();
});
const admin = { authorization: 'Bearer ops-token' };

/** Every route Fastify has, as full paths with their methods, read from printRoutes()'s tree. */
function registeredRoutes(tree: string): { path: string; methods: string[] }[] {
  const routes: { path: string; methods: string[] }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const at = line.search(/[^\s│├└─]/);
    if (at < 0) continue;
    const depth = Math.floor(at / 4);
    const [, segment, methods] = /^(\S+)(?: \(([^)]*)\))?/.exec(line.slice(at))!;
    stack.length = depth;
    stack.push(segment!);
    if (methods !== undefined) routes.push({ path: stack.join('').replace(/\/+/g, '/'), methods: methods.split(', ') });
  }
  return routes;
}

describe('OpenAPI', () => {
  it('/docs/json lists every /api route with its tag, error schema and, for admin routes, the security scheme; /docs renders', async () => {
    const doc = (await api(gateway, 'GET', '/docs/json')).body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.description).toContain('/protocol.md');
    expect(doc.components.securitySchemes.admin).toMatchObject({ type: 'http', scheme: 'bearer' });
    const apiRoutes = registeredRoutes(gateway.app.printRoutes({ commonPrefix: false })).filter((r) => r.path.startsWith('/api/'));
    expect(apiRoutes.length).toBeGreaterThan(25);
    for (const { path, methods } of apiRoutes) {
      const documented = doc.paths[path.replace(/:(\w+)/g, '{$1}')];
      expect(documented, path).toBeDefined();
      for (const method of methods.filter((m) => m !== 'HEAD')) {
        const operation = documented[method.toLowerCase()];
        expect(operation, `${method} ${path}`).toBeDefined();
        expect(operation.summary, `${method} ${path}`).toBeTruthy();
        expect(operation.tags, `${method} ${path}`).toHaveLength(1);
        expect(operation.responses['421'], `${method} ${path}: error responses`).toMatchObject({
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
        });
      }
    }
    expect(doc.paths['/api/clients/{id}/kick'].post.security).toEqual([{ admin: [] }]);
    expect(doc.paths['/api/rules'].get.security).toEqual([{ admin: [] }]);
    expect(doc.paths['/api/rooms'].get.security).toBeUndefined();
    const page = await fetch(`${gateway.httpUrl}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger');
    expect(await (await fetch(`${gateway.httpUrl}/protocol.md?raw=1`)).text()).toContain('# The Switchboard protocol');
  });
});

/** A small reader of the Prometheus text exposition format: samples by name and labels, and each family's TYPE. */
function parseExposition(text: string): { types: Map<string, string>; samples: { name: string; labels: Record<string, string>; value: number }[] } {
  const types = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) {
      expect(line).toMatch(/^# HELP \S+ .+/);
      continue;
    }
    // Values are floats as Go's ParseFloat reads them: NaN and Inf in any case (prom-client prints "Nan").
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.eE+-]+|nan|[+-]?inf)$/i.exec(line);
    expect(sample, `not an exposition line: ${line}`).not.toBeNull();
    const labels = Object.fromEntries([...(sample![2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    samples.push({ name: sample![1]!, labels, value: Number(sample![3]) });
  }
  return { types, samples };
}

describe('Prometheus metrics', () => {
  it('are admin-only, parse as the exposition format, and the counters move with traffic', async () => {
    expect((await fetch(`${gateway.httpUrl}/metrics`)).status).toBe(401);
    const scrape = async () => parseExposition(await (await fetch(`${gateway.httpUrl}/metrics`, { headers: admin })).text());
    const value = (m: Awaited<ReturnType<typeof scrape>>, name: string, labels: Record<string, string> = {}) =>
      m.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
    const before = await scrape();
    expect(before.types.get('switchboard_deliveries_total')).toBe('counter');
    expect(before.types.get('switchboard_fanout_latency_seconds')).toBe('histogram');
    expect(before.types.get('process_cpu_seconds_total')).toBe('counter'); // the default process metrics
    for (const name of before.types.keys()) if (before.types.get(name) === 'counter') expect(name).toMatch(/_total$/);

    const a = await Peer.tcp(gateway.tcpPort);
    const b = await Peer.ws(gateway.wsUrl);
    await a.hello('metrics-a');
    await b.hello('metrics-b');
    for (let i = 0; i < 20; i++) a.send({ type: 'message', text: `m${i}` });
    await b.next('message', (m) => m.text === 'm19');
    a.send({ type: 'join', room: 'not valid' });
    await a.next('error');
    const during = await scrape();
    expect(value(during, 'switchboard_connections', { transport: 'tcp', listener: 'default' })).toBe(1);
    expect(value(during, 'switchboard_connections', { transport: 'ws' })).toBe(1);
    expect(
      value(during, 'switchboard_frames_received_total', { transport: 'tcp' }) - value(before, 'switchboard_frames_received_total', { transport: 'tcp' }),
    ).toBeGreaterThanOrEqual(22);
    expect(
      value(during, 'switchboard_deliveries_total', { transport: 'ws' }) - value(before, 'switchboard_deliveries_total', { transport: 'ws' }),
    ).toBeGreaterThanOrEqual(20);
    expect(value(during, 'switchboard_errors_sent_total', { code: 'ROOM_INVALID' })).toBe(1);
    expect(value(during, 'switchboard_fanout_latency_seconds_count')).toBeGreaterThan(value(before, 'switchboard_fanout_latency_seconds_count'));
    expect(value(during, 'switchboard_history_write_seconds_count')).toBeGreaterThan(0);
    // The same totals, as JSON, for the admin panel's charts.
    const stats = (await api(gateway, 'GET', '/api/stats', undefined, admin)).body;
    expect(stats.connections).toEqual({ tcp: 1, ws: 1 });
    expect(stats.deliveries.ws).toBeGreaterThanOrEqual(20);
    expect(stats.errorsSent).toBeGreaterThanOrEqual(1);
    a.destroy();
    await b.next('presence', (p) => p.event === 'leave');
    expect(value(await scrape(), 'switchboard_members_disconnected_total', { reason: 'quit' })).toBeGreaterThanOrEqual(1);
    b.destroy();
  });
});

describe('liveness and readiness', () => {
  it('/readyz answers 503 from the moment a graceful shutdown starts, while /livez still answers', async () => {
    const process = await spawnGateway(['--data-dir', '', '--drain-ms', '2000']);
    try {
      expect((await fetch(`${process.httpUrl}/readyz`)).status).toBe(200);
      expect((await fetch(`${process.httpUrl}/livez`)).status).toBe(200);
      process.child.kill('SIGTERM');
      await sleep(300);
      const ready = await fetch(`${process.httpUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'not ready', reasons: ['shutting down'] });
      expect((await fetch(`${process.httpUrl}/livez`)).status).toBe(200);
    } finally {
      await process.stop();
    }
  });

  it('is not ready while a listener it should have is not bound', async () => {
    const listener = await api(gateway, 'POST', '/api/listeners', { port: 0, framing: 'line' }, admin);
    expect((await api(gateway, 'GET', '/readyz')).status).toBe(200);
    await api(gateway, 'POST', `/api/listeners/${listener.body.id}/stop`, null, admin);
    const ready = await api(gateway, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.reasons).toEqual([`listener ${listener.body.id} is not listening`]);
    await api(gateway, 'DELETE', `/api/listeners/${listener.body.id}`, undefined, admin);
    expect((await api(gateway, 'GET', '/readyz')).status).toBe(200);
  });
});

describe('the config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const main = join(repoRoot, 'apps/gateway/dist/main.js');
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });

  it('a broken file gives one clear line naming the file, the line and the field, and exit code 2', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{\n  "http-port": 8081,\n  "listeners": [\n    { "framing": "line", "port": "nine thousand" }\n  ]\n}\n');
    const bad = run(['--config', file]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe(`switchboard: ${file}:4: listeners.0.port must be integer.`);
    writeFileSync(file, '{\n  "http-port": 8081,\n  "admin-tokn": "x"\n}\n');
    expect(run(['--config', file]).stderr).toContain(`${file}:3: admin-tokn is not a setting this gateway has (see --help).`);
    writeFileSync(file, '{\n  "http-port": 8081,\n}\n');
    const syntax = run(['--config', file]);
    expect(syntax.status).toBe(2);
    expect(syntax.stderr).toMatch(new RegExp(`^switchboard: ${file.replace(/[.]/g, '\\.')}:3: not valid JSON`));
  });

  it('holds what the flags hold, listeners and device links included; env and flags override it; --print-config shows the result', async () => {
    const file = join(dir, 'good.json');
    writeFileSync(
      file,
      JSON.stringify({
        'http-port': 0,
        'tcp-port': 0,
        'data-dir': '',
        rate: 777,
        'device-targets': '127.0.0.1',
        listeners: [{ id: 'plc', framing: 'line', port: 0, delimiter: '\\r\\n', room: 'plc' }],
      }),
    );
    const printed = run(['--config', file, '--rate', '888', '--print-config'], { SWITCHBOARD_RATE_BURST: '999' });
    expect(printed.status).toBe(0);
    const shown = JSON.parse(printed.stdout);
    expect(shown).toMatchObject({ rate: 888, 'rate-burst': 999, 'device-targets': '127.0.0.1', listeners: [{ id: 'plc', framing: 'line' }] });
    const running = await spawnGateway(['--config', file]);
    try {
      const listeners = await (await fetch(`${running.httpUrl}/api/listeners`)).json();
      expect(listeners.listeners).toContainEqual(expect.objectContaining({ id: 'plc', framing: 'line', delimiter: '\\r\\n', listening: true }));
    } finally {
      await running.stop();
    }
  });
});
