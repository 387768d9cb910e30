import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

// Search (issue 27) against a running gateway: the `search` request and GET /api/search find
// stored messages and file names by words, within what the searcher may read: rooms, its own
// private conversations (by identity), and everything for an operator.

const TOKEN = 'search-admin-token';
const PASSWORD = 'correct horse battery';
const admin = { authorization: `Bearer ${TOKEN}` };
let gateway: RunningGateway;
let alice: Peer;
let bob: Peer;
let carol: Peer;
let aliceToken: string;
let carolToken: string;

interface Hit {
  kind: string;
  id: number;
  text?: string;
  name?: string;
  room?: string;
  from: string;
  to?: string;
}

const texts = (hits: Hit[]): string[] => hits.map((h) => h.text ?? h.name ?? '');

beforeAll(async () => {
  gateway = await startGateway({ security: { adminToken: TOKEN } });
  alice = await Peer.tcp(gateway.tcpPort);
  aliceToken = (await alice.hello('alice')).token!;
  bob = await Peer.ws(gateway.wsUrl);
  await bob.hello('bob', { room: 'ops' });
  carol = await Peer.tcp(gateway.tcpPort);
  carolToken = (await carol.hello('carol')).token!;
  alice.send({ type: 'message', room: 'lobby', text: 'The pump station reports pressure low' });
  await alice.next('message', (m) => m.text.startsWith('The pump'));
  bob.send({ type: 'message', room: 'ops', text: 'Café pressure valve replaced' });
  await bob.next('message', (m) => m.text.startsWith('Café'));
  alice.send({ type: 'private', to: 'bob', text: 'secret pressure reading 42' });
  await bob.next('private', (m) => m.text.startsWith('secret'));
  alice.send({ type: 'message', room: 'lobby', text: 'nothing to see here' });
  await alice.next('message', (m) => m.text.startsWith('nothing'));
});

afterAll(async () => {
  for (const peer of [alice, bob, carol]) peer.destroy();
  await gateway.close();
});

async function search(peer: Peer, request: { q: string; room?: string; before?: number; limit?: number }, ref: string) {
  peer.send({ type: 'search', ...request, ref });
  return peer.next('search', (m) => m.ref === ref);
}

describe('the search request', () => {
  it('finds room messages anywhere and its own private messages, newest first, by word prefix and without diacritics', async () => {
    const reply = await search(alice, { q: 'pressure' }, 's1');
    expect(reply).toMatchObject({ type: 'search', q: 'pressure', more: false, ref: 's1' });
    expect(texts(reply.entries as Hit[])).toEqual(['secret pressure reading 42', 'Café pressure valve replaced', 'The pump station reports pressure low']);
    expect(texts((await search(alice, { q: 'press cafe' }, 's2')).entries as Hit[])).toEqual(['Café pressure valve replaced']);
  });

  it("never finds other members' private messages; an operator finds everything", async () => {
    expect(texts((await search(carol, { q: 'pressure' }, 'c1')).entries as Hit[])).toEqual([
      'Café pressure valve replaced',
      'The pump station reports pressure low',
    ]);
    expect((await search(carol, { q: 'secret' }, 'c2')).entries).toEqual([]);
    await api(gateway, 'POST', '/api/accounts', { name: 'root', password: PASSWORD, role: 'admin' }, admin);
    const operator = await Peer.ws(gateway.wsUrl);
    await operator.hello('root', { password: PASSWORD });
    expect(texts((await search(operator, { q: 'secret' }, 'o1')).entries as Hit[])).toEqual(['secret pressure reading 42']);
    operator.destroy();
  });

  it('narrows to one room, pages with limit and before, and treats FTS syntax as words', async () => {
    const ops = await search(alice, { q: 'pressure', room: 'ops' }, 'r1');
    expect(ops).toMatchObject({ room: 'ops', more: false });
    expect(texts(ops.entries as Hit[])).toEqual(['Café pressure valve replaced']);
    const first = await search(alice, { q: 'pressure', limit: 1 }, 'p1');
    expect(first.more).toBe(true);
    const next = await search(alice, { q: 'pressure', limit: 1, before: first.entries[0]!.id }, 'p2');
    expect(texts(next.entries as Hit[])).toEqual(['Café pressure valve replaced']);
    for (const q of ['"', 'pressure OR secret', 'NEAR(', '*', 'text:secret', '-']) {
      const reply = await search(carol, { q }, `x${q}`);
      expect(texts(reply.entries as Hit[]).some((t) => t.startsWith('secret'))).toBe(false);
    }
  });

  it('refuses bad requests with a stable code and keeps the connection', async () => {
    alice.send({ type: 'search', q: '', ref: 'e1' });
    expect(await alice.next('error', (m) => m.ref === 'e1')).toMatchObject({ code: 'INVALID_MESSAGE' });
    alice.send({ type: 'search', q: 'x'.repeat(257), ref: 'e2' });
    expect(await alice.next('error', (m) => m.ref === 'e2')).toMatchObject({ code: 'INVALID_MESSAGE' });
    alice.send({ type: 'search', q: 'pump', room: 'no room!', ref: 'e3' });
    expect(await alice.next('error', (m) => m.ref === 'e3')).toMatchObject({ code: 'ROOM_INVALID' });
    expect((await search(alice, { q: 'pump' }, 'ok')).entries).toHaveLength(1);
  });

  it('finds file names', async () => {
    alice.send({ type: 'file-offer', transfer: 7, name: 'gauge-readings.csv', size: 3, room: 'lobby' });
    await alice.next('file-offer', (m) => m.name === 'gauge-readings.csv');
    const reply = await search(carol, { q: 'readings' }, 'f1');
    expect(reply.entries).toEqual([expect.objectContaining({ kind: 'file', name: 'gauge-readings.csv', room: 'lobby' })]);
  });
});

