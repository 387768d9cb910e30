import { join } from 'node:path';
import { RE2JS } from 're2js';
import { parseEscapes } from '@switchboard/protocol';
import { GatewayError } from '../errors.js';
import type { IdCounter } from './id-counter.js';
import { SettingsFile } from './settings-file.js';

/**
 * Which devices a rule answers, by what outlives a connection: an outbound link's id, or a
 * listener (optionally only a device from one address, and port). Never a member id: those are
 * handed out again after a restart (a PLC's rule once answered a robot that became `m1`).
 */
export type RuleScope = 'all' | { listener: string; address?: string | undefined; port?: number | undefined } | { link: string };
/** A scope as given over REST: `{client}` (a device member's or link's id, as the console knows it) is turned into a lasting one. */
export type GivenScope = RuleScope | { client: string };
export type RuleMatch = { equals: string } | { contains: string } | { regex: string } | { hex: string };

export interface NewRule {
  scope: GivenScope;
  match: RuleMatch;
  /** Text with escapes and {{time}}, {{unixtime}}, {{counter}}; or exact bytes as hex. */
  reply: string | { hex: string };
  delayMs?: number;
  enabled?: boolean;
}

export interface Rule extends NewRule {
  scope: RuleScope;
  id: string;
  delayMs: number;
  enabled: boolean;
}

/** A device a message came from, as rules see it. */
export interface RuleDevice {
  /** The member id now (`m7`), and the outbound link's id (`d1`) or the listener it came through. */
  memberId: string;
  link?: string | undefined;
  listener?: string | undefined;
  /** Its remote IP address and port (a listener's device). */
  address: string;
  port: number;
  /** Sends bytes back through the device's framing (a line listener appends its delimiter). */
  reply(bytes: Uint8Array): void;
  readonly closed: boolean;
}

interface CompiledRule {
  rule: Rule;
  test: (text: string, bytes: Uint8Array) => boolean;
  counter: number;
  /** Firings in the current second, for the rate cap. */
  window: { second: number; fired: number };
}

const lossyUtf8 = new TextDecoder('utf-8');

/**
 * Canned replies that run in the gateway, with or without a browser open: a message from a
 * device that matches a rule is answered through the device's own framing. Stored in
 * <data-dir>/rules.json. No rule fires more than `maxPerSecond` times a second, so two devices
 * whose rules answer each other cannot start a reply storm.
 */
export class AutoReplies {
  readonly #rules = new Map<string, CompiledRule>();
  readonly #file: SettingsFile<Rule | StoredRule>;
  /** Rules stored with a member id that could not be made lasting: not run, kept in the file as they were for an operator to fix. */
  readonly #refused: StoredRule[] = [];
  #nextId = 1;
  readonly #ids: IdCounter | undefined;

  constructor(
    dataDir: string | null,
    readonly maxPerSecond: number,
    /** Told of each firing (the traffic log marks the reply as automatic). */
    private readonly fired: (device: RuleDevice, rule: Rule, bytes: Uint8Array) => void = () => {},
    /** Rules stored by earlier versions: which ids are device links, and where refusals are logged. */
    stored: { isLink: (id: string) => boolean; log: { warn(obj: object, msg: string): void }; ids?: IdCounter } = {
      isLink: () => false,
      log: { warn: () => {} },
    },
  ) {
    this.#file = new SettingsFile(dataDir === null ? null : join(dataDir, 'rules.json'));
    let migrated = false;
    for (const rule of this.#file.read()) {
      const scope = rule.scope;
      if (typeof scope === 'object' && 'client' in scope) {
        // Stored by an earlier version against a client id: a link's id lasts, a member's does not.
        if (stored.isLink(scope.client)) {
          // eslint-disable-next-line @typescript-eslint/no-deprecated -- a scope's `link` (a union with string), not String.prototype.link
          this.#load({ ...rule, scope: { link: scope.client } });
          migrated = true;
        } else {
          this.#refused.push(rule);
          stored.log.warn(
            { rule: rule.id, client: scope.client },
            `auto-reply rule ${rule.id} is not run: it is scoped to client ${scope.client}, a connection id that another device may have after a restart; add it again scoped to a device link or a listener (and address)`,
          );
        }
      } else this.#load(rule as Rule);
      this.#nextId = Math.max(this.#nextId, idNumber(rule.id) + 1);
      stored.ids?.seen(rule.id);
    }
    this.#ids = stored.ids;
    if (migrated) this.#save();
  }

