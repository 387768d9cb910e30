import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { Peer } from '../helpers/peer.js';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

describe('rooms', () => {
  it('members join, talk in, list and leave rooms; presence and roster are per room', async () => {
    const ann = await Peer.tcp(gateway.tcpPort);
    const ben = await Peer.ws(gateway.wsUrl);
    const cat = await Peer.tcp(gateway.tcpPort);
    await ann.hello('ann');
    await ben.hello('ben');
    await cat.hello('cat');

    ann.send({ type: 'join', room: 'ops' });
    const annJoined = await ann.next('presence', (p) => p.room === 'ops' && p.event === 'join');
    expect(annJoined.member.name).toBe('ann');
    await expect(ann.next('roster', (r) => r.room === 'ops')).resolves.toMatchObject({ members: [expect.objectContaining({ name: 'ann' })] });
    ben.send({ type: 'join', room: 'ops' });
    await ann.next('presence', (p) => p.room === 'ops' && p.member.name === 'ben');

    ann.send({ type: 'rooms' });
    const rooms = await ann.next('rooms');
    expect(rooms.rooms).toEqual(
      expect.arrayContaining([
        { name: 'lobby', members: 3 },
        { name: 'ops', members: 2 },
      ]),
    );

    // ops is now ann's current room: a type-0 frame goes there, and cat (lobby only) never sees it.
    ann.send({ type: 'text', text: 'ops only' });
    await expect(ben.next('message', (m) => m.text === 'ops only')).resolves.toMatchObject({ room: 'ops' });
    ann.send({ type: 'message', room: 'lobby', text: 'lobby too' });
    await expect(cat.next('message', (m) => m.text === 'lobby too')).resolves.toMatchObject({ room: 'lobby' });
    expect(cat.received.some((m) => m.type === 'message' && m.text === 'ops only')).toBe(false);
    expect(cat.received.some((m) => m.type === 'presence' && m.room === 'ops')).toBe(false);

    cat.send({ type: 'message', room: 'ops', text: 'sneaky' });
    await expect(cat.next('error')).resolves.toMatchObject({ code: 'NOT_IN_ROOM' });

    ben.send({ type: 'leave', room: 'ops' });
    await expect(ann.next('presence', (p) => p.room === 'ops' && p.event === 'leave')).resolves.toMatchObject({
      reason: 'left',
      member: expect.objectContaining({ name: 'ben' }),
    });
    await expect(ben.next('presence', (p) => p.room === 'ops' && p.event === 'leave')).resolves.toBeDefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(ben.received.filter((m) => m.type === 'presence' && m.room === 'ops' && m.event === 'leave')).toHaveLength(1);
    ann.send({ type: 'leave', room: 'ops' });
    await ann.next('presence', (p) => p.room === 'ops' && p.event === 'leave');
    ann.send({ type: 'rooms' });
    const after = await ann.next('rooms');
    expect(after.rooms.map((r) => r.name)).toEqual(['lobby']); // empty rooms other than lobby go away
    for (const p of [ann, ben, cat]) p.end();
  });

  it('a member can change its name; a taken or invalid one is refused', async () => {
    const a = await Peer.tcp(gateway.tcpPort);
    const b = await Peer.ws(gateway.wsUrl);
    await a.hello('before');
    await b.hello('other');
    a.send({ type: 'nick', name: 'OTHER' });
    await expect(a.next('error')).resolves.toMatchObject({ code: 'NAME_TAKEN' });
    a.send({ type: 'nick', name: '../etc' });
    await expect(a.next('error')).resolves.toMatchObject({ code: 'NAME_INVALID' });
    a.send({ type: 'nick', name: 'after' });
    const renamed = await b.next('presence', (p) => p.event === 'rename');
    expect(renamed).toMatchObject({ previousName: 'before', member: expect.objectContaining({ name: 'after' }) });
    a.send({ type: 'message', text: 'new name' });
    await expect(b.next('message', (m) => m.text === 'new name')).resolves.toMatchObject({ from: 'after' });
    a.end();
    b.end();
  });
});

