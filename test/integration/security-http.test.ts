import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder, decodeServerMessage, encodeMessage, type ServerMessage } from '@switchboard/protocol';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

/**
 * Issue 22's HTTP side, as an attacker sees it over real sockets: forged Host headers (DNS
 * rebinding), cross-site state changes (CSRF), ban values that never matched, idle sockets that
 * took every descriptor, missing security headers, and member lists open to anyone.
 */

let gateway: RunningGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read JSON bodies as `any` and assert on them
  body: any;
}

/** One HTTP request with every header as given (Host included), over a fresh socket. */
function rawRequest(g: RunningGateway, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<RawResponse> {
  const port = Number(new URL(g.httpUrl).port);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port, method, path, agent: false, headers: { ...(payload !== undefined && { 'content-type': 'application/json' }), ...headers } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            // not JSON: the page, metrics
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: parsed });
        });
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/** A WebSocket upgrade written by hand (a browser on a rebinding page sends exactly this): the status line's code. */
function upgradeStatus(g: RunningGateway, path: string, headers: Record<string, string>): Promise<number> {
  const port = Number(new URL(g.httpUrl).port);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (match !== null) {
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on('error', reject);
    const lines = [
      `GET ${path} HTTP/1.1`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

const portOf = (g: RunningGateway): number => Number(new URL(g.httpUrl).port);

describe("DNS rebinding: only the gateway's own host names are served (issue 22 #7)", () => {
  it('answers a forged Host with 421 HOST_NOT_ALLOWED on the API, the page and both WebSockets', async () => {
    gateway = await startGateway();
    const evil = `evil.example:${portOf(gateway)}`;
    const read = await rawRequest(gateway, 'GET', '/api/accounts', { host: evil });
    expect(read).toMatchObject({ status: 421, body: { code: 'HOST_NOT_ALLOWED' } });
    expect(read.body.message).toContain('evil.example');
    // The attack of the review: a rebinding page creates an operator account (no token set, its requests come from loopback).
    const admin = await rawRequest(
      gateway,
      'POST',
      '/api/accounts',
      { host: evil, origin: `http://${evil}` },
      { name: 'mallory', password: 'password123', role: 'admin' },
    );
    expect(admin).toMatchObject({ status: 421, body: { code: 'HOST_NOT_ALLOWED' } });
    expect(gateway.app.hub.identity.store.account('mallory')).toBeUndefined();
    expect((await rawRequest(gateway, 'GET', '/', { host: evil })).status).toBe(421);
    expect((await rawRequest(gateway, 'GET', '/docs/json', { host: evil })).status).toBe(421);
    // Host and Origin both the attacker's: the WebSocket used to open.
    expect(await upgradeStatus(gateway, '/ws', { Host: evil, Origin: `http://${evil}` })).toBe(421);
    expect(await upgradeStatus(gateway, '/ws/devices/d1', { Host: evil, Origin: `http://${evil}` })).toBe(421);
    // A name that is not the machine's, even a numeric one.
    expect((await rawRequest(gateway, 'GET', '/api/health', { host: `192.0.2.1:${portOf(gateway)}` })).status).toBe(421);
  });

  it('serves loopback names and the listen address, --allowed-hosts names, and probes whatever their Host', async () => {
    gateway = await startGateway({ security: { allowedHosts: ['chat.example'] } });
    const port = portOf(gateway);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `LOCALHOST.:${port}`, `chat.example:${port}`, 'chat.example']) {
      expect((await rawRequest(gateway, 'GET', '/api/health', { host })).status, host).toBe(200);
    }
    expect((await rawRequest(gateway, 'GET', '/api/health', { host: `evil.chat.example:${port}` })).status).toBe(421);
    expect((await rawRequest(gateway, 'GET', '/readyz', { host: 'k8s-probe.internal' })).status).toBe(200);
    // The page's own origin under an allowed name opens the WebSocket.
    expect(await upgradeStatus(gateway, '/ws', { Host: `chat.example:${port}`, Origin: `http://chat.example:${port}` })).toBe(101);
    expect(await upgradeStatus(gateway, '/ws', { Host: `localhost:${port}`, Origin: `http://localhost:${port}` })).toBe(101);
  });

  it('with --allowed-hosts * every name is served (an operator behind a proxy that rewrites nothing)', async () => {
    gateway = await startGateway({ security: { allowedHosts: ['*'] } });
    expect((await rawRequest(gateway, 'GET', '/api/health', { host: 'anything.example' })).status).toBe(200);
  });

  it('the Origin check does not trust the Host it is compared with', async () => {
    gateway = await startGateway();
    const policy = gateway.app.hostPolicy;
    expect(policy.originAllowed('http://evil.example:8080', 'evil.example:8080')).toBe(false);
    expect(policy.originAllowed('http://127.0.0.1:8080', '127.0.0.1:8080')).toBe(true);
    expect(policy.originAllowed('http://localhost:3000', 'localhost:8080')).toBe(false);
    expect(policy.originAllowed('null', 'localhost:8080')).toBe(false);
    expect(policy.originAllowed(undefined, 'localhost:8080')).toBe(true);
  });
});

describe("CSRF: no state changes from another site's page (issue 22 #8)", () => {
  it('without an admin token: a body-less cross-site POST, DELETE or kick is 403 CROSS_ORIGIN_REFUSED and changes nothing', async () => {
    gateway = await startGateway();
    const member = await Peer.tcp(gateway.tcpPort);
    const { id } = await member.hello('victim');
    const evil = { origin: 'http://evil.example' };
    for (const [method, path] of [
      ['POST', '/api/listener/stop'],
      ['POST', '/api/listener/start'],
      ['POST', `/api/clients/${id}/kick`],
      ['DELETE', '/api/bans/1'],
      ['PUT', '/api/rules/1'],
      ['PATCH', '/api/listeners/tcp'],
    ] as const) {
      const response = await rawRequest(gateway, method, path, evil);
      expect(response, `${method} ${path}`).toMatchObject({ status: 403, body: { code: 'CROSS_ORIGIN_REFUSED' } });
    }
    const withBody = await rawRequest(gateway, 'POST', '/api/broadcast', evil, { text: 'from evil' });
    expect(withBody).toMatchObject({ status: 403, body: { code: 'CROSS_ORIGIN_REFUSED' } });
    // A browser that hides the Origin still says the call is cross-site.
    const hidden = await rawRequest(gateway, 'POST', '/api/listener/stop', { 'sec-fetch-site': 'cross-site' });
    expect(hidden).toMatchObject({ status: 403, body: { code: 'CROSS_ORIGIN_REFUSED' } });
    // A sandboxed frame's page says Origin: null.
    expect((await rawRequest(gateway, 'POST', '/api/listener/stop', { origin: 'null' })).status).toBe(403);
    expect(gateway.app.tcpListener.status().listening).toBe(true);
    expect(member.closed).toBe(false);

    // Scripts that send no Origin, and the page's own origin, still work.
    expect((await api(gateway, 'POST', '/api/broadcast', { text: 'from a script' })).status).toBe(200);
    const own = await rawRequest(gateway, 'POST', '/api/broadcast', { origin: gateway.httpUrl, 'sec-fetch-site': 'same-origin' }, { text: 'from the page' });
    expect(own.status).toBe(200);
    expect((await rawRequest(gateway, 'POST', `/api/clients/${id}/kick`, { origin: gateway.httpUrl }, {})).status).toBe(200);
    await member.waitClosed();
  });

  it('with an admin token the right token from a foreign page is still refused; --allowed-origins lets a named console in', async () => {
    gateway = await startGateway({ security: { adminToken: 'csrf-token', allowedOrigins: ['http://console.example'] } });
    const auth = { authorization: 'Bearer csrf-token' };
    expect(await rawRequest(gateway, 'POST', '/api/listener/stop', { ...auth, origin: 'http://evil.example' })).toMatchObject({
      status: 403,
      body: { code: 'CROSS_ORIGIN_REFUSED' },
    });
    expect(gateway.app.tcpListener.status().listening).toBe(true);
    expect((await rawRequest(gateway, 'POST', '/api/listener/stop', { ...auth, origin: 'http://console.example' }, {})).status).toBe(200);
    expect((await rawRequest(gateway, 'POST', '/api/listener/start', auth, {})).status).toBe(200);
    // Reads are not state changes: a cross-site GET is answered (the browser keeps the answer from the page).
    expect((await rawRequest(gateway, 'GET', '/api/listener', { origin: 'http://evil.example' })).status).toBe(200);
  });
});

/** A TCP hello from `localAddress` to `host`; the first frame the gateway answers. */
function helloFrom(port: number, host: string, localAddress: string): Promise<ServerMessage> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, localAddress });
    const decoder = new FrameDecoder((type, payload) => {
      socket.destroy();
      resolve(decodeServerMessage(type, payload));
    });
    socket.on('data', (chunk) => decoder.push(chunk));
    socket.on('error', reject);
    socket.once('connect', () => socket.write(encodeMessage({ type: 'hello', v: 1, name: `p${Math.floor(Math.random() * 1e6)}` })));
  });
}

