import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/gateway.js';
import { repoRoot, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { Peer, sleep } from '../helpers/peer.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

/**
 * The HAProxy configuration of docs/several-gateways.md, as printed there (ports moved to free ones), in front of
 * three gateways on one Redis: what an operator copies works.
 */
const HAPROXY = '/usr/sbin/haproxy';

let redis: RedisProcess;
const gateways: GatewayProcess[] = [];
let haproxy: ChildProcess | undefined;
let dir: string;
const front = { tcp: 0, http: 0 };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'switchboard-lb-'));
  redis = await startRedis();
  for (const n of [1, 2, 3]) {
    gateways.push(await spawnGateway(['--redis-url', redis.url, '--node-id', `gw${n}`, '--data-dir', join(dir, `gw${n}`), '--node-heartbeat-ms', '1000']));
  }
  front.tcp = await freePort();
  front.http = await freePort();
  const page = readFileSync(join(repoRoot, 'docs', 'several-gateways.md'), 'utf8');
  let config = /```haproxy\n([\s\S]*?)```/.exec(page)![1]!;
  config = config.replace('127.0.0.1:9000', `127.0.0.1:${front.tcp}`).replace('127.0.0.1:8080', `127.0.0.1:${front.http}`);
  gateways.forEach((gateway, i) => {
    config = config
      .replace(`127.0.0.1:900${i + 1}`, `127.0.0.1:${gateway.tcpPort}`)
      .replace(`127.0.0.1:808${i + 1}`, `127.0.0.1:${new URL(gateway.httpUrl).port}`);
  });
  // Every address the page prints was moved to a free port: what runs is the printed configuration, ports aside.
  const unmoved = /127\.0\.0\.1:(9000|8080|900\d|808\d)\b/.exec(config);
  if (unmoved !== null) throw new Error(`docs/several-gateways.md's HAProxy example has an address this test does not move: ${unmoved[0]}`);
  writeFileSync(join(dir, 'haproxy.cfg'), config);
  haproxy = spawn(HAPROXY, ['-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
  // Until its health checks have seen every gateway up.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const ready = await fetch(`http://127.0.0.1:${front.http}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    await sleep(100);
  }
}, 60_000);

afterAll(async () => {
  haproxy?.kill('SIGKILL');
  await Promise.all(gateways.map((g) => g.stop('SIGKILL')));
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when beforeAll failed
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the docs' load balancer in front of three gateways", () => {
  it('spreads TCP members and browsers over the gateways, and they chat as one room', async () => {
    const tcp = await Promise.all([0, 1, 2].map(() => Peer.tcp(front.tcp)));
    const web = await Peer.ws(`ws://127.0.0.1:${front.http}/ws`, { origin: `http://127.0.0.1:${front.http}` });
    const welcomes = await Promise.all(tcp.map((peer, i) => peer.hello(`lb-tcp${i}`)));
    const browser = await web.hello('lb-web');
    // Member ids name their gateway: leastconn put the three TCP members on three gateways.
    expect(new Set(welcomes.map((w) => w.id.split('.')[0])).size).toBe(3);
    expect(browser.id).toMatch(/^gw\d\.m\d+$/);
    web.send({ type: 'message', text: 'through the load balancer' });
    for (const peer of tcp)
      await expect(peer.next('message', (m) => m.text === 'through the load balancer')).resolves.toMatchObject({ from: 'lb-web', transport: 'ws' });
    tcp[0]!.send({ type: 'message', text: 'and back' });
    await expect(web.next('message', (m) => m.text === 'and back')).resolves.toMatchObject({ from: 'lb-tcp0' });
    const { body } = await api<{ clients: { name: string; node: string }[] }>({ httpUrl: `http://127.0.0.1:${front.http}` }, 'GET', '/api/clients');
    expect(body.clients.map((c) => c.name).sort()).toEqual(['lb-tcp0', 'lb-tcp1', 'lb-tcp2', 'lb-web']);
    for (const peer of [...tcp, web]) peer.destroy();
  });
});
