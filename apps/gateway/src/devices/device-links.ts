import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { join } from 'node:path';
import { backoffDelay } from '@switchboard/protocol';
import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { HubLogger } from '../logger.js';
import type { Member } from '../hub/member.js';
import { linkNameOwner } from '../hub/requests.js';
import { acceptDevice, type DeviceServices } from './accept-device.js';
import { closeDeviceRoom, completeOptions, parseTargets, targetAllowed, type DeviceLinkSettings, type GivenOptions } from './device-settings.js';
import { DeviceLink } from './device-link.js';
import { SettingsFile } from './settings-file.js';

export type DeviceState = 'connecting' | 'connected' | 'backoff' | 'stopped';

export interface DeviceStatus extends DeviceLinkSettings {
  state: DeviceState;
  /** The member id while connected (the REST API's client id). */
  memberId: string | null;
  attempts: number;
  connectedAt: string | null;
  lastError: { code: string; message: string; at: string } | null;
  /** In backoff: when it dials again (ISO 8601); else null. */
  nextDialAt: string | null;
}

export type NewDevice = Omit<Partial<DeviceLinkSettings>, 'rate'> & GivenOptions & { name: string; host: string; port: number };

/** The first wait after a failed dial; it doubles up to --device-backoff-max-ms. */
const FIRST_BACKOFF_MS = 250;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * One device that is a TCP server (many robot controllers are): the gateway dials it, and
 * while connected it is a member of its room like any other. When it drops or refuses, the
 * gateway dials again with exponential backoff and jitter.
 */
class OutboundDevice {
  state: DeviceState = 'stopped';
  attempts = 0;
  connectedAt: Date | null = null;
  lastError: DeviceStatus['lastError'] = null;
  member: Member | undefined;
  #socket: net.Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #nextDialAt: Date | null = null;

  constructor(
    readonly settings: DeviceLinkSettings,
    private readonly hub: Hub,
    private readonly log: HubLogger,
    private readonly backoffMaxMs: number,
    private readonly services: DeviceServices,
    /** Whether --device-targets in force allows dialing there: checked before every dial, a stored link's too. */
    private readonly allowed: (host: string, port: number) => boolean,
  ) {}

  get link(): DeviceLink | undefined {
    return this.member?.link as DeviceLink | undefined;
  }

  status(): DeviceStatus {
    return {
      ...this.settings,
      state: this.state,
      memberId: this.member?.id ?? null,
      attempts: this.attempts,
      connectedAt: this.connectedAt?.toISOString() ?? null,
      lastError: this.lastError,
      nextDialAt: this.#nextDialAt?.toISOString() ?? null,
    };
  }

  /** Its traffic log: dials and backoffs are in it, between its connections' bytes. */
  #event(text: string): void {
    this.services.traffic.event(`link:${this.settings.id}`, text);
  }

  /** In backoff: dials now instead of waiting (an operator knows the device is back). */
  dialNow(): boolean {
    if (this.state !== 'backoff') return false;
    clearTimeout(this.#timer);
    this.#dial();
    return true;
  }

  start(): void {
    if (this.state !== 'stopped') return;
    this.#dial();
  }

  stop(): void {
    this.state = 'stopped';
    clearTimeout(this.#timer);
    if (this.member !== undefined)
      this.hub.disconnect(this.member, 'shutdown', undefined, { text: 'The device link was stopped.', code: 'SERVER_SHUTTING_DOWN' });
    this.#socket?.destroy();
    this.hub.node.names.release(this.settings.name, linkNameOwner(this.settings.id));
  }

  /**
   * Holds the device's name for as long as the link exists, down or in backoff too, so nobody
   * else can be `robot1` and get robot1's commands. False when a member has it already.
   */
  reserveName(): Promise<boolean> {
    return this.hub.node.names.claim(this.settings.name, linkNameOwner(this.settings.id));
  }

  #dial(): void {
    const { host, port } = this.settings;
    if (!this.allowed(host, port)) {
      // Stored under other targets (before a restart with narrower --device-targets): never dialed now.
      this.state = 'stopped';
      const message = `${host}:${port} is outside --device-targets: the link is not dialed.`;
      this.lastError = { code: 'TARGET_NOT_ALLOWED', message, at: new Date().toISOString() };
      this.log.warn({ device: this.settings.id, name: this.settings.name, host, port, code: 'TARGET_NOT_ALLOWED' }, message);
      return;
    }
    this.state = 'connecting';
    this.#nextDialAt = null;
    this.attempts++;
    this.#event(`dialing ${host}:${port} (attempt ${this.attempts})`);
    const socket = net.connect({ host, port, noDelay: true, timeout: CONNECT_TIMEOUT_MS });
    this.#socket = socket;
    socket.once('timeout', () =>
      socket.destroy(Object.assign(new Error(`No answer from ${host}:${port} within ${CONNECT_TIMEOUT_MS} ms.`), { code: 'ETIMEDOUT' })),
    );
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.setKeepAlive(true, 30_000);
      if (this.state === 'stopped') return void socket.destroy();
      const settings = this.settings;
      this.member = acceptDevice(
        this.hub,
        this.services,
        socket,
        settings,
        { framing: settings.framing === 'raw' ? 'raw' : 'line', link: settings.id },
        settings.name,
      );
      if (this.member === undefined) return;
      this.state = 'connected';
      this.connectedAt = new Date();
      this.attempts = 0;
      this.lastError = null;
      this.log.info({ device: settings.id, name: settings.name, host, port }, 'device link connected');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.lastError = { code: error.code ?? 'ERROR', message: error.message, at: new Date().toISOString() };
    });
    socket.once('close', () => {
      this.member = undefined;
      this.connectedAt = null;
      if (this.state === 'stopped') return;
      // Exponential backoff with jitter, so devices that went down together are not dialed in step.
      const wait = backoffDelay(this.attempts, { initialMs: FIRST_BACKOFF_MS, maxMs: this.backoffMaxMs });
      this.state = 'backoff';
      this.#nextDialAt = new Date(Date.now() + wait);
      this.#event(`${this.lastError === null ? 'down' : `${this.lastError.code}: ${this.lastError.message}`}; dialing again in ${wait} ms`);
      this.log.debug({ device: this.settings.id, wait, error: this.lastError?.code }, 'device link down; dialing again');
      this.#timer = setTimeout(() => this.#dial(), wait);
      this.#timer.unref();
    });
  }
}

