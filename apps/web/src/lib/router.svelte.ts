// The page's router: the address bar and the view kept in step, both ways. An address opened,
// reloaded or reached with back/forward opens its view (a room is joined, a private
// conversation or a device console opened); switching view or conversation in the page writes
// the address (a new history entry, so the back button returns to where you were).
import { untrack } from 'svelte';
import { contextKey } from './context-key.js';
import type { ChatState } from './chat.svelte.js';
import type { Conversation } from './conversation.svelte.js';
import type { DevicesState } from './console/devices.svelte.js';
import { isChatRoute, parseRoute, routePath, type Route } from './routes.js';

export type { Route } from './routes.js';

/** How long an address waits for its room to be joined before the page's own view wins. */
const ARRIVAL_GRACE_MS = 5_000;

function conversationRoute(conversation: Conversation): Route {
  return conversation.kind === 'room' ? { view: 'room', room: conversation.name } : { view: 'private', name: conversation.name };
}

export class Router {
  #route = $state.raw<Route>(parseRoute(location.pathname));
  #lastChat: Route = isChatRoute(this.#route) ? this.#route : { view: 'chat' };
  // Whether the view has shown what the address asks since it was arrived at (opened,
  // reloaded, back/forward): until then a different view is still on its way there, not a
  // choice to write back.
  #settled = false;
  #arrivedAt = Date.now();
  #onPopState = (): void => this.#arrive(parseRoute(location.pathname));

  constructor() {
    window.addEventListener('popstate', this.#onPopState);
  }

  get route(): Route {
    return this.#route;
  }
  /** The chat address last shown: where closing the admin page or the Devices view returns. */
  get lastChat(): Route {
    return this.#lastChat;
  }

  /** Shows a route, as a new history entry (or in place of the current one). */
  go(route: Route, options: { replace?: boolean } = {}): void {
    const path = routePath(route);
    if (path !== location.pathname) {
      if (options.replace) history.replaceState(null, '', path);
      else history.pushState(null, '', path);
    }
    this.#settled = true;
    this.#set(route);
  }

  /** A link's click: followed in the page, unless a modifier asks the browser for a new tab. */
  follow(event: MouseEvent, route: Route): void {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    this.go(route);
  }

  dispose(): void {
    window.removeEventListener('popstate', this.#onPopState);
  }

  /**
   * Keeps the chat and the Devices view in step with the address. Call while a component is
   * being set up (it starts effects that end with it).
   */
  sync(chat: ChatState, devices: DevicesState): void {
    // Address → chat: join the room or open the private conversation it names.
    $effect(() => {
      const route = this.#route;
      if (chat.phase !== 'active') return;
      untrack(() => {
        const active = chat.active;
        if (route.view === 'room' && !(active?.kind === 'room' && active.name === route.room)) chat.joinRoom(route.room);
        if (route.view === 'private' && !(active?.kind === 'private' && active.name.toLowerCase() === route.name.toLowerCase())) chat.openPrivate(route.name);
      });
    });
    // Chat → address: the conversation shown.
    $effect(() => {
      const route = this.#route;
      const active = chat.active;
      if (!isChatRoute(route) || chat.phase !== 'active' || active === null) return;
      untrack(() => {
        const shown = conversationRoute(active);
        if (
          routePath(shown) === routePath(route) ||
          (route.view === 'private' && shown.view === 'private' && shown.name.toLowerCase() === route.name.toLowerCase())
        ) {
          this.#settled = true;
          return;
        }
        // `/` names no conversation: the first one shown takes its place.
        if (route.view === 'chat') this.go(shown, { replace: true });
        else if (this.#settled || Date.now() - this.#arrivedAt > ARRIVAL_GRACE_MS) this.go(shown);
      });
    });
    // Address → Devices view: open the device console it names, once the devices are known.
    $effect(() => {
      const route = this.#route;
      if (route.view !== 'devices' || !devices.loaded) return;
      const id = route.device;
      untrack(() => {
        if (id === undefined) devices.close('you went back to the device list');
        else if (devices.console?.id !== id) devices.open(id);
      });
    });
    // Devices view → address: the console open (or none).
    $effect(() => {
      const route = this.#route;
      if (route.view !== 'devices' || !devices.loaded) return;
      const open = devices.console?.id;
      untrack(() => {
        if (open === route.device) {
          this.#settled = true;
          return;
        }
        const shown: Route = open === undefined ? { view: 'devices' } : { view: 'devices', device: open };
        // An address naming a device that is not there: say what is shown instead, in its place.
        this.go(shown, { replace: !this.#settled });
      });
    });
  }

  #arrive(route: Route): void {
    this.#settled = false;
    this.#arrivedAt = Date.now();
    this.#set(route);
  }

  #set(route: Route): void {
    if (isChatRoute(route)) this.#lastChat = route;
    this.#route = route;
  }
}

const ROUTER = contextKey<Router>('router');

export const setRouter = ROUTER.set;
export const getRouter = ROUTER.get;
