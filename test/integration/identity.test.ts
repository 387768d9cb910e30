import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { FrameDecoder, decodeServerMessage, type ServerMessage } from '@switchboard/protocol';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer, sleep } from '../helpers/peer.js';

// Issue 12 against a running gateway: accounts, resume tokens, private history for its owner
// only, bans, the audit log, and no password in any log line or response.

const TOKEN = 'identity-admin-token';
const PASSWORD = 'correct horse battery';
const admin = { authorization: `Bearer ${TOKEN}` };
const logLines: string[] = [];
const responses: string[] = [];
let gateway: RunningGateway;

/** Every API call of this file, its response kept for the password check. */
async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = admin) {
  const response = await api(gateway, method, path, body, headers);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify(undefined) (an empty body) is undefined
  responses.push(JSON.stringify(response.body) ?? '');
  return response;
}

beforeAll(async () => {
  gateway = await startGateway({ security: { adminToken: TOKEN }, logLevel: 'debug' }, { logLines });
});
afterAll(async () => {
  await gateway.close();
});

describe('accounts', () => {
  it('a registered name needs its password; wrong ones are limited; the right one gives a token', async () => {
    const created = await call('POST', '/api/accounts', { name: 'alice', password: PASSWORD }, {});
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ name: 'alice', role: 'user', createdAt: expect.any(String) });
    expect((await call('POST', '/api/accounts', { name: 'ALICE', password: PASSWORD }, {})).body.code).toBe('NAME_TAKEN');
    expect((await call('POST', '/api/accounts', { name: 'short', password: 'x' }, {})).status).toBe(400);

    const peer = await Peer.tcp(gateway.tcpPort);
    peer.send({ type: 'hello', v: 1, name: 'alice', ref: 'no-password' });
    expect(await peer.next('error')).toMatchObject({ code: 'AUTH_REQUIRED', ref: 'no-password' });
    peer.send({ type: 'hello', v: 1, name: 'alice', password: 'wrong password', ref: 'wrong' });
    expect(await peer.next('error')).toMatchObject({ code: 'AUTH_FAILED', ref: 'wrong' });
    peer.send({ type: 'hello', v: 1, name: 'alice', password: PASSWORD });
    const welcome = await peer.next('welcome');
    expect(welcome).toMatchObject({ name: 'alice', account: true, token: expect.stringMatching(/^[\w-]{43}$/) });
    peer.destroy();

    // A guessing attacker: 20 wrong passwords in a row, from an address of its own (that
    // address is locked out of this name for a minute afterwards; the owner elsewhere is not).
    const guesser = await Peer.tcp(gateway.tcpPort, '127.0.0.1', '127.0.0.9');
    const codes: string[] = [];
    for (let i = 0; i < 20; i++) {
      guesser.send({ type: 'hello', v: 1, name: 'alice', password: `guess ${i}` });
      codes.push((await guesser.next('error')).code);
    }
    expect(codes.slice(0, 9).every((c) => c === 'AUTH_FAILED')).toBe(true);
    expect(codes.at(-1)).toBe('AUTH_RATE_LIMITED');
    guesser.destroy();
  });
});

