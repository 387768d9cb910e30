// The compact view: one line per message (time, sender, text in monospace), no cards, so a
// device's burst reads like a log. Device rooms start compact; any conversation can be switched
// either way, and the choice is remembered per room in this browser (localStorage).
import { getContext, setContext } from 'svelte';
import { SvelteSet } from 'svelte/reactivity';
import type { MemberInfo } from '@switchboard/protocol';
import type { Conversation } from './conversation.svelte.js';

const STORAGE_KEY = 'switchboard.compact-view';

/** What the stored choices are keyed by: the same room or member name after a reload. */
function placeKey(conversation: Conversation): string {
  return conversation.kind === 'room' ? `room:${conversation.name}` : `private:${conversation.name.toLowerCase()}`;
}

/** A device: on a line or raw listener or a device link, or a plain device that never said hello. */
const isDevice = (member: MemberInfo): boolean => member.device === true || member.legacy === true;

function loadChoices(): Record<string, boolean> {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, boolean] => typeof entry[1] === 'boolean'));
  } catch {
    // Storage off (private mode) or a value from elsewhere: start from the defaults.
    return {};
  }
}

export class CompactView {
  #choices = $state<Record<string, boolean>>(loadChoices());
  // Rooms seen with a device in them this session: they stay device rooms while it reconnects.
  #deviceRooms = new SvelteSet<string>();

  /** A room a device is in. */
  isDeviceRoom(conversation: Conversation): boolean {
    return conversation.kind === 'room' && (this.#deviceRooms.has(placeKey(conversation)) || conversation.members.some(isDevice));
  }

  /** Remembers that a device was in the room (call from an effect, not while rendering). */
  noteDevices(conversation: Conversation): void {
    if (conversation.kind === 'room' && conversation.members.some(isDevice)) this.#deviceRooms.add(placeKey(conversation));
  }

  /** Compact: the reader's choice for this conversation, else whether it is a device room. */
  isCompact(conversation: Conversation): boolean {
    return this.#choices[placeKey(conversation)] ?? this.isDeviceRoom(conversation);
  }

  set(conversation: Conversation, compact: boolean): void {
    this.#choices = { ...this.#choices, [placeKey(conversation)]: compact };
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(this.#choices));
    } catch {
      // Not stored (storage off or full): the choice lasts as long as the page.
    }
  }
}

const COMPACT_VIEW = Symbol('switchboard.compact-view');

export function setCompactView(view: CompactView): CompactView {
  return setContext(COMPACT_VIEW, view);
}

export function getCompactView(): CompactView {
  const view = getContext<CompactView | undefined>(COMPACT_VIEW);
  if (!view) throw new Error('Switchboard compact view state is missing: render this component inside App.svelte.');
  return view;
}
