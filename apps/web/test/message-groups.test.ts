import { describe, expect, it } from 'vitest';
import type { ChatLine } from '../src/lib/chat-line.js';
import { GROUP_GAP_MS, groupLines } from '../src/lib/message-groups.js';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
let id = 0;
const message = (from: string, ts: number, transport: 'tcp' | 'ws' = 'tcp'): ChatLine => ({
  kind: 'message',
  key: `m${++id}`,
  id,
  from,
  transport,
  ts,
  text: `${from} at ${ts - T0}`,
});

/** Each block as the senders of its lines (a group) or the kind of its line. */
const shape = (lines: ChatLine[]): string[][] =>
  groupLines(lines).map((block) => (block.kind === 'group' ? block.lines.map((l) => l.from) : [block.line.kind]));

describe('groupLines', () => {
  it('puts consecutive messages from one sender in one group, and starts another for the next sender', () => {
    const lines = [message('bob', T0), message('bob', T0 + 1000), message('bob', T0 + 2000), message('carol', T0 + 3000), message('bob', T0 + 4000)];
    expect(shape(lines)).toEqual([['bob', 'bob', 'bob'], ['carol'], ['bob']]);
    const blocks = groupLines(lines);
    // A group is keyed by its first line, so it keeps its place as lines are added to it.
    expect(blocks.map((b) => b.key)).toEqual([lines[0]!.key, lines[3]!.key, lines[4]!.key]);
  });

  it('starts a new group after a pause longer than the gap, measured from the line before', () => {
    const lines = [message('bob', T0), message('bob', T0 + GROUP_GAP_MS), message('bob', T0 + 2 * GROUP_GAP_MS), message('bob', T0 + 3 * GROUP_GAP_MS + 1)];
    expect(shape(lines)).toEqual([['bob', 'bob', 'bob'], ['bob']]);
  });

  it('keeps a name over another transport apart (another member)', () => {
    expect(shape([message('bob', T0, 'tcp'), message('bob', T0 + 1, 'ws')])).toEqual([['bob'], ['bob']]);
  });

  it('lets files, presence and notices stand alone and end the group before them', () => {
    const file: ChatLine = { kind: 'file', key: 'f1', id: 900, from: 'bob', transport: 'tcp', ts: T0 + 2, name: 'a.txt', size: 1, mime: 'text/plain' };
    const join: ChatLine = { kind: 'presence', key: 'e1', ts: T0 + 4, event: 'join', name: 'carol', transport: 'ws' };
    const notice: ChatLine = { kind: 'notice', key: 'e2', ts: T0 + 6, text: 'restarting', scope: 'all' };
    const lines = [message('bob', T0), message('bob', T0 + 1), file, message('bob', T0 + 3), join, message('bob', T0 + 5), notice, message('bob', T0 + 7)];
    expect(shape(lines)).toEqual([['bob', 'bob'], ['file'], ['bob'], ['presence'], ['bob'], ['notice'], ['bob']]);
  });

  it('returns nothing for no lines', () => {
    expect(groupLines([])).toEqual([]);
  });
});
