/**
 * The seam between "a room said something" and "deliver it to the members on this node".
 * The default bus is in-process: publish calls the local fan-out at once. A multi-node bus
 * (Redis pub/sub, say) publishes the same already-encoded frames to the other nodes, whose
 * hubs fan them out to their own members.
 */
export interface RoomEvent {
  room: string;
  /** The structured frame, encoded once for every protocol member. */
  frame: Uint8Array;
  /** The type-0 line for plain devices (encoded once, when the first one needs it); absent when they get nothing. */
  legacyText?: string | undefined;
  /** Member id to skip (for example the sender of a file chunk). */
  except?: string | undefined;
}

export interface RoomBus {
  publish(event: RoomEvent): void;
  /** The hub registers its local fan-out here. */
  subscribe(deliver: (event: RoomEvent) => void): void;
  close(): Promise<void>;
}

export class InProcessRoomBus implements RoomBus {
  #deliver: ((event: RoomEvent) => void) | undefined;

  publish(event: RoomEvent): void {
    this.#deliver?.(event);
  }

  subscribe(deliver: (event: RoomEvent) => void): void {
    this.#deliver = deliver;
  }

  async close(): Promise<void> {
    this.#deliver = undefined;
  }
}
