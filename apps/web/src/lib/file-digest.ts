// SHA-256 of a file that is read, or arrives, in chunks: each chunk is hashed as it passes, so
// the page never holds a whole file to hash it. @noble/hashes is incremental (crypto.subtle's
// digest is one-shot) and works on plain-http origins, where browsers hide crypto.subtle.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export interface FileDigest {
  update(chunk: Uint8Array): void;
  /** 64 lowercase hex digits. Call once, after the last update. */
  hex(): string;
}

export function createFileDigest(): FileDigest {
  const hash = sha256.create();
  return {
    update: (chunk) => void hash.update(chunk),
    hex: () => bytesToHex(hash.digest()),
  };
}

/** The SHA-256 of bytes already in memory, as 64 lowercase hex digits. */
export function sha256Hex(data: Uint8Array): string {
  return bytesToHex(sha256(data));
}
