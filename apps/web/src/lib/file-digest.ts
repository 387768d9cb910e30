// SHA-256 of a file that arrives (or is read) in chunks. crypto.subtle is fast but one-shot
// and exists only in secure contexts (https, localhost); elsewhere the pure-TS hash runs
// incrementally as chunks come.
import { Sha256, toHex } from './sha256.js';

export interface FileDigest {
  update(chunk: Uint8Array): void;
  /** 64 lowercase hex digits. Call once, after the last update. */
  hex(): Promise<string>;
}

function subtleCrypto(): SubtleCrypto | undefined {
  return globalThis.isSecureContext ? globalThis.crypto?.subtle : undefined;
}

export function createFileDigest(): FileDigest {
  const subtle = subtleCrypto();
  if (!subtle) {
    const hash = new Sha256();
    return {
      update: (chunk) => void hash.update(chunk),
      hex: async () => hash.hex(),
    };
  }
  const chunks: Uint8Array[] = [];
  let length = 0;
  return {
    update(chunk) {
      chunks.push(chunk);
      length += chunk.length;
    },
    async hex() {
      const whole = new Uint8Array(length);
      let at = 0;
      for (const chunk of chunks) {
        whole.set(chunk, at);
        at += chunk.length;
      }
      return toHex(new Uint8Array(await subtle.digest('SHA-256', whole)));
    },
  };
}

/** Whether files are hashed by the browser (true) or by the built-in fallback. */
export function usesNativeDigest(): boolean {
  return subtleCrypto() !== undefined;
}
