// A piece of the page's state handed to components through context under a private symbol key:
// set once by App.svelte, read by the components under it, replaced by nothing else.
import { getContext, setContext } from 'svelte';

export interface ContextKey<T> {
  set: (value: T) => T;
  /** Throws when read outside App.svelte (a component rendered on its own). */
  get: () => T;
}

export function contextKey<T>(what: string): ContextKey<T> {
  const key = Symbol(`switchboard.${what}`);
  return {
    set: (value) => setContext(key, value),
    get: () => {
      const value = getContext<T | undefined>(key);
      if (value === undefined) throw new Error(`Switchboard ${what} is missing: render this component inside App.svelte.`);
      return value;
    },
  };
}
