import { describe, expect, it } from 'vitest';
import { connect, settle, testHub } from './memory-link.js';

describe('membership', () => {
  it('a name held by one member is refused to another (NAME_TAKEN), and free once its holder leaves', async () => {
    const hub = testHub();
    const ann = connect(hub, { name: 'ann' }, 'ws');
    const bob = connect(hub, { name: 'bob' }, 'ws');
    await settle(20);
    bob.send({ type: 'nick', name: 'ann', ref: 'n1' });
    await settle(20);
    expect(bob.link.of('error').map((e) => [e.code, e.ref])).toEqual([['NAME_TAKEN', 'n1']]);
    expect(bob.member.name).toBe('bob');
    hub.disconnect(ann.member, 'quit');
    await settle(20);
    bob.send({ type: 'nick', name: 'ann', ref: 'n2' });
    await settle(20);
    expect(bob.member.name).toBe('ann');
    expect(
      bob.link
        .of('presence')
        .filter((p) => p.event === 'rename')
        .map((p) => [p.member.name, p.previousName]),
    ).toEqual([['ann', 'bob']]);
    await hub.close();
  });

  it("join and leave: the room's members see presence, and who left hears the room no more", async () => {
    const hub = testHub();
    const ann = connect(hub, { name: 'ann' }, 'ws');
    const bob = connect(hub, { name: 'bob' }, 'ws');
    await settle(20);
    ann.send({ type: 'join', room: 'den', ref: 'j1' });
    await settle(20);
    bob.send({ type: 'join', room: 'den', ref: 'j2' });
    await settle(20);
    const denPresence = (client: typeof ann) =>
      client.link
        .of('presence')
        .filter((p) => p.room === 'den')
        .map((p) => [p.event, p.member.name]);
    expect(denPresence(ann)).toEqual([
      ['join', 'ann'],
      ['join', 'bob'],
    ]);
    bob.send({ type: 'leave', room: 'den', ref: 'l1' });
    await settle(20);
    expect(denPresence(ann)).toEqual([
      ['join', 'ann'],
      ['join', 'bob'],
      ['leave', 'bob'],
    ]);
    ann.send({ type: 'message', room: 'den', text: 'still here?' });
    await settle(20);
    expect(bob.link.of('message').filter((m) => m.room === 'den')).toEqual([]);
    expect(hub.members.get(bob.member.id)?.rooms.map((r) => r.name)).toEqual(['lobby']);
    await hub.close();
  });

  it('a member that disconnects leaves every room it was in, with its reason', async () => {
    const hub = testHub();
    const ann = connect(hub, { name: 'ann' }, 'ws');
    const bob = connect(hub, { name: 'bob' }, 'ws');
    await settle(20);
    ann.send({ type: 'join', room: 'den' });
    bob.send({ type: 'join', room: 'den' });
    await settle(20);
    hub.disconnect(bob.member, 'quit');
    await settle(20);
    expect(
      ann.link
        .of('presence')
        .filter((p) => p.event === 'leave')
        .map((p) => [p.room, p.member.name, p.reason]),
    ).toEqual([
      ['lobby', 'bob', 'quit'],
      ['den', 'bob', 'quit'],
    ]);
    await hub.close();
  });
});
