import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

/** 'connected', or the connect error's code. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

describe('listener control over REST', () => {
  it('reports status, stops (new connections refused), and starts again', async () => {
    const port = gateway.tcpPort;
    const status = await api(gateway, 'GET', '/api/listener');
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ listening: true, host: '127.0.0.1', port, backlog: 511 });
    expect(Date.parse(status.body.since)).not.toBeNaN();

    // A member connected before the stop stays connected (the default).
    const stayer = await Peer.tcp(port);
    await stayer.hello('stayer');

    const stopped = await api(gateway, 'POST', '/api/listener/stop');
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ listening: false, since: null, connections: 1 });
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');

    const again = await api(gateway, 'POST', '/api/listener/stop');
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('LISTENER_NOT_RUNNING');

    // Still chatting over the connection accepted before the stop.
    stayer.send({ type: 'message', text: 'still here' });
    await expect(stayer.next('message', (m) => m.text === 'still here')).resolves.toBeDefined();

    const started = await api(gateway, 'POST', '/api/listener/start', { port });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ listening: true, port });
    expect(await connectOutcome(port)).toBe('connected');
    const newcomer = await Peer.tcp(port);
    await newcomer.hello('newcomer');

    const twice = await api(gateway, 'POST', '/api/listener/start', {});
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe('LISTENER_ALREADY_RUNNING');
    stayer.end();
    newcomer.end();
  });

  it('stop with disconnect tells TCP members and closes them, browsers stay', async () => {
    const tcp = await Peer.tcp(gateway.tcpPort);
    await tcp.hello('tcp-member');
    const browser = await Peer.ws(gateway.wsUrl);
    await browser.hello('ws-member');
    const stopped = await api(gateway, 'POST', '/api/listener/stop', { disconnect: true });
    expect(stopped.status).toBe(200);
    const notice = await tcp.next('notice');
    expect(notice.text).toMatch(/stopped/);
    await tcp.waitClosed();
    const left = await browser.next('presence', (p) => p.event === 'leave' && p.member.name === 'tcp-member');
    expect(left.reason).toBe('shutdown');
    expect(browser.closed).toBe(false);
    expect((await api(gateway, 'POST', '/api/listener/start', { port: gateway.tcpPort })).status).toBe(200);
    browser.end();
  });

  it('answers a taken port with 409 ADDRESS_IN_USE and keeps running', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const takenPort = (blocker.address() as net.AddressInfo).port;
    await api(gateway, 'POST', '/api/listener/stop');
    const result = await api(gateway, 'POST', '/api/listener/start', { port: takenPort });
    expect(result.status).toBe(409);
    expect(result.body).toEqual({ code: 'ADDRESS_IN_USE', message: `Cannot listen on 127.0.0.1:${takenPort}: the address is already in use.` });
    expect((await api(gateway, 'GET', '/api/listener')).body.listening).toBe(false);
    blocker.close();
    expect((await api(gateway, 'POST', '/api/listener/start', { port: gateway.tcpPort })).status).toBe(200);
  });

  it('rejects bad input with 400 and a stable code', async () => {
    for (const body of [{ port: 70000 }, { port: 'nine' }, { backlog: 0 }, { host: '' }, { colour: 'blue' }]) {
      const result = await api(gateway, 'POST', '/api/listener/start', body);
      expect(result.status, JSON.stringify(body)).toBe(400);
      expect(result.body.code).toBe('VALIDATION_FAILED');
      expect(result.body.message).toEqual(expect.any(String));
    }
    const response = await fetch(`${gateway.httpUrl}/api/listener/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"port":',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'INVALID_JSON_BODY' });
  });

  it('answers an address that is not this machine with ADDRESS_NOT_AVAILABLE', async () => {
    await api(gateway, 'POST', '/api/listener/stop');
    const result = await api(gateway, 'POST', '/api/listener/start', { host: '203.0.113.7', port: 0 });
    expect(result.status).toBe(422);
    expect(result.body.code).toBe('ADDRESS_NOT_AVAILABLE');
    expect((await api(gateway, 'POST', '/api/listener/start', { port: gateway.tcpPort })).status).toBe(200);
  });
});
