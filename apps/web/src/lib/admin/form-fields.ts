// The text fields of the add-listener and add-device forms, described once: both forms draw
// the ones they share (host, room, delimiter, idle flush) from here.
import type { DeviceFields, ListenerFields } from '../device-forms.js';

/** A field of the form's grid; `id` ends its test id (`listener-add-<id>`). */
export interface TextField<Key extends string = string> {
  key: Key;
  id: string;
  label: string;
  placeholder: string;
  /** A tooltip: what the value does. */
  title?: string;
  /** A number (the phone shows digits), or text with escapes (monospace). */
  kind?: 'number' | 'escapes';
}

type TextKeys<Fields> = { [K in keyof Fields]: Fields[K] extends string ? K : never }[keyof Fields] & string;
export type ListenerTextField = TextField<TextKeys<ListenerFields>>;
export type DeviceTextField = TextField<TextKeys<DeviceFields>>;

const host = { key: 'host', id: 'host', label: 'Host', placeholder: '127.0.0.1' } as const;
const room = { key: 'room', id: 'room', label: 'Room', placeholder: 'devices' } as const;
const escapes = 'Text with escapes: \\r \\n \\t \\0 \\\\ \\xNN';
const delimiter = { key: 'delimiter', id: 'delimiter', label: 'Delimiter', placeholder: '\\n', title: escapes, kind: 'escapes' } as const;
const flushTitle = 'A partial line that sits this long is a message (0: never)';
const idleFlush = { key: 'idleFlushMs', id: 'idle-flush', label: 'Idle flush (ms)', placeholder: '0', title: flushTitle, kind: 'number' } as const;

export const LISTENER_FIELDS: Record<'where' | 'line' | 'raw' | 'device', ListenerTextField[]> = {
  where: [{ key: 'port', id: 'port', label: 'Port', placeholder: '9100', kind: 'number' }, host, room],
  line: [
    delimiter,
    {
      key: 'maxLineBytes',
      id: 'max-line',
      label: 'Longest line (bytes)',
      placeholder: '65536',
      kind: 'number',
      title: 'A longer line is cut: its first bytes are a message, the rest is dropped',
    },
    idleFlush,
  ],
  raw: [
    { key: 'idleMs', id: 'idle', label: 'Idle gap (ms)', placeholder: '20', kind: 'number', title: 'A message ends after this long without bytes' },
    {
      key: 'fixedLength',
      id: 'fixed',
      label: 'Fixed length (bytes)',
      placeholder: 'none',
      kind: 'number',
      title: 'Or a message is this many bytes (empty: no fixed length)',
    },
  ],
  device: [
    {
      key: 'idleTimeoutMs',
      id: 'idle-timeout',
      label: 'Idle timeout (ms)',
      placeholder: '0',
      kind: 'number',
      title: 'Close a device silent this long (0: never)',
    },
  ],
};

export const DEVICE_FIELDS: Record<'where' | 'line' | 'room', DeviceTextField[]> = {
  where: [
    { key: 'name', id: 'name', label: 'Name', placeholder: 'robot1' },
    host,
    { key: 'port', id: 'port', label: 'Port', placeholder: '1025', kind: 'number' },
  ],
  line: [delimiter, idleFlush],
  room: [room],
};
