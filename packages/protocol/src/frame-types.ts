/**
 * The type byte that follows the length prefix. 0x00 and 0x01 keep the meaning they had in
 * the classic WinForms chat server (text or file); the rest carry small JSON bodies.
 */
export const FrameType = {
  Text: 0x00,
  FileData: 0x01,
  Hello: 0x02,
  Welcome: 0x03,
  Message: 0x04,
  Private: 0x05,
  Presence: 0x06,
  Roster: 0x07,
  Notice: 0x08,
  Error: 0x09,
  Ping: 0x0a,
  Pong: 0x0b,
  Join: 0x0c,
  Leave: 0x0d,
  Rooms: 0x0e,
  Nick: 0x0f,
  History: 0x10,
  FileOffer: 0x11,
  FileEnd: 0x12,
  FileAbort: 0x13,
  Search: 0x14,
} as const;

export type FrameTypeName = keyof typeof FrameType;
export type FrameTypeCode = (typeof FrameType)[FrameTypeName];

const names: (FrameTypeName | undefined)[] = [];
for (const [name, code] of Object.entries(FrameType)) names[code] = name as FrameTypeName;

/** The name of a type byte, or undefined when the byte is not a known type. */
export function frameTypeName(code: number): FrameTypeName | undefined {
  return names[code];
}

/** Protocol version carried in hello and welcome. */
export const PROTOCOL_VERSION = 1;

/** Bytes in the length prefix. */
export const LENGTH_PREFIX_BYTES = 4;

/** Default limit on N, the number of bytes after the length prefix (type byte + payload). */
export const DEFAULT_MAX_FRAME_LENGTH = 1024 * 1024;

/** Bytes of file data carried per file-data frame by Switchboard's own clients. */
export const FILE_CHUNK_BYTES = 64 * 1024;
