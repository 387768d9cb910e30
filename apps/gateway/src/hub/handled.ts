/** A step that may wait for the cluster (a name claim, a message logged over Redis); the hub holds the member's input meanwhile. */
export type Handled = void | Promise<void>;

/**
 * Runs `next` with a value now, or after its promise settles: one code path for both kinds of
 * cluster. (Not named `then`: a module exporting `then` is a thenable, and awaiting its import calls it.)
 */
export function andThen<T>(value: T | Promise<T>, next: (value: T) => Handled): Handled {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** A reply carries its request's `ref`, when it had one (PROTOCOL.md §3, "Request refs"). */
export function withRef<T extends object>(reply: T, ref: string | undefined): T {
  return ref === undefined ? reply : { ...reply, ref };
}
