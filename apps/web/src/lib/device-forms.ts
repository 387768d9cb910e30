// The admin panel's "add a listener" and "add a device" forms: what was typed, as the REST body
// (docs/devices.md, "Devices as they are"). Empty fields are left out so the gateway's defaults apply;
// what the page can check (numbers, the room name, the delimiter's escapes) is checked here,
// and the gateway's own refusals ({code, message}) are shown by the form as they come.
import { NAME_RULE, isValidName, parseEscapes } from '@switchboard/protocol';
import type { NewDevice, NewListener } from './rest-client.js';

export type Framing = 'frame' | 'line' | 'raw';
export type DeviceFraming = Exclude<Framing, 'frame'>;

/** A field the page refused, named as the form names it. */
export class FormError extends Error {
  override readonly name = 'FormError';
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** The add-listener form as typed (numbers are text until checked). */
export interface ListenerFields {
  framing: Framing;
  host: string;
  port: string;
  room: string;
  /** line */
  delimiter: string;
  maxLineBytes: string;
  idleFlushMs: string;
  encoding: '' | 'utf8' | 'latin1';
  /** raw */
  idleMs: string;
  fixedLength: string;
  typeByte: boolean;
  /** line and raw */
  senderPrefix: boolean;
  idleTimeoutMs: string;
  /** Whose words in its room a device hears ('': the gateway's default, people). */
  hears: '' | 'people' | 'everyone' | 'addressed';
  /** Presence, notices and error lines reach its devices too. */
  notices: boolean;
}

export function emptyListenerFields(): ListenerFields {
  return {
    framing: 'line',
    host: '',
    port: '',
    room: '',
    delimiter: '',
    maxLineBytes: '',
    idleFlushMs: '',
    encoding: '',
    idleMs: '',
    fixedLength: '',
    typeByte: false,
    senderPrefix: false,
    idleTimeoutMs: '',
    hears: '',
    notices: false,
  };
}

/** The add-device form as typed. */
export interface DeviceFields {
  name: string;
  host: string;
  port: string;
  framing: DeviceFraming;
  /** line */
  delimiter: string;
  idleFlushMs: string;
  room: string;
}

export function emptyDeviceFields(): DeviceFields {
  return { name: '', host: '127.0.0.1', port: '', framing: 'line', delimiter: '', idleFlushMs: '', room: '' };
}

/** The body of POST /api/listeners. Throws a FormError for the first field that cannot be sent. */
export function listenerBody(fields: ListenerFields): NewListener {
  const port = integer(fields.port, 'port', 'Port', 0, 65535);
  if (port === undefined) throw new FormError('port', 'A port is needed (0: any free port).');
  const body: NewListener = { framing: fields.framing, port };
  const host = fields.host.trim();
  if (host !== '') body.host = host;
  const room = roomName(fields.room);
  if (room !== undefined) body.room = room;
  if (fields.framing === 'frame') return body;

  if (fields.framing === 'line') {
    const delimiter = delimiterText(fields.delimiter);
    if (delimiter !== undefined) body.delimiter = delimiter;
    const maxLineBytes = integer(fields.maxLineBytes, 'maxLineBytes', 'Longest line', 1, 1_048_576);
    if (maxLineBytes !== undefined) body.maxLineBytes = maxLineBytes;
    const idleFlushMs = integer(fields.idleFlushMs, 'idleFlushMs', 'Idle flush', 0, 3_600_000);
    if (idleFlushMs !== undefined) body.idleFlushMs = idleFlushMs;
    if (fields.encoding !== '') body.encoding = fields.encoding;
  } else {
    const idleMs = integer(fields.idleMs, 'idleMs', 'Idle gap', 1, 60_000);
    if (idleMs !== undefined) body.idleMs = idleMs;
    const fixedLength = integer(fields.fixedLength, 'fixedLength', 'Fixed length', 1, 1_048_576);
    if (fixedLength !== undefined) body.fixedLength = fixedLength;
    if (fields.typeByte) body.typeByte = true;
  }
  if (fields.senderPrefix) body.senderPrefix = true;
  if (fields.hears !== '') body.hears = fields.hears;
  if (fields.notices) body.notices = true;
  const idleTimeoutMs = integer(fields.idleTimeoutMs, 'idleTimeoutMs', 'Idle timeout', 0, 86_400_000);
  if (idleTimeoutMs !== undefined) body.idleTimeoutMs = idleTimeoutMs;
  return body;
}

/** The body of POST /api/devices. Throws a FormError for the first field that cannot be sent. */
export function deviceBody(fields: DeviceFields): NewDevice {
  const name = fields.name.trim();
  if (!isValidName(name)) throw new FormError('name', `The name becomes the device's member name: ${NAME_RULE}.`);
  const host = fields.host.trim();
  if (host === '') throw new FormError('host', 'A host is needed: the address of the device (a TCP server).');
  const port = integer(fields.port, 'port', 'Port', 1, 65535);
  if (port === undefined) throw new FormError('port', 'A port is needed: where the device listens.');
  const body: NewDevice = { name, host, port, framing: fields.framing };
  const room = roomName(fields.room);
  if (room !== undefined) body.room = room;
  if (fields.framing === 'line') {
    const delimiter = delimiterText(fields.delimiter);
    if (delimiter !== undefined) body.delimiter = delimiter;
    const idleFlushMs = integer(fields.idleFlushMs, 'idleFlushMs', 'Idle flush', 0, 3_600_000);
    if (idleFlushMs !== undefined) body.idleFlushMs = idleFlushMs;
  }
  return body;
}

function integer(text: string, field: string, label: string, min: number, max: number): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const value = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new FormError(field, `${label} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}

function roomName(text: string): string | undefined {
  const room = text.trim();
  if (room === '') return undefined;
  if (!isValidName(room)) throw new FormError('room', `"${room}" is not a room name: ${NAME_RULE}.`);
  return room;
}

/** The delimiter stays text with escapes (the gateway reads `\r\n` itself); checked here first. */
function delimiterText(text: string): string | undefined {
  if (text === '') return undefined;
  let bytes: Uint8Array;
  try {
    bytes = parseEscapes(text);
  } catch (error) {
    throw new FormError('delimiter', `Delimiter: ${(error as Error).message}`);
  }
  if (bytes.length === 0) throw new FormError('delimiter', 'The delimiter is empty.');
  if (text.length > 64) throw new FormError('delimiter', 'The delimiter is at most 64 characters.');
  return text;
}
