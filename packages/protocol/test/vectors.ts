// Loads test/vectors.json (written by hand, independently of the encoder) into messages the
// codec speaks: binary fields (`data`) are hex strings in the JSON and Uint8Array here.
import { readFileSync } from 'node:fs';
import type { AnyMessage } from '../src/index.js';
import { fromHex } from './bytes.js';

export type Direction = 'client' | 'server';

interface FrameVectorJson {
  name: string;
  direction: Direction;
  note: string;
  message: Record<string, unknown> & { type: string };
  hex: string;
}

interface ErrorVectorJson {
  name: string;
  direction: Direction;
  hex: string;
  code: string;
  note: string;
}

export interface FrameVector {
  name: string;
  direction: Direction;
  message: AnyMessage;
  bytes: Uint8Array;
}

export interface ErrorVector {
  name: string;
  direction: Direction;
  code: string;
  bytes: Uint8Array;
}

const BINARY_TYPES = new Set(['file-data', 'ping', 'pong']);

const raw = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8')) as {
  frames: FrameVectorJson[];
  errors: ErrorVectorJson[];
};

export const frameVectors: FrameVector[] = raw.frames.map((v) => {
  const message = { ...v.message };
  if (BINARY_TYPES.has(message.type)) message.data = fromHex(String(message.data));
  return { name: v.name, direction: v.direction, message: message as AnyMessage, bytes: fromHex(v.hex) };
});

export const errorVectors: ErrorVector[] = raw.errors.map((v) => ({
  name: v.name,
  direction: v.direction,
  code: v.code,
  bytes: fromHex(v.hex),
}));
