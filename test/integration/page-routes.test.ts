import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// The page's addresses (README, "The web page") over a real socket: each answers with the
// page, and none shadows the API, the WebSocket bridge, the docs or the probes.
describe('page routes', () => {
  let gateway: RunningGateway;
  let webRoot: string;
  const page = '<!doctype html><title>Switchboard</title><div id="app"></div>';

  beforeAll(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'switchboard-web-'));
    writeFileSync(join(webRoot, 'index.html'), page);
    gateway = await startGateway({ webRoot });
  });

  afterAll(async () => {
    await gateway.close();
    rmSync(webRoot, { recursive: true, force: true });
  });

  it.each(['/', '/rooms/lobby', '/rooms/a%20b', '/private/alice', '/devices', '/devices/dev-1', '/admin', '/admin/listeners'])(
    'GET %s answers 200 with the page',
    async (path) => {
      const response = await fetch(gateway.httpUrl + path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await response.text()).toBe(page);
    },
  );

  it('does not shadow the API, the docs or the probes; unknown paths stay 404 JSON', async () => {
    const health = await fetch(gateway.httpUrl + '/api/health');
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toMatch(/application\/json/);
    const devices = await fetch(gateway.httpUrl + '/api/devices');
    expect(devices.headers.get('content-type')).toMatch(/application\/json/);
    for (const path of ['/livez', '/readyz']) expect((await fetch(gateway.httpUrl + path)).headers.get('content-type')).toMatch(/application\/json/);
    expect((await fetch(gateway.httpUrl + '/metrics')).headers.get('content-type')).toMatch(/^text\/plain/);
    const docs = await fetch(gateway.httpUrl + '/docs/json');
    expect(((await docs.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    for (const path of ['/api/nothing-here', '/api/rooms/x/y/z', '/rooms/a/b', '/devices/a/b', '/admin/a/b']) {
      const response = await fetch(gateway.httpUrl + path);
      expect(response.status, path).toBe(404);
      expect(await response.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
    // /ws is still the WebSocket bridge: a plain GET is not the page.
    const ws = await fetch(gateway.httpUrl + '/ws');
    expect(await ws.text()).not.toBe(page);
  });

  it('the page routes are not in the API documentation', async () => {
    const doc = (await (await fetch(gateway.httpUrl + '/docs/json')).json()) as { paths: Record<string, unknown> };
    for (const path of Object.keys(doc.paths)) expect(path).toMatch(/^\/(api|ws|docs|protocol\.md|protocol\/|livez|readyz|metrics)/);
  });
});
