import type tls from 'node:tls';
import fp from 'fastify-plugin';
import type { Hub } from '../hub/hub.js';
import type { TcpListener } from '../transports/tcp-listener.js';
import { DeviceLinks } from './device-links.js';
import { ListenerRegistry } from './listener-registry.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every TCP listener (default, --listen, REST-added). */
    listeners: ListenerRegistry;
    /** The default listener (Switchboard's framing): /api/listener and main.ts use it. */
    tcpListener: TcpListener;
    /** Outbound links to devices that are servers. */
    deviceLinks: DeviceLinks;
  }
}

export interface DevicesPluginOptions {
  hub: Hub;
  tlsOptions?: tls.TlsOptions | undefined;
}

/** Listeners and device links; none listens or dials until main.ts (or a test) starts them. */
export const devicesPlugin = fp<DevicesPluginOptions>(
  async (fastify, { hub, tlsOptions }) => {
    const listeners = new ListenerRegistry(hub, fastify.log, tlsOptions);
    const deviceLinks = new DeviceLinks(hub, fastify.log);
    fastify.decorate('listeners', listeners);
    fastify.decorate('tcpListener', listeners.default);
    fastify.decorate('deviceLinks', deviceLinks);
    fastify.addHook('onClose', async () => {
      deviceLinks.close();
      await listeners.close();
    });
  },
  { name: 'switchboard-devices', fastify: '5.x' },
);
