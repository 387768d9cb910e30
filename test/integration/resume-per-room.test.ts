import type { HistoryEntry } from '@switchboard/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@switchboard/client';
import { api, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { ROOM_SPACE, perRoomIds } from '../helpers/per-room-ids.js';
import { Peer } from '../helpers/peer.js';

// A real gateway whose ids are taken per room (as on a Redis Cluster, each room's counter on its
// own shard): lobby, the busy room, runs far ahead of ops. A client that kept one highest id for
// every room would ask ops for ids above lobby's and miss what ops said while it was away.
let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({ limits: { ratePerSecond: 1000, rateBurst: 1000 } }, { cluster: perRoomIds() });
});
afterAll(async () => {
  await gateway.close();
});

const texts = (entries: readonly HistoryEntry[] | undefined): string[] => (entries ?? []).map((e) => (e.kind === 'file' ? e.name : e.text));

describe('a client in two rooms resumes each from its own last id', () => {
  it('Node client: lastIds per room, and catchUp() brings exactly what each room said while it was away', async () => {
    const talker = await Peer.tcp(gateway.tcpPort);
    await talker.hello('talker');
    talker.send({ type: 'join', room: 'ops' });
    await talker.next('history', (h) => h.room === 'ops');
    for (let i = 0; i < 5; i++) talker.send({ type: 'message', room: 'lobby', text: `lobby before ${i}` });
    await talker.next('message', (m) => m.text === 'lobby before 4');

    const first = await connect({ port: gateway.tcpPort, name: 'resumer' });
    await first.join('ops');
    const seen = Promise.all([first.waitFor('message', (m) => m.text === 'ops seen'), first.waitFor('message', (m) => m.text === 'lobby seen')]);
    talker.send({ type: 'message', room: 'ops', text: 'ops seen' });
    talker.send({ type: 'message', room: 'lobby', text: 'lobby seen' });
    const [opsSeen, lobbySeen] = await seen;
    expect(first.lastIds).toEqual({ lobby: lobbySeen.id, ops: opsSeen.id });
    // The premise: lobby's ids are above every id ops has.
    expect(lobbySeen.id).toBeGreaterThan(opsSeen.id + ROOM_SPACE);
    const saved = first.lastIds;
    const token = first.token!;
    await first.close();

    for (const text of ['ops missed 1', 'ops missed 2']) talker.send({ type: 'message', room: 'ops', text });
    for (const text of ['lobby missed 1', 'lobby missed 2', 'lobby missed 3']) talker.send({ type: 'message', room: 'lobby', text });
    await talker.next('message', (m) => m.text === 'lobby missed 3');

    const again = await connect({ port: gateway.tcpPort, token, room: 'lobby', since: saved.lobby });
    const helloHistory = await again.waitFor('history', (h) => h.room === 'lobby');
    expect(texts(helloHistory.entries)).toEqual(['lobby missed 1', 'lobby missed 2', 'lobby missed 3']);
    const missed = await again.catchUp(saved);
    expect(Object.keys(missed).sort()).toEqual(['lobby', 'ops']);
    expect(texts(missed.lobby)).toEqual(['lobby missed 1', 'lobby missed 2', 'lobby missed 3']);
    expect(texts(missed.ops)).toEqual(['ops missed 1', 'ops missed 2']);
    expect(again.joinedRooms).toEqual(expect.arrayContaining(['lobby', 'ops']));
    expect(again.lastIds.ops).toBe(missed.ops!.at(-1)!.id);
    // What one highest id for every room (the old way) would have got of ops: nothing.
    expect((await again.history({ room: 'ops', after: Math.max(...Object.values(saved)) })).entries).toEqual([]);
    expect(again.lastIds.lobby).toBe(missed.lobby!.at(-1)!.id);
    await again.close();

    // The operator's history across rooms is by time, then id: the newest is ops's, though its id is far below lobby's.
    talker.send({ type: 'message', room: 'ops', text: 'ops last' });
    const opsLast = await talker.next('message', (m) => m.text === 'ops last');
    const newest = await api(gateway, 'GET', '/api/history?limit=2');
    expect(newest.status).toBe(200);
    expect(texts(newest.body.entries)).toEqual(['lobby missed 3', 'ops last']);
    const older = await api(gateway, 'GET', `/api/history?limit=2&before=${opsLast.id}`);
    expect(texts(older.body.entries)).toEqual(['lobby missed 2', 'lobby missed 3']);
    // An id no entry has places nothing: a stable code, not a guess.
    const unknown = await api(gateway, 'GET', `/api/history?before=${opsLast.id + 2}`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('INVALID_MESSAGE');
    talker.end();
  });
});
