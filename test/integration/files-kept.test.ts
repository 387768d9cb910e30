import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES } from '@switchboard/protocol';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

// Files kept for later (issue 27) against a running gateway: completed, checksum-verified
// files are stored in the data directory within their limits, and listed and downloaded over
// HTTP by the rules of history; the rest never are.

const TOKEN = 'files-admin-token';
const admin = { authorization: `Bearer ${TOKEN}` };
const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
let dataDir: string;
let gateway: RunningGateway;
let alice: Peer;
let bob: Peer;
let carol: Peer;
const tokens: Record<string, string> = {};

interface Kept {
  id: number;
  name: string;
  size: number;
  sha256: string;
  room?: string;
  to?: string;
}

const start = () =>
  startGateway(
    { security: { adminToken: TOKEN }, files: { store: true, maxFileBytes: 100_000, maxRoomBytes: 250_000, maxTotalBytes: 400_000, retentionDays: 30 } },
    { keepDataDir: dataDir },
  );

/** Sends a file; resolves with its history id once the gateway confirmed it (or its error). */
async function sendFile(peer: Peer, transfer: number, name: string, data: Uint8Array, target: { room?: string; to?: string } = {}, digest = sha(data)) {
  peer.send({ type: 'file-offer', transfer, name, size: data.length, ...target });
  const offer = await peer.next('file-offer', (o) => o.name === name);
  for (let at = 0; at < data.length; at += FILE_CHUNK_BYTES) peer.send({ type: 'file-data', transfer, data: data.subarray(at, at + FILE_CHUNK_BYTES) });
  peer.send({ type: 'file-end', transfer, sha256: digest });
  return offer.id;
}

const list = (headers: Record<string, string> = {}, query = '') =>
  api<{ files: Kept[]; more: boolean; store: boolean; code?: string }>(gateway, 'GET', `/api/files${query}`, undefined, headers);

async function download(id: number, headers: Record<string, string> = {}) {
  const response = await fetch(`${gateway.httpUrl}/api/files/${id}`, { headers });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

/** The file is written after its transfer ends: wait until the list shows it. */
async function kept(id: number): Promise<Kept> {
  for (let i = 0; i < 100; i++) {
    const found = (await list(admin)).body.files.find((f) => f.id === id);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`file ${id} was not kept`);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'switchboard-files-kept-'));
  gateway = await start();
  alice = await Peer.tcp(gateway.tcpPort);
  tokens.alice = (await alice.hello('alice')).token!;
  bob = await Peer.ws(gateway.wsUrl);
  tokens.bob = (await bob.hello('bob')).token!;
  carol = await Peer.tcp(gateway.tcpPort);
  tokens.carol = (await carol.hello('carol')).token!;
});

