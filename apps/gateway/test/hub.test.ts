import { describe, expect, it } from 'vitest';
import { SqliteHistoryStore } from '../src/history/sqlite-history-store.js';
import { connect, settle, testHub } from './memory-link.js';

describe('hub', () => {
  it('commits what a member alone in its room says within the turn, though nobody is sent anything', async () => {
    const store = new SqliteHistoryStore(null);
    let commits = 0;
    const flush = store.flush.bind(store);
    store.flush = () => {
      commits++;
      flush();
    };
    const hub = testHub({ history: store });
    const device = connect(hub); // a plain device: hears nothing of its own
    await settle(80);
    const before = commits;
    device.send({ type: 'text', text: 'alone' });
    await settle();
    expect(commits).toBeGreaterThan(before);
    expect(device.link.received.filter((m) => m.type === 'message')).toEqual([]);
    expect(store.query({ room: 'lobby', limit: 10 }).entries.map((e) => ('text' in e ? e.text : ''))).toEqual(['alone']);
    await hub.close();
  });
});
