// Consecutive messages from one sender, close together, read as one block: the sender and the
// time once, then the lines (as chat programs show them). Pure: the message list and its tests
// group the same way.
import type { ChatLine, MessageLine } from './chat-line.js';

/** A message more than this after the one before it starts a new group. */
export const GROUP_GAP_MS = 5 * 60_000;

export type LineBlock =
  /** Messages from one sender in a row; `key` is its first line's. */
  | { kind: 'group'; key: string; lines: MessageLine[] }
  /** Anything else on its own: a file, a join or leave, a notice. */
  | { kind: 'line'; key: string; line: Exclude<ChatLine, { kind: 'message' }> };

function joins(group: MessageLine[], line: MessageLine, gapMs: number): boolean {
  const last = group[group.length - 1]!;
  // The same name over another transport is another member.
  return last.from === line.from && last.transport === line.transport && Math.abs(line.ts - last.ts) <= gapMs;
}

/**
 * The lines as blocks, in order. A message joins the group before it when that group's last
 * line is from the same sender within `gapMs`; files, presence and notices stand alone and end
 * the group before them (what happens between two messages stays between them).
 */
export function groupLines(lines: readonly ChatLine[], gapMs = GROUP_GAP_MS): LineBlock[] {
  const blocks: LineBlock[] = [];
  let open: MessageLine[] | null = null;
  for (const line of lines) {
    if (line.kind !== 'message') {
      blocks.push({ kind: 'line', key: line.key, line });
      open = null;
    } else if (open !== null && joins(open, line, gapMs)) {
      open.push(line);
    } else {
      open = [line];
      blocks.push({ kind: 'group', key: line.key, lines: open });
    }
  }
  return blocks;
}