describe('private history belongs to its owner', () => {
  it('a new guest who takes a freed name sees nothing of the old one; the old token brings it back', async () => {
    const carol = await Peer.ws(gateway.wsUrl);
    await carol.hello('carol');
    const bob = await Peer.tcp(gateway.tcpPort);
    const { token: bobToken } = await bob.hello('bob');
    bob.send({ type: 'private', to: 'carol', text: 'from the first bob' });
    await carol.next('private');
    carol.send({ type: 'private', to: 'bob', text: 'to the first bob' });
    await bob.next('private');
    bob.end();
    await bob.waitClosed();
    await sleep(50);

    const impostor = await Peer.tcp(gateway.tcpPort);
    expect((await impostor.hello('bob')).name).toBe('bob');
    impostor.send({ type: 'history', private: true, ref: 'all' });
    impostor.send({ type: 'history', with: 'carol', ref: 'with' });
    expect((await impostor.next('history', (h) => h.ref === 'all')).entries).toEqual([]);
    expect((await impostor.next('history', (h) => h.ref === 'with')).entries).toEqual([]);

    // The first bob comes back with his token: the impostor gives way... no: the name is the
    // impostor's now, a different identity, so the token cannot take it while he holds it.
    const returning = await Peer.tcp(gateway.tcpPort);
    returning.send({ type: 'hello', v: 1, token: bobToken });
    expect((await returning.next('error')).code).toBe('NAME_TAKEN');
    impostor.end();
    await impostor.waitClosed();
    await sleep(50);
    returning.send({ type: 'hello', v: 1, token: bobToken, ref: 'back' });
    // A used token is replaced by a new one (rotation): the welcome carries it.
    const back = await returning.next('welcome');
    expect(back).toMatchObject({ name: 'bob', ref: 'back' });
    expect(back.token).not.toBe(bobToken);
    returning.send({ type: 'history', with: 'carol', ref: 'mine' });
    expect((await returning.next('history', (h) => h.ref === 'mine')).entries.map((e) => ('text' in e ? e.text : ''))).toEqual([
      'from the first bob',
      'to the first bob',
    ]);

    // The same token from a second connection (a reloaded tab): the first gives way.
    const reloaded = await Peer.ws(gateway.wsUrl);
    reloaded.send({ type: 'hello', v: 1, token: back.token });
    expect((await reloaded.next('welcome')).name).toBe('bob');
    expect(await returning.next('notice')).toMatchObject({ code: 'SESSION_REPLACED' });
    await returning.waitClosed();
    await expect(carol.next('presence', (p) => p.event === 'leave' && p.reason === 'replaced')).resolves.toBeDefined();
    for (const p of [carol, reloaded]) p.destroy();
  });
});

/** A TCP connection from `localAddress`: its frames, until it is closed. */
function tcpFrom(localAddress: string): Promise<ServerMessage[]> {
  return new Promise((resolve) => {
    const frames: ServerMessage[] = [];
    const socket = net.connect({ port: gateway.tcpPort, host: '127.0.0.1', localAddress });
    const decoder = new FrameDecoder((type, payload) => frames.push(decodeServerMessage(type, payload)));
    socket.on('data', (chunk) => decoder.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => resolve(frames));
    setTimeout(() => socket.destroy(), 1500);
  });
}

async function wsFrom(localAddress: string): Promise<ServerMessage[]> {
  const ws = new WebSocket(gateway.wsUrl, { localAddress });
  const frames: ServerMessage[] = [];
  ws.on('message', (data: Buffer) => frames.push(decodeServerMessage(data[4]!, data.subarray(5))));
  ws.on('error', () => {});
  const timer = setTimeout(() => ws.terminate(), 1500);
  await once(ws, 'close');
  clearTimeout(timer);
  return frames;
}

