import { join } from 'node:path';
import type tls from 'node:tls';
import { GatewayError } from '../errors.js';
import type { Hub } from '../hub/hub.js';
import type { HubLogger } from '../logger.js';
import { acceptFramed } from '../transports/tcp-link.js';
import { TcpListener as AnyTcpListener, type AcceptSocket, type ListenerStatus as AnyListenerStatus } from '../transports/tcp-listener.js';
import { acceptDevice, type DeviceServices } from './accept-device.js';
import { closeDeviceRoom, completeOptions, parseListenUrl, type GivenOptions, type ListenerSettings } from './device-settings.js';
import { plainDeviceTaps } from './plain-device-log.js';
import { SettingsFile } from './settings-file.js';

export const DEFAULT_LISTENER_ID = 'default';

/** A TCP listener whose sockets are framed as its settings say. */
export type TcpListener = AnyTcpListener<ListenerSettings>;
export type ListenerStatus = AnyListenerStatus<ListenerSettings>;

/** What an operator gives to add a listener; the rest has defaults. */
export type NewListener = Omit<Partial<ListenerSettings>, 'rate'> & GivenOptions & { port: number };

/**
 * Every TCP listener of this gateway, by id: `default` (Switchboard's framing, --tcp-*),
 * those from --listen, and those added over REST, which are stored in listeners.json and
 * come back after a restart.
 */
export class ListenerRegistry {
  readonly #listeners = new Map<string, TcpListener>();
  /** Ids of the listeners added over REST: the ones listeners.json keeps. */
  readonly #stored = new Set<string>();
  readonly #file: SettingsFile<ListenerSettings>;

  constructor(
    private readonly hub: Hub,
    private readonly log: HubLogger,
    private readonly tlsOptions: tls.TlsOptions | undefined,
    private readonly services: DeviceServices,
  ) {
    const { host, port, backlog } = hub.config.tcp;
    this.#add(completeOptions({ id: DEFAULT_LISTENER_ID, host, port, backlog, tls: hub.config.security.tcpTls, framing: 'frame' as const }));
    hub.config.devices.listen.forEach((url, i) => this.#add(this.#complete({ id: `listen-${i + 1}`, ...parseListenUrl(url) })));
    hub.config.devices.fromFile.listeners.forEach((given, i) => this.#add(this.#complete({ id: `config-${i + 1}`, ...(given as NewListener) })));
    this.#file = new SettingsFile(hub.config.dataDir === null ? null : join(hub.config.dataDir, 'listeners.json'));
    for (const settings of this.#file.read()) {
      this.#add(this.#complete(settings));
      this.#stored.add(settings.id);
      services.ids.seen(settings.id);
    }
  }

  get default(): TcpListener {
    return this.#listeners.get(DEFAULT_LISTENER_ID)!;
  }

  list(): ListenerStatus[] {
    return [...this.#listeners.values()].map((l) => l.status());
  }

  get(id: string): TcpListener {
    const listener = this.#listeners.get(id);
    if (listener === undefined) throw new GatewayError('LISTENER_NOT_FOUND', `No listener has id "${id}".`);
    return listener;
  }

  /** Starts the listeners that start with the gateway: all but a default with autoStart off. */
  async startAll(): Promise<void> {
    for (const listener of this.#listeners.values()) {
      if (listener.id === DEFAULT_LISTENER_ID && !this.hub.config.tcp.autoStart) continue;
      try {
        await listener.start();
      } catch (error) {
        // One taken port must not keep the others down: it is reported in the listener's status.
        if (listener.id === DEFAULT_LISTENER_ID) throw error;
        listener.noteStartError(error);
        this.log.error({ listener: listener.id, code: (error as { code?: string }).code }, (error as Error).message);
      }
    }
  }

  /** Adds a listener and starts it; one that cannot listen is not kept (409 ADDRESS_IN_USE, say). */
  async create(given: NewListener): Promise<ListenerStatus> {
    if (given.id !== undefined && this.#listeners.has(given.id)) throw new GatewayError('LISTENER_EXISTS', `A listener with id "${given.id}" exists.`);
    const id = given.id ?? this.services.ids.next('l', (taken) => this.#listeners.has(taken));
    this.services.ids.seen(id);
    const listener = this.#add(this.#complete({ ...given, id }));
    try {
      await listener.start();
    } catch (error) {
      this.#listeners.delete(id);
      throw error;
    }
    this.#stored.add(id);
    this.#save();
    return listener.status();
  }

  /** Stops and forgets a listener; its members stay connected until they leave. */
  async remove(id: string): Promise<void> {
    if (id === DEFAULT_LISTENER_ID) throw new GatewayError('LISTENER_IS_DEFAULT', 'The default listener can be stopped, not removed.');
    const listener = this.get(id);
    if (listener.status().listening) await listener.stop();
    this.#listeners.delete(id);
    if (this.#stored.delete(id)) this.#save();
  }

  async close(): Promise<void> {
    await Promise.all([...this.#listeners.values()].map((l) => l.close()));
  }

  #complete(given: NewListener & { id: string }): ListenerSettings {
    return completeOptions({ host: '127.0.0.1', backlog: 511, tls: false, ...given });
  }

  #add(settings: ListenerSettings): TcpListener {
    if (settings.framing !== 'frame') closeDeviceRoom(this.hub, settings.room);
    const listener = new AnyTcpListener(this.hub, this.log, settings, this.tlsOptions, this.#accept);
    this.#listeners.set(settings.id, listener);
    return listener;
  }

  /** Switchboard's framing (whose connections may turn out plain devices), or a device's lines or bytes. */
  readonly #accept: AcceptSocket<ListenerSettings> = (socket, settings) =>
    settings.framing === 'frame'
      ? acceptFramed(this.hub, socket, settings.id, plainDeviceTaps(this.services.traffic), { hearsIfPlain: settings.hears })
      : acceptDevice(this.hub, this.services, socket, settings, { framing: settings.framing, listener: settings.id });

  #save(): void {
    this.#file.write([...this.#stored].map((id) => this.#listeners.get(id)!.settings));
  }
}