  /** A stored rule: a pattern stored before patterns were RE2's (a backreference, a lookahead) is kept, disabled, for its owner to see in GET /api/rules. */
  #load(rule: Rule): void {
    try {
      this.#rules.set(rule.id, compile(rule));
    } catch (error) {
      if ((error as GatewayError).code !== 'RULE_PATTERN_INVALID') throw error;
      this.#rules.set(rule.id, { rule: { ...rule, enabled: false }, test: () => false, counter: 0, window: { second: 0, fired: 0 } });
    }
  }

  list(): Rule[] {
    return [...this.#rules.values()].map((c) => c.rule);
  }

  /** Adds a rule; `lasting` turns a `{client}` scope into a link's or a listener's (the route knows the members). */
  add(given: NewRule, lasting: (scope: GivenScope) => RuleScope = lastingOnly): Rule {
    while (this.#rules.has(`r${this.#nextId}`)) this.#nextId++;
    const id = this.#ids?.next('r', (taken) => this.#rules.has(taken) || this.#refused.some((r) => r.id === taken)) ?? `r${this.#nextId++}`;
    const rule: Rule = { ...given, scope: lasting(given.scope), id, delayMs: given.delayMs ?? 0, enabled: given.enabled ?? true };
    this.#rules.set(rule.id, compile(rule)); // throws 400 on a bad regex, hex or escape
    this.#save();
    return rule;
  }

  remove(id: string): void {
    if (!this.#rules.delete(id)) throw new GatewayError('RULE_NOT_FOUND', `No rule has id "${id}".`);
    this.#save();
  }

  /** One message a device sent (after its framing). */
  onMessage(device: RuleDevice, message: { readonly bytes: Uint8Array }): void {
    if (this.#rules.size === 0) return;
    const bytes = message.bytes; // joined only now, when a rule may look at it
    const text = lossyUtf8.decode(bytes);
    const second = Math.floor(Date.now() / 1000);
    for (const compiled of this.#rules.values()) {
      const { rule } = compiled;
      if (!rule.enabled || !inScope(rule.scope, device) || !compiled.test(text, bytes)) continue;
      if (compiled.window.second !== second) compiled.window = { second, fired: 0 };
      if (compiled.window.fired >= this.maxPerSecond) continue; // held to the rate cap
      compiled.window.fired++;
      compiled.counter++;
      const reply = replyBytes(rule, compiled.counter);
      const send = (): void => {
        if (device.closed) return;
        device.reply(reply);
        this.fired(device, rule, reply);
      };
      if (rule.delayMs > 0) setTimeout(send, rule.delayMs).unref();
      else send();
    }
  }

  #save(): void {
    this.#file.write([...this.list(), ...this.#refused]);
  }
}

/** A rule as an earlier version stored it, scoped to a client id. */
type StoredRule = Omit<Rule, 'scope'> & { scope: GivenScope };

function lastingOnly(scope: GivenScope): RuleScope {
  if (typeof scope === 'object' && 'client' in scope)
    throw new GatewayError('VALIDATION_FAILED', 'rule: scope.client must be a device link or a device member.');
  return scope;
}

/** `r12` → 12 (0 for an id of another shape): ids are never handed out twice, even after a restart. */
function idNumber(id: string): number {
  const match = /^r(\d+)$/.exec(id);
  return match === null ? 0 : Number(match[1]);
}

function inScope(scope: RuleScope, device: RuleDevice): boolean {
  if (scope === 'all') return true;
  if ('link' in scope) return device.link === scope.link;
  return (
    device.listener === scope.listener &&
    (scope.address === undefined || scope.address === device.address) &&
    (scope.port === undefined || scope.port === device.port)
  );
}

function compile(rule: Rule): CompiledRule {
  const bad = (message: string): never => {
    throw new GatewayError('VALIDATION_FAILED', `rule: ${message}`);
  };
  let test: CompiledRule['test'];
  const match = rule.match;
  if ('equals' in match) test = (text) => text === match.equals;
  else if ('contains' in match) test = (text) => text.includes(match.contains);
  else if ('regex' in match) {
    // RE2 (re2js, pure JS): matching takes time linear in the message, so no pattern can hold
    // the event loop (`(a+)+$` against `aaaa…ab` took V8's engine seconds). What RE2 cannot
    // do in linear time (backreferences, lookaround) is refused here.
    let pattern: RE2JS;
    try {
      pattern = RE2JS.compile(match.regex);
    } catch (error) {
      throw new GatewayError(
        'RULE_PATTERN_INVALID',
        `rule: match.regex is not a pattern RE2 takes (no backreferences or lookaround): ${(error as Error).message}`,
      );
    }
    test = (text) => pattern.test(text);
  } else {
    const wanted = hexBytes(match.hex) ?? bad('match.hex must be hex bytes, e.g. "02 53 03".');
    test = (_text, bytes) => bytes.length === wanted.length && wanted.every((b, i) => bytes[i] === b);
  }
  if (typeof rule.reply === 'string') {
    try {
      parseEscapes(rule.reply);
    } catch (error) {
      bad(`reply: ${(error as Error).message}`);
    }
  } else if (hexBytes(rule.reply.hex) === undefined) bad('reply.hex must be hex bytes.');
  return { rule, test, counter: 0, window: { second: 0, fired: 0 } };
}

/** The reply's bytes, with {{time}}, {{unixtime}} and {{counter}} filled in. */
function replyBytes(rule: Rule, counter: number): Uint8Array {
  if (typeof rule.reply !== 'string') return hexBytes(rule.reply.hex)!;
  const now = new Date();
  const text = rule.reply
    .replaceAll('{{time}}', now.toISOString().slice(11, 23))
    .replaceAll('{{unixtime}}', String(Math.floor(now.getTime() / 1000)))
    .replaceAll('{{counter}}', String(counter));
  return parseEscapes(text);
}

/** `02 53 03`, `025303`, `0x02 0x53`: bytes; undefined when it is not hex. */
export function hexBytes(text: string): Uint8Array | undefined {
  const digits = text.replace(/0x/gi, '').replace(/[\s:,-]/g, '');
  if (digits.length === 0 || digits.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(digits)) return undefined;
  return Uint8Array.from(digits.match(/../g)!, (pair) => parseInt(pair, 16));
}