describe('bans by address, parsed as the platform parses addresses (issue 22 #10)', () => {
  it('an IPv6 CIDR ban matches (::/0 bans ::1), an IPv6 address matches in any spelling, IPv4-mapped blocks match IPv4 clients', async () => {
    gateway = await startGateway({ tcp: { host: '::' } });
    const port = gateway.tcpPort;
    expect(await helloFrom(port, '::1', '::1')).toMatchObject({ type: 'welcome' });
    const all = await api(gateway, 'POST', '/api/bans', { cidr: '::/0', reason: 'every IPv6 address' });
    expect(all.status).toBe(201);
    expect(await helloFrom(port, '::1', '::1')).toMatchObject({ type: 'error', code: 'BANNED' });
    expect((await api(gateway, 'DELETE', `/api/bans/${all.body.id}`)).status).toBe(204);

    const one = await api(gateway, 'POST', '/api/bans', { ip: '0:0:0:0:0:0:0:1', reason: 'loopback, spelt out' });
    expect(await helloFrom(port, '::1', '::1')).toMatchObject({ type: 'error', code: 'BANNED' });
    expect(await helloFrom(port, '127.0.0.1', '127.0.0.1')).toMatchObject({ type: 'welcome' });
    await api(gateway, 'DELETE', `/api/bans/${one.body.id}`);

    // On a dual-stack socket an IPv4 client is ::ffff:127.0.0.5; the IPv4-mapped block covers it.
    await api(gateway, 'POST', '/api/bans', { cidr: '::ffff:127.0.0.0/104', reason: 'mapped' });
    expect(await helloFrom(port, '127.0.0.1', '127.0.0.5')).toMatchObject({ type: 'error', code: 'BANNED' });
  });

  it('refuses values that could never match with 400 BAN_INVALID, and never hands a ban id out twice', async () => {
    gateway = await startGateway();
    for (const body of [
      { ip: '127.0.0.040' },
      { ip: 'not-an-ip' },
      { ip: '10.0.0.0/8' },
      { cidr: '10.0.0.0/8/8' },
      { cidr: '10.0.0.0' },
      { cidr: '10.0.0.0/33' },
      { cidr: '::/129' },
      { ip: 'fe80::1%eth0' },
    ]) {
      const response = await api(gateway, 'POST', '/api/bans', { ...body, reason: 'bad value' });
      expect(response, JSON.stringify(body)).toMatchObject({ status: 400, body: { code: 'BAN_INVALID' } });
    }
    expect((await api(gateway, 'GET', '/api/bans')).body.bans).toEqual([]);
    const first = await api(gateway, 'POST', '/api/bans', { ip: '192.0.2.1', reason: 'one' });
    const second = await api(gateway, 'POST', '/api/bans', { ip: '192.0.2.2', reason: 'two' });
    expect((await api(gateway, 'DELETE', `/api/bans/${second.body.id}`)).status).toBe(204);
    const third = await api(gateway, 'POST', '/api/bans', { ip: '192.0.2.3', reason: 'three' });
    expect(third.status).toBe(201);
    expect(new Set([first.body.id, second.body.id, third.body.id]).size).toBe(3);
    expect(third.body.id).toBeGreaterThan(second.body.id);
  });
});

