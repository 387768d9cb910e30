import { FrameType, encodeMessage, type ErrorCode } from '@switchboard/protocol';
import type { GatewayConfig } from '../config.js';
import type { Delivery } from '../delivery/delivery.js';
import type { DeliveryTarget } from '../delivery/outbox.js';
import { bannedError, type Identity } from '../identity/identity.js';
import type { HubLogger } from '../logger.js';
import { DESCRIPTOR_RESERVE } from '../open-file-limit.js';
import type { Link } from '../transports/link.js';
import type { FileRelay } from './file-relay.js';
import type { LeaveReason, Member } from './member.js';
import { TokenBucket } from './rate-limiter.js';
import type { Router } from './router.js';

/** What the limits and liveness checks need of the hub. */
export interface LimitsAndLivenessDeps {
  config: GatewayConfig;
  router: Router;
  delivery: Delivery;
  files: FileRelay;
  identity: Identity;
  log: HubLogger;
  now: () => number;
  /** Members allowed by the open-file limit (Hub.memberDescriptorBudget). */
  memberDescriptorBudget: number;
  /** Whether a graceful shutdown has begun (Hub.shuttingDown). */
  shuttingDown: () => boolean;
  /** A connection was refused for lack of file descriptors: the hub's `descriptors-exhausted` event. */
  descriptorsExhausted: (limit: number) => void;
  /** Hub.disconnect: the member first gets `error`. */
  disconnect(member: Member, reason: LeaveReason, error: { code: ErrorCode; message: string }): void;
  /** Hub.sendError. */
  sendError(member: Member, code: ErrorCode, message: string): void;
}

/** How often timers (heartbeats, slow frames, stalled files) are checked, at most. */
const SCAN_INTERVAL_MS = 1000;
/** Consecutive rate-limited frames after which a member is disconnected. */
const RATE_STRIKES_TO_DISCONNECT = 200;

/**
 * The hub's limits and liveness checks: connections refused over the limits (total, per address,
 * open files, bans, shutdown), each member's frame rate, a member whose send queue overflowed,
 * and a periodic scan for members gone silent, frames left half-sent and stalled files.
 */
export class LimitsAndLiveness {
  readonly #deps: LimitsAndLivenessDeps;
  /** Open connections per address (--max-connections-per-ip). */
  readonly #perIp = new Map<string, number>();
  readonly #scanTimer: NodeJS.Timeout;

  constructor(deps: LimitsAndLivenessDeps) {
    this.#deps = deps;
    // Check often enough that the shortest configured timeout is kept to within a quarter of itself.
    const { heartbeatMs, frameTimeoutMs } = deps.config.timing;
    const shortest = Math.min(...[heartbeatMs, frameTimeoutMs].filter((ms) => ms > 0), SCAN_INTERVAL_MS * 4);
    this.#scanTimer = setInterval(() => this.#scan(), Math.max(25, Math.floor(shortest / 4)));
    this.#scanTimer.unref();
  }

  /** The periodic scan stops (the hub is closing). */
  stop(): void {
    clearInterval(this.#scanTimer);
  }

  /** Refuses a connection over a limit (error frame, then close) and says so; false: it may come in. */
  refused(link: Link): boolean {
    const refusal = this.#refusal(link);
    if (refusal === undefined) return false;
    link.write([encodeMessage({ type: 'error', code: refusal.code, message: refusal.text, fatal: true })]);
    link.end();
    this.#deps.log.warn({ address: link.address, code: refusal.code }, 'connection refused');
    return true;
  }

  /** A new member's frame allowance (--rate-per-second, --rate-burst). */
  rateBucket(now: number): TokenBucket {
    const { ratePerSecond, rateBurst } = this.#deps.config.limits;
    return new TokenBucket(ratePerSecond, rateBurst, now);
  }

  /** A connection from this address was admitted. */
  opened(ip: string): void {
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
  }

  /** A connection from this address left. */
  closed(ip: string): void {
    const count = (this.#perIp.get(ip) ?? 1) - 1;
    if (count > 0) this.#perIp.set(ip, count);
    else this.#perIp.delete(ip);
  }

  /** Whether a member's frame is within its rate; one past it is dropped (with an error at most once a second). */
  withinRate(member: Member, type: number, now: number): boolean {
    // A line/raw/link device is throttled by its link (paused, never cut: docs/devices.md, "Devices are
    // throttled"); everyone else keeps the flood rule.
    if (type !== FrameType.FileData && member.device === undefined && !member.bucket.take(now)) {
      this.#rateLimited(member, now);
      return false;
    }
    member.rateStrikes = 0;
    return true;
  }

  /** A member's send queue passed --max-queue-bytes (delivery.ts): it stopped reading, and goes. */
  overflowed(target: DeliveryTarget, limit: number): void {
    const member = this.#deps.router.members.get(target.id);
    if (member === undefined) return;
    this.#deps.log.warn({ member: member.id, name: member.name, limit }, 'send queue overflow: disconnecting a member that stopped reading');
    this.#deps.disconnect(member, 'overflow', {
      code: 'SEND_QUEUE_OVERFLOW',
      message: `Your send queue passed ${limit} bytes because you stopped reading; disconnected.`,
    });
  }

