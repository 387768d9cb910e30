import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

describe('REST basics', () => {
  it('health and config', async () => {
    const health = await api(gateway, 'GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', version: expect.stringMatching(/^switchboard\//) });
    const config = await api(gateway, 'GET', '/api/config');
    expect(config.body).toEqual({
      maxFrameLength: 1048576,
      maxFileBytes: 52428800,
      maxTextBytes: 65536,
      historyLimit: 500,
      adminTokenRequired: false,
      registration: 'open',
      loginRequired: false,
    });
  });

  it('unknown routes answer 404 with a code, never a stack', async () => {
    const result = await api(gateway, 'GET', '/api/nope');
    expect(result.status).toBe(404);
    expect(result.body).toEqual({ code: 'NOT_FOUND', message: 'No route for GET /api/nope.' });
  });

  it('a body over the limit is 413 PAYLOAD_TOO_LARGE', async () => {
    const result = await api(gateway, 'POST', '/api/broadcast', { text: 'x'.repeat(300 * 1024) });
    expect(result.status).toBe(413);
    expect(result.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a non-JSON body is 415', async () => {
    const response = await fetch(`${gateway.httpUrl}/api/broadcast`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });
});
