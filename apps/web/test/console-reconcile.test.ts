import type { TrafficEntry } from '@switchboard/gateway/api-types';
import { describe, expect, it } from 'vitest';
import { HOLD_MS, Reconciler } from '../src/lib/console/reconcile.js';

let clock = 1_000_000;
const entry = (direction: 'in' | 'out', hex: string, ts = clock++, auto = false): TrafficEntry => ({
  ts,
  time: new Date(ts).toISOString(),
  direction,
  length: hex.split(' ').length,
  hex,
  text: '',
  auto,
});

describe('one log from the pipe, the page and the gateway', () => {
  it('shows the whole first page', () => {
    const r = new Reconciler(() => 0);
    const log = [entry('in', '41'), entry('out', '42')];
    expect(r.seed(log)).toEqual(log);
  });

  it('does not show twice what the pipe brought while the first page was read', () => {
    const r = new Reconciler(() => 0);
    r.pipeIn('50'); // "P", shown from the pipe
    const older = entry('in', '50'); // the same bytes, earlier
    const fromPipe = entry('in', '50');
    expect(r.seed([older, fromPipe])).toEqual([older]);
    // Confirmed: a later page with it again brings nothing.
    expect(r.poll([older, fromPipe], 100, true).show).toEqual([]);
  });

  it("confirms the page's own sends and the pipe's bytes, and shows what only the gateway saw", () => {
    const r = new Reconciler(() => 0);
    r.seed([]);
    r.localOut('02 53 03');
    r.pipeIn('06');
    const mine = entry('out', '02 53 03');
    const ack = entry('in', '06');
    const autoReply = entry('out', '50 4f 4e 47', clock++, true);
    const fromRoom = entry('out', '68 69');
    const page = [mine, ack, autoReply, fromRoom];
    expect(r.poll(page, 100, true).show).toEqual([autoReply, fromRoom]);
    expect(r.poll(page, 100, true).show).toEqual([]);
  });

  it('counts entries that share a millisecond', () => {
    const r = new Reconciler(() => 0);
    const a = entry('out', '61', 5);
    const b = entry('out', '62', 5);
    expect(r.seed([a])).toEqual([a]);
    expect(r.poll([a, b], 100, false).show).toEqual([b]);
  });

  it('holds an incoming entry the pipe should bring, and shows it if the pipe never does', () => {
    let now = 0;
    const r = new Reconciler(() => now);
    r.seed([]);
    const early = entry('in', '01');
    expect(r.poll([early], 100, true).show).toEqual([]);
    r.pipeIn('01'); // the pipe brings it: nothing more to show
    now += HOLD_MS * 2;
    expect(r.poll([early], 100, true).show).toEqual([]);

    const lost = entry('in', '02');
    expect(r.poll([early, lost], 100, true).show).toEqual([]);
    now += HOLD_MS;
    expect(r.poll([early, lost], 100, true).show).toEqual([lost]);
  });

  it('shows incoming entries from the log at once while there is no pipe', () => {
    const r = new Reconciler(() => 0);
    r.seed([]);
    const e = entry('in', '03');
    expect(r.poll([e], 100, false).show).toEqual([e]);
  });

  it('asks for a longer page when a full page is all new', () => {
    const r = new Reconciler(() => 0);
    const first = entry('in', '00');
    r.seed([first]);
    const burst = [entry('in', '01'), entry('in', '02')];
    expect(r.poll(burst, 2, false)).toEqual({ show: [], gap: true });
    expect(r.poll([first, ...burst], null, false).show).toEqual(burst);
  });
});
