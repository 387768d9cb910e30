// Auto-reply rules as the console shows and makes them (they run in the gateway; docs/devices.md,
// "The device console's server side").
import type { NewRule, Rule } from '@switchboard/gateway/api-types';
import { parseEscapes } from '@switchboard/protocol';
import { formatHex } from '../byte-text.js';
import type { DeviceRow } from './device-rows.js';
import { parseHexInput } from './send-input.js';

export type MatchKind = 'equals' | 'contains' | 'regex' | 'hex';
export type ScopeKind = 'device' | 'listener' | 'all';

export const MATCH_LABELS: Record<MatchKind, string> = {
  equals: 'equals',
  contains: 'contains',
  regex: 'matches regex',
  hex: 'is exactly (hex)',
};

/** The rule's one match field. */
export function ruleMatch(rule: Pick<Rule, 'match'>): { kind: MatchKind; value: string } {
  const match = rule.match as Record<string, string>;
  for (const kind of ['equals', 'contains', 'regex', 'hex'] as const) {
    if (typeof match[kind] === 'string') return { kind, value: match[kind] };
  }
  return { kind: 'equals', value: '' };
}

/** The IP address of `ip:port` (`[::1]:5000` → `::1`). */
export function ipOf(address: string): string {
  const at = address.lastIndexOf(':');
  const host = at < 0 ? address : address.slice(0, at);
  return host.replace(/^\[|\]$/g, '');
}

export function describeScope(scope: Rule['scope'], row: DeviceRow | null): string {
  if (scope === 'all') return 'every device';
  if ('link' in scope) return row?.id === scope.link ? 'this device' : `device link ${scope.link}`;
  const from = scope.address === undefined ? '' : ` from ${scope.address}${scope.port === undefined ? '' : ` port ${scope.port}`}`;
  if (row !== null && scope.address !== undefined && appliesTo({ scope }, row)) return `this device (listener ${scope.listener}${from})`;
  return `listener ${scope.listener}${from}${row?.listener === scope.listener && scope.address === undefined ? ' (this one’s)' : ''}`;
}

export function describeReply(reply: Rule['reply']): string {
  return typeof reply === 'string' ? reply : `hex ${reply.hex}`;
}

/** Whether the rule answers this device. */
export function appliesTo(rule: Pick<Rule, 'scope'>, row: DeviceRow): boolean {
  const scope = rule.scope;
  if (scope === 'all') return true;
  if ('link' in scope) return row.kind === 'link' && scope.link === row.id;
  if (row.listener === null || scope.listener !== row.listener) return false;
  if (scope.address !== undefined && scope.address !== ipOf(row.address)) return false;
  return scope.port === undefined || `${scope.port}` === row.address.slice(row.address.lastIndexOf(':') + 1);
}

export interface RuleForm {
  scope: ScopeKind;
  matchKind: MatchKind;
  match: string;
  replyKind: 'text' | 'hex';
  reply: string;
  delayMs: number | null;
}

/**
 * The body of POST /api/rules for the form, or what is wrong with it. Checked here as the
 * gateway will (escapes, hex, the regex), so a mistake shows before anything is sent.
 */
export function buildRule(form: RuleForm, row: DeviceRow): { ok: true; body: NewRule } | { ok: false; error: string } {
  let scope: NewRule['scope'];
  if (form.scope === 'all') scope = 'all';
  else if (form.scope === 'listener') {
    if (row.listener === null) return { ok: false, error: 'This device did not come through a listener.' };
    scope = { listener: row.listener };
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- a scope's `link` (a union with string), not String.prototype.link
  } else if (row.kind === 'link') scope = { link: row.id };
  else if (row.kind === 'listener' && row.listener !== null) {
    // What outlives this connection: its listener and address (a reconnect has a new port).
    scope = { listener: row.listener, address: ipOf(row.address) };
  } else return { ok: false, error: 'Rules answer line and raw devices: this one speaks Switchboard’s frames.' };

  if (form.match === '') return { ok: false, error: 'Say what a message must be to be answered.' };
  let matchValue = form.match;
  if (form.matchKind === 'hex') {
    try {
      const bytes = parseHexInput(form.match);
      if (bytes.length === 0) return { ok: false, error: 'The hex to match is empty.' };
      matchValue = formatHex(bytes);
    } catch (error) {
      return { ok: false, error: `Match: ${(error as Error).message}` };
    }
  } else if (form.matchKind === 'regex') {
    try {
      new RegExp(form.match, 'u');
    } catch (error) {
      return { ok: false, error: `The regex does not compile: ${(error as Error).message}` };
    }
  }

  let reply: NewRule['reply'];
  if (form.replyKind === 'hex') {
    try {
      const bytes = parseHexInput(form.reply);
      if (bytes.length === 0) return { ok: false, error: 'The reply is empty.' };
      reply = { hex: formatHex(bytes) };
    } catch (error) {
      return { ok: false, error: `Reply: ${(error as Error).message}` };
    }
  } else {
    if (form.reply === '') return { ok: false, error: 'The reply is empty.' };
    try {
      parseEscapes(form.reply);
    } catch (error) {
      return { ok: false, error: `Reply: ${(error as Error).message}` };
    }
    reply = form.reply;
  }

  const body: NewRule = { scope, match: { [form.matchKind]: matchValue }, reply };
  if (form.delayMs !== null) {
    if (!Number.isInteger(form.delayMs) || form.delayMs < 0 || form.delayMs > 60_000) return { ok: false, error: 'The delay is 0 to 60000 ms.' };
    if (form.delayMs > 0) body.delayMs = form.delayMs;
  }
  return { ok: true, body };
}