describe('bans', () => {
  it('refuse TCP and WebSocket from a banned address with BANNED while others connect; an expiring ban lifts by itself', async () => {
    const ban = await call('POST', '/api/bans', { ip: '127.0.0.2', reason: 'testing bans' });
    expect(ban.status).toBe(201);
    const tcp = await tcpFrom('127.0.0.2');
    expect(tcp).toEqual([expect.objectContaining({ type: 'error', code: 'BANNED', fatal: true, message: expect.stringContaining('testing bans') })]);
    const ws = await wsFrom('127.0.0.2');
    expect(ws).toEqual([expect.objectContaining({ type: 'error', code: 'BANNED', message: expect.stringContaining('testing bans') })]);
    const fine = await Peer.tcp(gateway.tcpPort);
    expect((await fine.hello('not-banned')).name).toBe('not-banned');
    fine.destroy();
    expect((await call('GET', '/api/bans')).body.bans).toContainEqual(expect.objectContaining({ id: ban.body.id, kind: 'ip', value: '127.0.0.2' }));
    expect((await call('DELETE', `/api/bans/${ban.body.id}`)).status).toBe(204);

    const brief = await call('POST', '/api/bans', { cidr: '127.0.0.3/32', reason: 'one second', expiresAt: new Date(Date.now() + 1000).toISOString() });
    expect(brief.status).toBe(201);
    expect((await tcpFrom('127.0.0.3'))[0]).toMatchObject({ code: 'BANNED' });
    await sleep(1100);
    const after = await tcpFrom('127.0.0.3');
    expect(after.some((f) => f.type === 'error' && f.code === 'BANNED')).toBe(false);

    // A name ban disconnects whoever holds the name now, and refuses it at hello.
    const victim = await Peer.tcp(gateway.tcpPort);
    await victim.hello('mallory');
    expect((await call('POST', '/api/bans', { name: 'Mallory', reason: 'spam' })).status).toBe(201);
    expect(await victim.next('error')).toMatchObject({ code: 'BANNED', fatal: true });
    const again = await Peer.tcp(gateway.tcpPort);
    again.send({ type: 'hello', v: 1, name: 'mallory', ref: 'banned-hello' });
    expect(await again.next('error')).toMatchObject({ code: 'BANNED', fatal: true, ref: 'banned-hello' }); // fatal, and still with its ref
    // Closed at once on both transports, though its input was held while the hello was checked.
    const browser = await Peer.ws(gateway.wsUrl);
    const refusedAt = performance.now();
    browser.send({ type: 'hello', v: 1, name: 'mallory' });
    expect((await browser.next('error')).code).toBe('BANNED');
    await browser.waitClosed(1000);
    await again.waitClosed(1000);
    expect(performance.now() - refusedAt).toBeLessThan(1000);
  });
});

describe('operators and the audit log', () => {
  it('an admin account opens the API with its session token; every admin action of the run is in the audit log', async () => {
    expect((await call('POST', '/api/accounts', { name: 'root', password: PASSWORD, role: 'admin' }, {})).body.code).toBe('REGISTRATION_CLOSED');
    expect((await call('POST', '/api/accounts', { name: 'root', password: PASSWORD, role: 'admin' })).status).toBe(201);
    const operator = await Peer.ws(gateway.wsUrl);
    const { token, role } = await operator.hello('root', { password: PASSWORD });
    expect(role).toBe('admin');
    const session = { authorization: `Bearer ${token}` };
    expect((await call('POST', '/api/broadcast', { text: 'from the operator' }, session)).status).toBe(200);
    expect((await call('GET', '/api/accounts', undefined, {})).status).toBe(401);
    expect((await call('POST', '/api/accounts/alice/password', { password: 'another password' })).status).toBe(204);
    expect((await call('DELETE', '/api/accounts/alice')).status).toBe(204);
    operator.destroy();

    const audit = (await call('GET', '/api/audit?limit=1000')).body.entries as {
      actor: string;
      action: string;
      address: string;
      detail: { body?: { password?: string } };
    }[];
    const actions = audit.map((e) => `${e.actor} ${e.action}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        'token POST /api/bans',
        'token DELETE /api/bans/:id',
        'token POST /api/accounts',
        'account:root POST /api/broadcast',
        'token POST /api/accounts/:name/password',
        'token DELETE /api/accounts/:name',
        'anonymous POST /api/accounts',
      ]),
    );
    expect(audit.every((e) => e.address.length > 0)).toBe(true);
    expect(audit.filter((e) => e.detail.body?.password !== undefined).every((e) => e.detail.body!.password === '[redacted]')).toBe(true);
  });

  it('no password appears in any log line or API response of this run', () => {
    expect(logLines.length).toBeGreaterThan(10);
    for (const secret of [PASSWORD, 'another password', 'wrong password', 'guess 3']) {
      expect(logLines.filter((line) => line.includes(secret))).toEqual([]);
      expect(responses.filter((body) => body.includes(secret))).toEqual([]);
    }
  });
});
