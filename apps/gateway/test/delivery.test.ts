import { afterEach, describe, expect, it } from 'vitest';
import { Delivery, INPUT_THROTTLE_BYTES } from '../src/delivery/delivery.js';
import { Outbox, type DeliveryTarget } from '../src/delivery/outbox.js';
import { MemoryLink, settle } from './memory-link.js';

// Delivery's rules with in-memory links: no sockets, the same code paths as the gateway's.

function target(id: string): DeliveryTarget & { link: MemoryLink } {
  return { id, outbox: new Outbox(), link: new MemoryLink() };
}

const frame = (bytes: number): Uint8Array => {
  const f = new Uint8Array(bytes);
  f.set([0, 0, (bytes - 4) >> 8, (bytes - 4) & 0xff, 0x00]); // a text frame of that length
  return f;
};

describe('Delivery', () => {
  const overflowed: string[] = [];
  let commits = 0;
  const delivery = (maxQueueBytes = 10_000) =>
    new Delivery({ maxQueueBytes, flushWindowMs: 0, beforeWrite: () => void commits++, overflowed: (t) => void overflowed.push(t.id) });
  afterEach(() => {
    overflowed.length = 0;
    commits = 0;
  });

  it('writes each member once per flush, after the history commit, with the same frame objects', async () => {
    const d = delivery();
    const a = target('a');
    const b = target('b');
    const shared = frame(20);
    d.deliver(a, shared);
    d.deliver(b, shared);
    d.deliver(a, frame(30));
    expect(d.queuedBytes).toBe(70);
    await settle();
    expect(commits).toBe(1);
    expect(a.link.log).toEqual([`write ${a.link.address}`]);
    expect(a.link.received).toHaveLength(2);
    expect(b.link.received).toHaveLength(1);
    expect(d.queuedBytes).toBe(0);
  });

  it('cuts only a member whose peer stopped reading once its queue passes the limit', async () => {
    const d = delivery(1000);
    const sleeper = target('sleeper');
    const reader = target('reader');
    sleeper.link.backlog = 900; // its socket still holds what it has not read
    d.deliver(sleeper, frame(20));
    await settle();
    d.deliver(sleeper, frame(200)); // 900 in the socket + 200 > 1000
    d.deliver(reader, frame(200));
    await settle();
    expect(overflowed).toEqual(['sleeper']);
    expect(sleeper.outbox.overflowed).toBe(true);
    d.deliver(sleeper, frame(20)); // nothing more is queued for it
    expect(sleeper.outbox.frames).toHaveLength(0);
    expect(reader.link.received).toHaveLength(1);
  });

  it('pauses a sender until its receiver drains, and resumes it after the flush loop, never inside it', async () => {
    const d = delivery(10_000_000);
    const sender = target('sender');
    const receiver = target('receiver');
    const other = target('other');
    receiver.link.backlog = 300_000; // behind: above the high-water mark
    d.deliver(receiver, frame(100));
    expect(d.isBackedUp(receiver)).toBe(true);
    d.block(sender, receiver);
    expect(sender.link.paused).toBe(true);
    expect(d.waitingSince(sender)).toBeGreaterThan(0);
    // The receiver's peer reads everything: the flush that writes it also sees it drained.
    receiver.link.backlog = 0;
    d.deliver(other, frame(100));
    sender.link.log.length = 0;
    const order: string[] = [];
    receiver.link.write = (frames) => void order.push(`write receiver ${frames.length}`);
    other.link.write = (frames) => void order.push(`write other ${frames.length}`);
    sender.link.resumeInput = () => void order.push('resume sender');
    await settle();
    expect(order).toEqual(['write receiver 1', 'write other 1', 'resume sender']);
    expect(d.waitingSince(sender)).toBe(0);
  });

  it('throttles every sender while the outboxes hold more than the throttle mark, until the next flush', async () => {
    const d = delivery(100 * 1024 * 1024);
    const sender = target('sender');
    const receivers = Array.from({ length: 20 }, (_, i) => target(`r${i}`));
    const big = frame(1024 * 1024);
    for (const r of receivers) d.deliver(r, big); // 20 MiB queued, not yet flushed
    expect(d.queuedBytes).toBeGreaterThan(INPUT_THROTTLE_BYTES);
    d.afterInput(sender);
    expect(sender.link.paused).toBe(true);
    expect(sender.outbox.throttled).toBe(true);
    await settle();
    expect(sender.link.paused).toBe(false);
    expect(sender.outbox.throttled).toBe(false);
  });

  it('a member that does not read its own replies stops being read', () => {
    const d = delivery(100 * 1024 * 1024);
    const greedy = target('greedy');
    greedy.link.backlog = 400_000;
    d.afterInput(greedy);
    expect(greedy.link.paused).toBe(true);
    d.drained(greedy); // still 400 KB behind: stays paused
    expect(greedy.link.paused).toBe(true);
    greedy.link.backlog = 0;
    d.drained(greedy);
    expect(greedy.link.paused).toBe(false);
  });

  it('held input stays paused until every reason to pause is gone', async () => {
    const d = delivery(10_000_000);
    const member = target('m');
    const receiver = target('r');
    d.hold(member);
    receiver.link.backlog = 300_000;
    d.block(member, receiver);
    d.unhold(member); // still waiting for the receiver
    expect(member.link.paused).toBe(true);
    receiver.link.backlog = 0;
    d.drained(receiver);
    expect(member.link.paused).toBe(false);
  });

  it('a closing member hands back what was queued and releases whoever waited on it', () => {
    const d = delivery(10_000_000);
    const sender = target('sender');
    const leaver = target('leaver');
    leaver.link.backlog = 300_000;
    d.block(sender, leaver);
    d.deliver(leaver, frame(10));
    const left = d.close(leaver);
    expect(left).toHaveLength(1);
    expect(sender.link.paused).toBe(false);
    expect(d.queuedBytes).toBe(0);
    d.deliver(leaver, frame(10));
    expect(leaver.outbox.frames).toHaveLength(0);
  });
});
