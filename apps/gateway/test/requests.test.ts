import { describe, expect, it } from 'vitest';
import { connect, settle, testHub } from './memory-link.js';

describe('requests', () => {
  it('a refused request is answered with its ref and a stable code, and the member stays to ask again', async () => {
    const hub = testHub();
    const ann = connect(hub, { name: 'ann' }, 'ws');
    await settle(20);
    ann.send({ type: 'private', to: 'nobody', text: 'x', ref: 'p1' });
    ann.send({ type: 'roster', room: 'nowhere', ref: 'r1' });
    ann.send({ type: 'leave', room: 'nowhere', ref: 'l1' });
    await settle(20);
    expect(ann.link.of('error').map((e) => [e.code, e.ref, e.fatal])).toEqual([
      ['NO_SUCH_MEMBER', 'p1', undefined],
      ['ROOM_NOT_FOUND', 'r1', undefined],
      ['NOT_IN_ROOM', 'l1', undefined],
    ]);
    ann.send({ type: 'rooms', ref: 'q1' });
    await settle(20);
    expect(ann.link.of('rooms').map((r) => [r.ref, r.rooms])).toEqual([['q1', [{ name: 'lobby', members: 1 }]]]);
    expect(ann.link.ended).toBe(false);
    await hub.close();
  });

  it('before its hello succeeds a member may send nothing else: UNEXPECTED_TYPE', async () => {
    const hub = testHub();
    const ann = connect(hub, { name: 'ann' }, 'ws');
    const bad = connect(hub, { name: 'ann' }, 'ws'); // the name is taken: its hello fails
    await settle(20);
    bad.send({ type: 'rooms', ref: 'q1' });
    await settle(20);
    expect(bad.link.of('error').map((e) => [e.code, e.ref])).toEqual([
      ['NAME_TAKEN', undefined],
      ['UNEXPECTED_TYPE', 'q1'],
    ]);
    expect(bad.link.of('rooms')).toEqual([]);
    expect(ann.link.of('error')).toEqual([]);
    await hub.close();
  });

  it('a hello gets a welcome with the ref, the name and room asked for, and the server name', async () => {
    const hub = testHub();
    const ann = connect(hub, { name: 'ann', room: 'den', ref: 'h1' }, 'ws');
    await settle(20);
    expect(ann.link.of('welcome').map((w) => [w.ref, w.name, w.room, w.server, w.id === ann.member.id])).toEqual([
      ['h1', 'ann', 'den', 'switchboard/0.1.0', true],
    ]);
    await hub.close();
  });
});
