/**
 * A Redis Cluster: each sender's entries being stored, oldest first. Two rooms' entries go to two
 * shards and may be stored in either order, so each settles once it is stored (or failed) and
 * every one before it has settled: a sender's acknowledgements keep the order of its requests.
 */
export class SenderOrder {
  readonly #queues = new Map<string, { settle?: () => void }[]>();

  /** A place at the end of `sender`'s queue; the function returned takes how to settle it once its outcome is known. */
  enter(sender: string): (settle: () => void) => void {
    let queue = this.#queues.get(sender);
    if (queue === undefined) this.#queues.set(sender, (queue = []));
    const place: { settle?: () => void } = {};
    queue.push(place);
    return (settle) => {
      place.settle = settle;
      this.#settleInOrder(sender);
    };
  }

  /** The sender's entries whose outcome is known, settled from the oldest on, up to the first still being stored. */
  #settleInOrder(sender: string): void {
    const queue = this.#queues.get(sender);
    if (queue === undefined) return;
    let settled = 0;
    while (settled < queue.length && queue[settled]!.settle !== undefined) queue[settled++]!.settle!();
    if (settled === queue.length) this.#queues.delete(sender);
    else if (settled > 0) queue.splice(0, settled);
  }
}