/** The outbound device links, by id; added over REST, stored in devices.json, dialed again after a restart. */
export class DeviceLinks {
  readonly #devices = new Map<string, OutboundDevice>();
  /** Ids of the links added over REST: the ones devices.json keeps (not those from --config). */
  readonly #stored = new Set<string>();
  readonly #file: SettingsFile<DeviceLinkSettings>;
  readonly #targets;

  constructor(
    private readonly hub: Hub,
    private readonly log: HubLogger,
    private readonly services: DeviceServices,
  ) {
    this.#targets = parseTargets(hub.config.devices.targets);
    this.#file = new SettingsFile(hub.config.dataDir === null ? null : join(hub.config.dataDir, 'devices.json'));
    for (const settings of this.#file.read()) {
      this.#stored.add(this.#add(completeOptions(settings)).settings.id);
      services.ids.seen(settings.id);
    }
  }

  list(): DeviceStatus[] {
    return [...this.#devices.values()].map((d) => d.status());
  }

  /** Whether `id` is a device link's, stored or from --config (dialed or not yet). */
  has(id: string): boolean {
    return this.#devices.has(id) || this.hub.config.devices.fromFile.links.some((given) => (given as { id?: unknown }).id === id);
  }

  get(id: string): OutboundDevice {
    const device = this.#devices.get(id);
    if (device === undefined) throw new GatewayError('DEVICE_NOT_FOUND', `No device link has id "${id}".`);
    return device;
  }

  /** Dials the stored links and those from --config (whose targets are checked like any other). */
  async startAll(): Promise<void> {
    for (const device of this.#devices.values()) {
      if (!(await device.reserveName().catch(() => false)))
        this.log.warn({ device: device.settings.id, name: device.settings.name }, "a member has this device link's name: the device will join under another");
      device.start();
    }
    for (const given of this.hub.config.devices.fromFile.links) await this.create(given as NewDevice, { store: false });
  }

  /** Checks the target (after resolving its name) before any dialing, then dials. */
  async create(given: NewDevice, options: { store?: boolean } = {}): Promise<DeviceStatus> {
    if (given.id !== undefined && this.#devices.has(given.id)) throw new GatewayError('LISTENER_EXISTS', `A device link with id "${given.id}" exists.`);
    const id = given.id ?? this.services.ids.next('d', (taken) => this.#devices.has(taken));
    this.services.ids.seen(id);
    if (given.framing === 'frame') throw new GatewayError('VALIDATION_FAILED', 'A device link is framed by line or raw.');
    const settings = completeOptions({ ...given, id });
    let address: string;
    try {
      address = net.isIP(settings.host) ? settings.host : (await lookup(settings.host)).address;
    } catch {
      throw new GatewayError('TARGET_NOT_ALLOWED', `${settings.host} does not resolve to an address.`);
    }
    if (!targetAllowed(this.#targets, address, settings.port)) {
      throw new GatewayError('TARGET_NOT_ALLOWED', `${settings.host}:${settings.port} is outside --device-targets (${this.hub.config.devices.targets}).`);
    }
    const device = this.#add({ ...settings, host: address });
    if (!(await device.reserveName())) {
      this.#devices.delete(id);
      throw new GatewayError('NAME_TAKEN', `A member is named "${settings.name}": a device link's name is its own while the link exists.`);
    }
    device.start();
    if (options.store !== false) this.#stored.add(device.settings.id);
    this.#save();
    return device.status();
  }

  /** A link in backoff dials now; LINK_NOT_IN_BACKOFF when it is connected, connecting or stopped. */
  dialNow(id: string): DeviceStatus {
    const device = this.get(id);
    if (!device.dialNow()) throw new GatewayError('LINK_NOT_IN_BACKOFF', `Device link "${id}" is ${device.state}, not waiting to dial again.`);
    return device.status();
  }

  remove(id: string): void {
    this.get(id).stop();
    this.#devices.delete(id);
    this.#stored.delete(id);
    this.#save();
  }

  /** The link of a device this gateway knows: an outbound link's id, or a line/raw member's id. */
  findLink(id: string): DeviceLink | undefined {
    const outbound = this.#devices.get(id)?.link;
    if (outbound !== undefined) return outbound;
    const link = this.hub.members.get(id)?.link;
    return link instanceof DeviceLink ? link : undefined;
  }

  close(): void {
    for (const device of this.#devices.values()) device.stop();
  }

  #add(settings: DeviceLinkSettings): OutboundDevice {
    closeDeviceRoom(this.hub, settings.room);
    const allowed = (host: string, port: number): boolean => targetAllowed(this.#targets, host, port);
    const device = new OutboundDevice(settings, this.hub, this.log, this.hub.config.devices.backoffMaxMs, this.services, allowed);
    this.#devices.set(settings.id, device);
    return device;
  }

  #save(): void {
    this.#file.write([...this.#stored].map((id) => this.#devices.get(id)!.settings));
  }
}
