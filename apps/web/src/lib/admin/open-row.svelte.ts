// Which table row has its inline form or "really?" line open: one at a time, under the row it acts on.
export class OpenRow<Kind extends string = 'confirm'> {
  #open = $state.raw<{ key: string | number; kind: Kind } | null>(null);

  /** The open row's kind of action, if one is open. */
  get kind(): Kind | null {
    return this.#open?.kind ?? null;
  }

  /** Whether this row (with this kind of action, when given) is open. */
  is(key: string | number, kind?: Kind): boolean {
    return this.#open !== null && this.#open.key === key && (kind === undefined || this.#open.kind === kind);
  }

  open(key: string | number, kind = 'confirm' as Kind): void {
    this.#open = { key, kind };
  }

  readonly close = (): void => {
    this.#open = null;
  };
}
