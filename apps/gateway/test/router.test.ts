import { describe, expect, it } from 'vitest';
import { connect, settle, testHub } from './memory-link.js';

describe('router', () => {
  it('a room message reaches each member of the room once; only the sender gets it with its ref; other rooms hear nothing', async () => {
    const hub = testHub();
    const ann = connect(hub, { name: 'ann' }, 'ws');
    const bob = connect(hub, { name: 'bob' }, 'ws');
    const cat = connect(hub, { name: 'cat', room: 'den' }, 'ws');
    await settle(20);
    ann.send({ type: 'message', text: 'hi', ref: 'r1' });
    await settle(20);
    expect(ann.link.of('message').map((m) => [m.from, m.room, m.text, m.ref])).toEqual([['ann', 'lobby', 'hi', 'r1']]);
    expect(bob.link.of('message').map((m) => [m.from, m.room, m.text, m.ref])).toEqual([['ann', 'lobby', 'hi', undefined]]);
    expect(cat.link.of('message')).toEqual([]);
    await hub.close();
  });

  it("fan-out skips the sender when it is a device: a plain device's line reaches the people in its room, never itself", async () => {
    const hub = testHub();
    const ann = connect(hub, { name: 'ann' }, 'ws');
    const device = connect(hub); // no hello: a plain device once it sends
    await settle(20);
    device.send({ type: 'text', text: 'temp 21' });
    await settle(80);
    expect(ann.link.of('message').map((m) => [m.room, m.text])).toEqual([['lobby', 'temp 21']]);
    expect(device.link.lines()).toEqual([]);
    expect(device.link.of('message')).toEqual([]);
    await hub.close();
  });

  it('a private message reaches its addressee only, and its sender as the acknowledgement', async () => {
    const hub = testHub();
    const ann = connect(hub, { name: 'ann' }, 'ws');
    const bob = connect(hub, { name: 'bob' }, 'ws');
    const cat = connect(hub, { name: 'cat' }, 'ws');
    await settle(20);
    ann.send({ type: 'private', to: 'bob', text: 'psst', ref: 'p1' });
    await settle(20);
    expect(bob.link.of('private').map((m) => [m.from, m.to, m.text, m.ref])).toEqual([['ann', 'bob', 'psst', undefined]]);
    expect(ann.link.of('private').map((m) => [m.from, m.to, m.text, m.ref])).toEqual([['ann', 'bob', 'psst', 'p1']]);
    expect(cat.link.of('private')).toEqual([]);
    await hub.close();
  });
});