describe('private messages', () => {
  it('reach one member by name from either transport, and no one else', async () => {
    const tcp = await Peer.tcp(gateway.tcpPort);
    const web = await Peer.ws(gateway.wsUrl);
    const bystander = await Peer.tcp(gateway.tcpPort);
    await tcp.hello('pm-tcp');
    await web.hello('pm-web');
    await bystander.hello('bystander');
    tcp.send({ type: 'private', to: 'PM-WEB', text: 'psst from tcp' });
    const got = await web.next('private');
    expect(got).toMatchObject({ from: 'pm-tcp', to: 'pm-web', text: 'psst from tcp', transport: 'tcp' });
    const echo = await tcp.next('private');
    expect(echo.id).toBe(got.id);
    web.send({ type: 'private', to: 'pm-tcp', text: 'psst back' });
    await expect(tcp.next('private', (m) => m.text === 'psst back')).resolves.toMatchObject({ from: 'pm-web', transport: 'ws' });
    await new Promise((r) => setTimeout(r, 100));
    expect(bystander.received.some((m) => m.type === 'private')).toBe(false);
    for (const p of [tcp, web, bystander]) p.end();
  });

  it('are in history: one conversation with `with`, all of them with `private`, after reconnecting too', async () => {
    const kim = await Peer.tcp(gateway.tcpPort);
    const lee = await Peer.ws(gateway.wsUrl);
    const max = await Peer.tcp(gateway.tcpPort);
    const { token } = await kim.hello('hist-kim');
    await lee.hello('hist-lee');
    await max.hello('hist-max');
    kim.send({ type: 'private', to: 'hist-lee', text: 'kim to lee' });
    await lee.next('private', (m) => m.text === 'kim to lee');
    lee.send({ type: 'private', to: 'hist-kim', text: 'lee to kim' });
    await kim.next('private', (m) => m.text === 'lee to kim');
    max.send({ type: 'private', to: 'hist-kim', text: 'max to kim' });
    await kim.next('private', (m) => m.text === 'max to kim');
    kim.send({ type: 'message', room: 'lobby', text: 'kim in lobby' });
    await kim.next('message', (m) => m.text === 'kim in lobby');
    kim.end();

    // A newcomer who takes the freed name is someone else: none of kim's conversations are his.
    const newcomer = await Peer.tcp(gateway.tcpPort);
    await newcomer.hello('hist-kim');
    newcomer.send({ type: 'history', private: true, limit: 10 });
    await expect(newcomer.next('history', (h) => h.private === true)).resolves.toMatchObject({ entries: [] });
    newcomer.end();
    await newcomer.waitClosed();

    // A new connection with kim's resume token: what a reloaded page does.
    const again = await Peer.ws(gateway.wsUrl);
    expect((await again.hello(undefined, { token })).name).toBe('hist-kim');
    again.send({ type: 'history', with: 'HIST-LEE', limit: 10 });
    const withLee = await again.next('history', (h) => h.with !== undefined);
    expect(withLee).toMatchObject({ with: 'HIST-LEE', more: false });
    expect(withLee.entries.map((e) => ('text' in e ? e.text : ''))).toEqual(['kim to lee', 'lee to kim']);

    again.send({ type: 'history', private: true, limit: 10 });
    const all = await again.next('history', (h) => h.private === true);
    expect(all.entries.map((e) => ('text' in e ? e.text : ''))).toEqual(['kim to lee', 'lee to kim', 'max to kim']);
    expect(all.entries.every((e) => e.kind === 'private')).toBe(true);

    // Scrolling back one at a time within the conversation.
    again.send({ type: 'history', with: 'hist-lee', before: withLee.entries[1]!.id, limit: 1 });
    const older = await again.next('history', (h) => h.with === 'hist-lee');
    expect(older.entries.map((e) => ('text' in e ? e.text : ''))).toEqual(['kim to lee']);

    // max asks for his conversation with lee: there is none, and kim's is not his to read.
    max.send({ type: 'history', with: 'hist-lee', limit: 10 });
    await expect(max.next('history', (h) => h.with === 'hist-lee')).resolves.toMatchObject({ entries: [], more: false });

    again.send({ type: 'history', room: 'lobby', with: 'hist-lee' });
    await expect(again.next('error')).resolves.toMatchObject({ code: 'INVALID_MESSAGE' });
    again.send({ type: 'history', with: 'no spaces allowed' });
    await expect(again.next('error')).resolves.toMatchObject({ code: 'NAME_INVALID' });
    for (const p of [again, lee, max]) p.end();
  });

  it('reach a plain device as a text line', async () => {
    const device = await Peer.tcp(gateway.tcpPort);
    const sender = await Peer.ws(gateway.wsUrl);
    await sender.hello('operator');
    const name = `127.0.0.1:${device.socket!.localPort}`;
    await sender.next('presence', (p) => p.member.name === name);
    sender.send({ type: 'private', to: name, text: 'reboot' });
    await expect(device.waitForLine((l) => l === '[private] operator: reboot')).resolves.toBeDefined();
    device.end();
    sender.end();
  });
});