afterAll(async () => {
  for (const peer of [alice, bob, carol]) peer.destroy();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('files kept for later', () => {
  let roomFile: number;
  const roomBytes = randomBytes(70_000);
  let privateFile: number;
  const privateBytes = randomBytes(5_000);

  it('a file sent to a room is kept and downloads as an attachment, byte for byte', async () => {
    roomFile = await sendFile(alice, 1, 'report <b>.html', roomBytes, { room: 'lobby' });
    const file = await kept(roomFile);
    expect(file).toMatchObject({ name: 'report <b>.html', size: roomBytes.length, sha256: sha(roomBytes), room: 'lobby' });
    expect((await list()).body.files.map((f) => f.id)).toContain(roomFile);
    const { response, bytes } = await download(roomFile);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    // The name as the page would save it (sanitizeFileName): no markup, no path.
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="report _b_.html"; filename*=UTF-8''report%20_b_.html`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(bytes.equals(roomBytes)).toBe(true);
  });

  it('a private file: its two sides and an operator only; to anyone else it does not exist', async () => {
    privateFile = await sendFile(alice, 2, 'secret.bin', privateBytes, { to: 'bob' });
    await kept(privateFile);
    for (const who of ['alice', 'bob']) {
      const mine = await list({ authorization: `Bearer ${tokens[who]}` });
      expect(mine.body.files.map((f) => f.id)).toContain(privateFile);
      const { response, bytes } = await download(privateFile, { authorization: `Bearer ${tokens[who]}` });
      expect(response.status).toBe(200);
      expect(bytes.equals(privateBytes)).toBe(true);
    }
    expect((await download(privateFile, admin)).bytes.equals(privateBytes)).toBe(true);
    for (const headers of [{ authorization: `Bearer ${tokens.carol}` }, {}] as Record<string, string>[]) {
      expect((await list(headers)).body.files.map((f) => f.id)).not.toContain(privateFile);
      const { response, bytes } = await download(privateFile, headers);
      expect(response.status).toBe(404);
      expect(JSON.parse(bytes.toString())).toMatchObject({ code: 'FILE_NOT_FOUND' });
    }
    expect((await download(999_999, admin)).response.status).toBe(404);
    expect((await api(gateway, 'GET', '/api/files/abc')).body).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await list({ authorization: 'Bearer wrong' })).status).toBe(401);
  });

  it('a file in a room that does not admit the caller is neither listed nor downloaded', async () => {
    alice.send({ type: 'join', room: 'vault' });
    await alice.next('roster', (r) => r.room === 'vault');
    const vaultBytes = randomBytes(2_000);
    const vaultFile = await sendFile(alice, 9, 'vault.bin', vaultBytes, { room: 'vault' });
    await kept(vaultFile);
    expect((await api(gateway, 'PUT', '/api/rooms/vault', { access: 'operators' }, admin)).status).toBe(200);
    for (const headers of [{}, { authorization: `Bearer ${tokens.carol}` }] as Record<string, string>[]) {
      expect((await list(headers)).body.files.map((f) => f.id)).not.toContain(vaultFile);
      expect((await download(vaultFile, headers)).response.status).toBe(404);
    }
    expect((await download(vaultFile, admin)).bytes.equals(vaultBytes)).toBe(true);
  });

  it('keeps nothing of a transfer that fails its checksum, is stopped, or is larger than the limit; leaves no partial file', async () => {
    const bad = randomBytes(3_000);
    const badId = await sendFile(alice, 3, 'bad.bin', bad, {}, sha(randomBytes(8)));
    expect(await alice.next('error', (e) => e.code === 'FILE_CHECKSUM_MISMATCH')).toBeDefined();
    alice.send({ type: 'file-offer', transfer: 4, name: 'stopped.bin', size: 10_000 });
    const stopped = await alice.next('file-offer', (o) => o.name === 'stopped.bin');
    alice.send({ type: 'file-data', transfer: 4, data: randomBytes(5_000) });
    alice.send({ type: 'file-abort', transfer: 4, reason: 'changed my mind' });
    const big = randomBytes(150_000);
    const bigId = await sendFile(alice, 5, 'big.bin', big);
    // The big one is still relayed whole: bob gets its end.
    expect(await bob.next('file-end', (e) => e.sha256 === sha(big))).toBeDefined();
    // A file sent after them is kept: by then the failed ones are settled.
    const after = await sendFile(alice, 6, 'after.bin', randomBytes(1_000));
    await kept(after);
    const ids = (await list(admin)).body.files.map((f) => f.id);
    for (const id of [badId, stopped.id, bigId]) {
      expect(ids).not.toContain(id);
      expect((await download(id, admin)).response.status).toBe(404);
    }
    expect(readdirSync(join(dataDir, 'files')).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it("past the room limit the room's oldest files go; files survive a restart", async () => {
    const a = await sendFile(carol, 1, 'one.bin', randomBytes(90_000), { room: 'lobby' });
    await kept(a);
    const b = await sendFile(carol, 2, 'two.bin', randomBytes(90_000), { room: 'lobby' });
    await kept(b);
    // lobby: 70 000 (roomFile) + 1 000 (after) + 90 000 + 90 000 > 250 000: the oldest, roomFile, goes.
    const ids = (await list(admin, '?room=lobby')).body.files.map((f) => f.id);
    expect(ids).not.toContain(roomFile);
    expect(ids).toEqual(expect.arrayContaining([a, b]));
    expect(existsSync(join(dataDir, 'files', String(roomFile)))).toBe(false);

    for (const peer of [alice, bob, carol]) peer.destroy();
    await gateway.close();
    gateway = await start();
    const { response, bytes } = await download(privateFile, admin);
    expect(response.status).toBe(200);
    expect(bytes.equals(privateBytes)).toBe(true);
  });
});

describe('--no-file-store', () => {
  it('relays files but keeps none', async () => {
    const off = await startGateway({ files: { store: false } });
    try {
      const sender = await Peer.tcp(off.tcpPort);
      await sender.hello('sender');
      const id = await sendFile(sender, 1, 'x.bin', randomBytes(2_000));
      await sender.next('file-end');
      const listed = await api<{ files: unknown[]; store: boolean }>(off, 'GET', '/api/files');
      expect(listed.body).toEqual({ files: [], more: false, store: false });
      expect((await fetch(`${off.httpUrl}/api/files/${id}`)).status).toBe(404);
      expect(existsSync(join(off.dataDir, 'files'))).toBe(false);
      sender.destroy();
    } finally {
      await off.close();
    }
  });
});
