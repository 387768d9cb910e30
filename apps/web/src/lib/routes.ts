// The page's addresses (docs/chat.md, "The web page"): each view has a path, so a reload, a bookmark
// or the back button lands on the same view. Pure functions: parsed and written the same way
// by the router and by its tests. The gateway answers the same paths with the page (web-ui.ts).

export type Route =
  | { view: 'chat' }
  | { view: 'room'; room: string }
  | { view: 'private'; name: string }
  | { view: 'devices'; device?: string }
  | { view: 'admin'; section?: string };

/** Decodes one path segment; a malformed escape is no address at all. */
function segment(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** The route a path names; anything unknown is the chat. */
export function parseRoute(pathname: string): Route {
  const parts = pathname.replace(/\/+$/, '').split('/').slice(1);
  const [head, rest, extra] = parts;
  if (extra !== undefined) return { view: 'chat' };
  const arg = segment(rest);
  switch (head) {
    case 'rooms':
      return arg === null ? { view: 'chat' } : { view: 'room', room: arg };
    case 'private':
      return arg === null ? { view: 'chat' } : { view: 'private', name: arg };
    case 'devices':
      return rest === undefined ? { view: 'devices' } : arg === null ? { view: 'devices' } : { view: 'devices', device: arg };
    case 'admin':
      return rest === undefined ? { view: 'admin' } : arg === null ? { view: 'admin' } : { view: 'admin', section: arg };
    default:
      return { view: 'chat' };
  }
}

/** The path of a route (segments percent-encoded: room names may hold `#` or `?`). */
export function routePath(route: Route): string {
  switch (route.view) {
    case 'chat':
      return '/';
    case 'room':
      return `/rooms/${encodeURIComponent(route.room)}`;
    case 'private':
      return `/private/${encodeURIComponent(route.name)}`;
    case 'devices':
      return route.device === undefined ? '/devices' : `/devices/${encodeURIComponent(route.device)}`;
    case 'admin':
      return route.section === undefined ? '/admin' : `/admin/${encodeURIComponent(route.section)}`;
  }
}

/** Whether the route shows the chat (the rooms and private conversations). */
export function isChatRoute(route: Route): route is Extract<Route, { view: 'chat' | 'room' | 'private' }> {
  return route.view === 'chat' || route.view === 'room' || route.view === 'private';
}
