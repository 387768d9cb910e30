import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { joinAs, say } from './fixtures.js';

const webRoot = fileURLToPath(new URL('../../apps/web/dist', import.meta.url));

let redis: RedisProcess;
let nodes: RunningGateway[] = [];

test.beforeEach(async () => {
  redis = await startRedis();
  nodes = [];
  for (const nodeId of ['a', 'b', 'c']) {
    nodes.push(await startGateway({ webRoot, cluster: { redisUrl: redis.url, nodeId, heartbeatMs: 1000 } }));
  }
});

test.afterEach(async () => {
  await Promise.all(nodes.map((node) => node.close()));
  await redis.close();
});

test("three gateways on one Redis: a TCP member on A, the browser on B and a plain device on C chat both ways; B lists every node's members", async ({
  page,
}) => {
  const [a, b, c] = nodes as [RunningGateway, RunningGateway, RunningGateway];
  const alice = await Peer.tcp(a.tcpPort);
  await alice.hello('alice');
  const device = await Peer.tcp(c.tcpPort); // no hello: a plain device, named by its address
  await joinAs(page, b, 'browser-bob');
  const members = page.getByTestId('member-item');
  await expect(members).toHaveCount(3);
  await expect(page.locator('[data-testid="member-item"][data-name="alice"]')).toHaveAttribute('data-transport', 'tcp');

  alice.send({ type: 'message', text: 'hello from node a' });
  await expect(page.getByTestId('message-text').filter({ hasText: 'hello from node a' })).toBeVisible();
  device.send({ type: 'text', text: 'TEMP 21.5' });
  await expect(page.getByTestId('message-text').filter({ hasText: 'TEMP 21.5' })).toBeVisible();

  await say(page, 'hello from the browser on b');
  await expect(alice.next('message', (m) => m.text === 'hello from the browser on b')).resolves.toMatchObject({ from: 'browser-bob', transport: 'ws' });
  await expect(device.waitForLine((line) => line === 'browser-bob: hello from the browser on b')).resolves.toBeDefined();

  // The admin panel on B lists the members of A and C too, each with its node.
  await page.getByTestId('admin-toggle').click();
  await page.getByTestId('admin-nav-clients').click();
  const rows = page.getByTestId('client-row');
  await expect(rows).toHaveCount(3);
  await expect(page.locator('[data-testid="client-row"][data-name="alice"]')).toHaveAttribute('data-node', 'a');
  await expect(page.locator('[data-testid="client-row"][data-name="browser-bob"]')).toHaveAttribute('data-node', 'b');
  await expect(page.locator('[data-testid="client-row"][data-node="c"]')).toHaveCount(1);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: test.info().outputPath('cluster-admin.png') });
  alice.destroy();
  device.destroy();
});
