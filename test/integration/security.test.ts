import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { FrameDecoder, decodeServerMessage, encodeMessage, type ServerMessage } from '@switchboard/protocol';
import { api, startGateway } from '../helpers/gateway.js';

const isRoot = process.getuid?.() === 0;
const OUTSIDE_IP = '10.77.0.1';

describe('admin authentication', () => {
  it('with a token configured: no token or a wrong one is 401, the right one passes; reads stay open', async () => {
    const gateway = await startGateway({ security: { adminToken: 's3cret-token' } });
    try {
      const noToken = await api(gateway, 'POST', '/api/broadcast', { text: 'hi' });
      expect(noToken).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
      const wrong = await api(gateway, 'POST', '/api/listener/stop', {}, { authorization: 'Bearer nope' });
      expect(wrong).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
      const kick = await api(gateway, 'POST', '/api/clients/m1/kick', {}, { authorization: 'Bearer s3cret-token-but-longer' });
      expect(kick.status).toBe(401);
      const right = await api(gateway, 'POST', '/api/broadcast', { text: 'hi' }, { authorization: 'Bearer s3cret-token' });
      expect(right).toMatchObject({ status: 200, body: { ok: true } });
      expect((await api(gateway, 'GET', '/api/listener')).status).toBe(200);
      expect((await api(gateway, 'GET', '/api/config')).body.adminTokenRequired).toBe(true);
    } finally {
      await gateway.close();
    }
  });

  it('without a token: admin calls from a non-loopback address are 403 (inject)', async () => {
    const gateway = await startGateway();
    try {
      const response = await gateway.app.inject({ method: 'POST', url: '/api/listener/stop', remoteAddress: '192.0.2.10', payload: {} });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 'FORBIDDEN' });
      const fromLoopback = await gateway.app.inject({ method: 'GET', url: '/api/stats', remoteAddress: '127.0.0.1' });
      expect(fromLoopback.statusCode).toBe(200);
    } finally {
      await gateway.close();
    }
  });

  it.runIf(isRoot)(`without a token: admin calls over a real socket from ${OUTSIDE_IP} are 403, reads are not`, async () => {
    // A second address on the loopback device that is not in 127/8: the gateway sees a non-loopback peer.
    try {
      execFileSync('ip', ['addr', 'add', `${OUTSIDE_IP}/32`, 'dev', 'lo'], { stdio: 'pipe' });
    } catch (error) {
      if (!/File exists|already assigned/.test(String((error as { stderr?: Buffer }).stderr))) throw error;
    }
    const gateway = await startGateway({ http: { host: '0.0.0.0', port: 0 } });
    try {
      const port = new URL(gateway.httpUrl).port;
      const request = (method: string, path: string) =>
        new Promise<{ status: number; body: { code?: string } }>((resolve, reject) => {
          const req = http.request(
            { host: OUTSIDE_IP, port, path, method, localAddress: OUTSIDE_IP, headers: { 'content-type': 'application/json' } },
            (res) => {
              let text = '';
              res.on('data', (c) => (text += c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
            },
          );
          req.on('error', reject);
          req.end(method === 'POST' ? '{"text":"from outside"}' : undefined);
        });
      expect(await request('POST', '/api/broadcast')).toEqual({ status: 403, body: expect.objectContaining({ code: 'FORBIDDEN' }) });
      expect(await request('POST', '/api/listener/stop')).toMatchObject({ status: 403 });
      expect((await request('GET', '/api/listener')).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });
});

describe('TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'pipe' },
  );
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves HTTPS, WSS and TLS on the TCP listener from certificate files', async () => {
    const gateway = await startGateway({ security: { tlsCert: cert, tlsKey: key, tcpTls: true } });
    const ca = readFileSync(cert);
    try {
      const httpsUrl = gateway.httpUrl.replace('http:', 'https:');
      const health = await new Promise<string>((resolve, reject) => {
        https
          .get(`${httpsUrl}/api/health`, { ca }, (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      expect(JSON.parse(health)).toMatchObject({ status: 'ok' });
      expect((await api(gateway, 'GET', '/api/listener').catch(() => ({ status: -1 }))).status).toBe(-1); // plain HTTP is not served

      // TCP over TLS
      const tcpMessages: ServerMessage[] = [];
      const socket = tls.connect({ host: '127.0.0.1', port: gateway.tcpPort, ca, servername: 'localhost' });
      await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      const decoder = new FrameDecoder((t, p) => tcpMessages.push(decodeServerMessage(t, p)));
      socket.on('data', (c) => decoder.push(c));
      socket.write(encodeMessage({ type: 'hello', v: 1, name: 'secure-tcp' }));

      // WSS
      const ws = new WebSocket(gateway.wsUrl.replace('ws:', 'wss:'), { ca });
      await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
      const wsMessages: ServerMessage[] = [];
      ws.on('message', (data: Buffer) => wsMessages.push(decodeServerMessage(data[4]!, data.subarray(5))));
      ws.send(encodeMessage({ type: 'hello', v: 1, name: 'secure-ws' }));
      const until = async (pred: () => boolean) => {
        for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
        expect(pred()).toBe(true);
      };
      await until(() => wsMessages.some((m) => m.type === 'presence' && m.member.name === 'secure-ws') && tcpMessages.some((m) => m.type === 'welcome'));
      socket.write(encodeMessage({ type: 'message', text: 'over TLS' }));
      await until(() => wsMessages.some((m) => m.type === 'message' && m.text === 'over TLS'));
      // A plaintext client on the TLS port gets nothing it can read as a frame and is dropped.
      ws.close();
      socket.end();
    } finally {
      await gateway.close();
    }
  });
});