describe('restricted rooms', () => {
  it('a room that does not admit the searcher is not searched; an account it names and an operator find it', async () => {
    await api(gateway, 'POST', '/api/accounts', { name: 'dora', password: PASSWORD }, admin);
    const dora = await Peer.ws(gateway.wsUrl);
    const doraToken = (await dora.hello('dora', { password: PASSWORD })).token!;
    dora.send({ type: 'join', room: 'vault' });
    await dora.next('roster', (r) => r.room === 'vault');
    dora.send({ type: 'message', room: 'vault', text: 'vault combination pressure 9' });
    await dora.next('message', (m) => m.text.startsWith('vault combination'));
    expect((await api(gateway, 'PUT', '/api/rooms/vault', { access: 'named', accounts: ['dora'] }, admin)).status).toBe(200);

    expect((await search(carol, { q: 'combination' }, 'v1')).entries).toEqual([]);
    carol.send({ type: 'search', q: 'combination', room: 'vault', ref: 'v2' });
    expect(await carol.next('error', (m) => m.ref === 'v2')).toMatchObject({ code: 'ROOM_FORBIDDEN' });
    expect(texts((await search(dora, { q: 'combination' }, 'v3')).entries as Hit[])).toEqual(['vault combination pressure 9']);
    const get = (headers: Record<string, string>) => api<{ entries: Hit[] }>(gateway, 'GET', '/api/search?q=combination', undefined, headers);
    expect((await get({})).body.entries).toEqual([]);
    expect((await get({ authorization: `Bearer ${carolToken}` })).body.entries).toEqual([]);
    expect(texts((await get({ authorization: `Bearer ${doraToken}` })).body.entries)).toEqual(['vault combination pressure 9']);
    expect(texts((await get(admin)).body.entries)).toEqual(['vault combination pressure 9']);
    expect((await api(gateway, 'GET', '/api/search?q=combination&room=vault')).body).toMatchObject({ code: 'ROOM_FORBIDDEN' });
    dora.destroy();
  });
});

describe('GET /api/search', () => {
  const get = (query: string, headers: Record<string, string> = {}) =>
    api<{ code?: string; q: string; entries: Hit[]; more: boolean }>(gateway, 'GET', `/api/search?${query}`, undefined, headers);

  it("a member's resume token reads what that member may read", async () => {
    const mine = await get('q=pressure', { authorization: `Bearer ${aliceToken}` });
    expect(mine.status).toBe(200);
    expect(texts(mine.body.entries)).toContain('secret pressure reading 42');
    const theirs = await get('q=secret', { authorization: `Bearer ${carolToken}` });
    expect(theirs.body).toEqual({ q: 'secret', entries: [], more: false });
  });

  it('without credentials: rooms only; with the admin token: everything', async () => {
    const anonymous = await get('q=pressure');
    expect(anonymous.status).toBe(200);
    expect(texts(anonymous.body.entries)).toEqual(['Café pressure valve replaced', 'The pump station reports pressure low']);
    expect(texts((await get('q=secret', admin)).body.entries)).toEqual(['secret pressure reading 42']);
    expect(texts((await get('q=pressure&room=lobby')).body.entries)).toEqual(['The pump station reports pressure low']);
  });

  it('bad input is a 4xx with a code', async () => {
    expect((await get('q=')).body.code).toBe('VALIDATION_FAILED');
    expect((await get('')).body.code).toBe('VALIDATION_FAILED');
    expect((await get('q=a&room=no%20room')).body.code).toBe('ROOM_INVALID');
    const wrong = await get('q=pressure', { authorization: 'Bearer not-a-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('UNAUTHORIZED');
  });
});
