// TCP listeners of any framing, the default one (Switchboard frames) included: its row in the
// list is its status; it alone can also be moved (started on another host or port).
import type { ListenerInfo, ListenerList, ListenerStatus, NewListener } from '../rest-client.js';
import type { AdminFailure } from './admin-api.svelte.js';
import { AdminList, byId, type ListSource } from './admin-list.svelte.js';

export interface ListenerStartOptions {
  host?: string;
  port?: number;
  backlog?: number;
}

export class ListenersAdmin extends AdminList<ListenerList, ListenerInfo> {
  protected readonly source: ListSource<ListenerList, ListenerInfo> = { path: '/api/listeners', rows: (b) => b.listeners, order: byId, key: 'id' };

  /** The default listener's row, once the list has come. */
  get default(): ListenerInfo | undefined {
    return this.rows.find((listener) => listener.id === 'default');
  }

  async start(options: ListenerStartOptions): Promise<boolean> {
    const status = await this.api.action<ListenerStatus>('Start listener', 'POST', '/api/listener/start', options);
    if (!status) return false;
    this.api.done(`Listener started on ${status.host}:${status.port}.`);
    void this.refresh();
    return true;
  }

  async stop(disconnect: boolean): Promise<boolean> {
    const status = await this.api.action<ListenerStatus>('Stop listener', 'POST', '/api/listener/stop', { disconnect });
    if (!status) return false;
    this.api.done(disconnect ? 'Listener stopped; TCP members disconnected.' : 'Listener stopped; connected TCP members stay.');
    this.changed();
    void this.refresh();
    return true;
  }

  /** Adds a listener and starts it. The failure (the gateway's code and message) is the form's to show. */
  add(body: NewListener): Promise<AdminFailure | null> {
    const how = (added: ListenerInfo) => `${added.listening ? 'listening' : 'added'} on ${added.host}:${added.port}`;
    return this.create('Add listener', body, (added) => `Listener ${added.id} (${added.framing}) ${how(added)}.`);
  }

  /** Starts or stops one listener by id (the default one too). */
  async setListening(listener: ListenerInfo, listening: boolean, disconnect = false): Promise<boolean> {
    const verb = listening ? 'start' : 'stop';
    const updated = await this.api.action<ListenerInfo>(
      listening ? 'Start listener' : 'Stop listener',
      'POST',
      `/api/listeners/${encodeURIComponent(listener.id)}/${verb}`,
      listening ? {} : { disconnect },
    );
    if (!updated) return false;
    this.put(updated);
    this.api.done(
      listening
        ? `Listener ${updated.id} started on ${updated.host}:${updated.port}.`
        : `Listener ${updated.id} stopped; ${disconnect ? 'its members were disconnected' : 'connected members stay'}.`,
    );
    this.changed();
    return true;
  }

  async remove(listener: ListenerInfo): Promise<boolean> {
    const path = `/api/listeners/${encodeURIComponent(listener.id)}`;
    const removed = await this.delete(listener, 'Remove listener', path, `Listener ${listener.id} removed.`);
    if (removed) this.changed();
    return removed;
  }
}