/** Opens a TCP connection to the HTTP port and sends nothing: what an idle-socket flood holds. */
function idleSocket(g: RunningGateway): Promise<{ socket: net.Socket; closed: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: portOf(g) });
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    const closed = new Promise<string>((done) => socket.once('close', () => done(received)));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

describe('idle HTTP sockets cannot take every descriptor (issue 22 #15)', () => {
  it('caps HTTP connections per address with a 503, closes idle ones, and WebSocket members are not counted', async () => {
    gateway = await startGateway({ limits: { maxHttpConnectionsPerIp: 4 }, timing: { httpIdleTimeoutMs: 600 } });
    const idle = await Promise.all([1, 2, 3, 4].map(() => idleSocket(gateway!)));
    const over = await idleSocket(gateway);
    const answer = await over.closed;
    expect(answer).toMatch(/^HTTP\/1\.1 503/);
    expect(answer).toContain('TOO_MANY_CONNECTIONS_FROM_ADDRESS');
    // The idle ones are closed by the gateway, not kept for a minute and more.
    const started = Date.now();
    await Promise.all(idle.map((s) => s.closed));
    expect(Date.now() - started).toBeLessThan(10_000);
    // Open WebSockets are members (under --max-connections-per-ip), not HTTP connections.
    const peers = await Promise.all([1, 2, 3, 4, 5, 6].map(() => Peer.ws(gateway!.wsUrl)));
    await Promise.all(peers.map((p, i) => p.hello(`ws${i}`)));
    const health = await api(gateway, 'GET', '/api/health');
    expect(health.status).toBe(200);
    expect(health.body.httpConnections).toMatchObject({ max: expect.any(Number), refused: 1 });
    expect(health.body.httpConnections.open).toBeLessThanOrEqual(2);
    for (const p of peers) p.destroy();
  });

  it('cuts a request that trickles in slower than --http-request-timeout-ms', async () => {
    gateway = await startGateway({ timing: { httpIdleTimeoutMs: 5_000, httpRequestTimeoutMs: 800 } });
    const { socket, closed } = await idleSocket(gateway);
    socket.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // One header line every 300 ms keeps the socket busy but never finishes the request.
    const trickle = setInterval(() => socket.write('X-Slow: 1\r\n'), 300);
    const answer = await closed;
    clearInterval(trickle);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('reports descriptors against the limit in /api/health and /metrics', async () => {
    gateway = await startGateway();
    const { body } = await api(gateway, 'GET', '/api/health');
    expect(body.descriptors).toEqual({ open: expect.any(Number), limit: expect.any(Number), pressure: false });
    expect(body.descriptors.open).toBeGreaterThan(0);
    const metrics = await rawRequest(gateway, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^process_open_fds \d+/m);
    expect(metrics.body).toMatch(/^process_max_fds \d+/m);
    expect(metrics.body).toMatch(/^switchboard_http_connections \d+/m);
    expect(metrics.body).toMatch(/^switchboard_http_connections_refused_total 0/m);
  });
});

describe('security headers (issue 22 #22)', () => {
  it('every answer has a CSP that forbids framing and inline scripts, nosniff and X-Frame-Options DENY; /docs has its own working policy', async () => {
    gateway = await startGateway();
    for (const path of ['/api/health', '/api/no-such-route']) {
      const { headers } = await rawRequest(gateway, 'GET', path);
      expect(headers['x-content-type-options'], path).toBe('nosniff');
      expect(headers['x-frame-options'], path).toBe('DENY');
      const csp = String(headers['content-security-policy']);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).not.toContain('upgrade-insecure-requests');
    }
    const docs = await rawRequest(gateway, 'GET', '/docs/');
    expect(docs.status).toBe(200);
    const docsCsp = String(docs.headers['content-security-policy']);
    expect(docsCsp).toContain("frame-ancestors 'none'");
    expect(docsCsp).not.toContain('upgrade-insecure-requests');
    expect(docs.headers['x-content-type-options']).toBe('nosniff');
  });
});

describe('--public-read (issue 22 #23)', () => {
  it('on by default: members and room history are public, as before', async () => {
    gateway = await startGateway();
    expect((await rawRequest(gateway, 'GET', '/api/clients', {}, undefined)).status).toBe(200);
  });

  it('off with --require-login: the member list (addresses) and room history need an operator', async () => {
    gateway = await startGateway({ identity: { requireLogin: true }, security: { adminToken: 'read-token' } });
    expect(await rawRequest(gateway, 'GET', '/api/clients')).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    expect(await rawRequest(gateway, 'GET', '/api/history?room=lobby')).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    const auth = { authorization: 'Bearer read-token' };
    expect((await rawRequest(gateway, 'GET', '/api/clients', auth)).status).toBe(200);
    expect((await rawRequest(gateway, 'GET', '/api/history?room=lobby', auth)).status).toBe(200);
    // The OpenAPI document says both need the admin scheme now.
    const doc = (await rawRequest(gateway, 'GET', '/docs/json')).body;
    expect(doc.paths['/api/clients'].get.security).toEqual([{ admin: [] }]);
    expect(doc.paths['/api/history'].get.security).toEqual([{ admin: [] }]);
  });

  it('--no-public-read without --require-login: from a non-loopback caller with no token, 403 FORBIDDEN', async () => {
    gateway = await startGateway({ security: { publicRead: false } });
    const response = await gateway.app.inject({ method: 'GET', url: '/api/clients', remoteAddress: '192.0.2.10' });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'FORBIDDEN' });
  });
});