  #refusal(link: Link): { code: ErrorCode; text: string } | undefined {
    const limits = this.#deps.config.limits;
    const count = this.#deps.router.members.size;
    if (this.#deps.shuttingDown()) return { code: 'SERVER_SHUTTING_DOWN', text: 'The gateway is shutting down.' };
    const ban = this.#deps.identity.banFor(link.ip);
    if (ban !== undefined) return { code: 'BANNED', text: bannedError(ban).message };
    if (count >= limits.maxConnections) {
      return { code: 'TOO_MANY_CONNECTIONS', text: `The server is at its limit of ${limits.maxConnections} connections; try again later.` };
    }
    const budget = this.#deps.memberDescriptorBudget;
    if (count >= budget) {
      const limit = budget + DESCRIPTOR_RESERVE;
      this.#deps.descriptorsExhausted(limit);
      return { code: 'TOO_MANY_CONNECTIONS', text: `The gateway is at its open-file limit (${limit}); try again later.` };
    }
    if ((this.#perIp.get(link.ip) ?? 0) >= limits.maxConnectionsPerIp) {
      return { code: 'TOO_MANY_CONNECTIONS_FROM_ADDRESS', text: `Your address already has ${limits.maxConnectionsPerIp} connections open.` };
    }
    return undefined;
  }

  #rateLimited(member: Member, now: number): void {
    member.rateStrikes++;
    if (member.rateStrikes >= RATE_STRIKES_TO_DISCONNECT) {
      this.#deps.disconnect(member, 'rate', { code: 'RATE_LIMITED', message: 'Sustained flooding past the rate limit; disconnected.' });
      return;
    }
    // At most one error a second, so a flood does not turn into a flood of errors.
    if (now - member.lastRateErrorAt >= 1000) {
      member.lastRateErrorAt = now;
      const { ratePerSecond, rateBurst } = this.#deps.config.limits;
      this.#deps.sendError(member, 'RATE_LIMITED', `Slow down: at most ${ratePerSecond} frames a second (bursts of ${rateBurst}); frames past it are dropped.`);
    }
  }

  #scan(): void {
    const now = this.#deps.now();
    const { heartbeatMs, frameTimeoutMs, fileStallMs } = this.#deps.config.timing;
    for (const member of this.#deps.router.members.values()) {
      if (member.partialSince !== 0 && now - member.partialSince > frameTimeoutMs) {
        this.#deps.disconnect(member, 'timeout', { code: 'FRAME_TIMEOUT', message: `A frame stayed incomplete for more than ${frameTimeoutMs} ms.` });
        continue;
      }
      if (heartbeatMs > 0 && !member.legacy && member.device === undefined) {
        const silent = now - member.lastHeardAt;
        if (member.pingSentAt !== 0 && now - member.pingSentAt > heartbeatMs) {
          this.#deps.disconnect(member, 'timeout', { code: 'HEARTBEAT_TIMEOUT', message: `Nothing heard for ${silent} ms, not even an answer to a ping.` });
          continue;
        }
        if (silent > heartbeatMs && member.pingSentAt === 0) {
          member.pingSentAt = now;
          this.#deps.router.deliver(member, encodeMessage({ type: 'ping', data: new Uint8Array(0) }));
        }
      }
      const waiting = this.#deps.delivery.waitingSince(member);
      if (waiting !== 0 && now - waiting > fileStallMs) this.#deps.files.releaseStalled(member);
    }
  }
}
