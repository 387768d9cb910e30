import type tls from 'node:tls';
import fp from 'fastify-plugin';
import type { Hub } from '../hub/hub.js';
import { TcpLink } from '../transports/tcp-link.js';
import type { DeviceServices } from './accept-device.js';
import { AutoReplies } from './auto-replies.js';
import { DeviceLinks } from './device-links.js';
import { deviceFileBudget } from './device-settings.js';
import { IdCounter } from './id-counter.js';
import { ListenerRegistry, type TcpListener } from './listener-registry.js';
import { Macros } from './macros.js';
import { TrafficLog } from './traffic-log.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every TCP listener (default, --listen, REST-added). */
    listeners: ListenerRegistry;
    /** The default listener (Switchboard's framing): /api/listener and main.ts use it. */
    tcpListener: TcpListener;
    /** Outbound links to devices that are servers. */
    deviceLinks: DeviceLinks;
    /** Every device's recent traffic. */
    traffic: TrafficLog;
    /** Auto-reply rules, run in the gateway. */
    rules: AutoReplies;
    /** The console's shared send presets. */
    macros: Macros;
  }
}

export interface DevicesPluginOptions {
  hub: Hub;
  tlsOptions?: tls.TlsOptions | undefined;
}

/** Listeners and device links; none listens or dials until main.ts (or a test) starts them. */
export const devicesPlugin = fp<DevicesPluginOptions>(
  async (fastify, { hub, tlsOptions }) => {
    const { dataDir, devices } = hub.config;
    const traffic = new TrafficLog(dataDir, devices.trafficEntries);
    // The rules come after the links (a rule stored against a link's id is kept, one against a
    // member's refused); nothing reads them until a device connects, after startAll.
    const ids = new IdCounter(dataDir);
    const services = { traffic, ids, fileBudget: deviceFileBudget(hub.config.limits.maxFileBytes) } as DeviceServices;
    const listeners = new ListenerRegistry(hub, fastify.log, tlsOptions, services);
    const deviceLinks = new DeviceLinks(hub, fastify.log, services);
    const rules = (services.rules = new AutoReplies(dataDir, devices.ruleMaxPerSecond, undefined, {
      isLink: (id) => deviceLinks.has(id),
      log: fastify.log,
      ids,
    }));
    // A framed connection the hub made a plain device (or that said hello): its tap logs, or lets go.
    hub.on('joined', (member) => {
      if (member.link instanceof TcpLink) member.link.tap?.decided();
    });
    fastify.decorate('traffic', traffic);
    fastify.decorate('rules', rules);
    fastify.decorate('macros', new Macros(dataDir));
    fastify.decorate('listeners', listeners);
    fastify.decorate('tcpListener', listeners.default);
    fastify.decorate('deviceLinks', deviceLinks);
    fastify.addHook('onClose', async () => {
      deviceLinks.close();
      await listeners.close();
      traffic.close();
    });
  },
  { name: 'switchboard-devices', fastify: '5.x' },
);
