// The protocol package is compiled with no DOM and no Node types so that it cannot
// reach for Buffer or window by accident. These two globals exist in every runtime
// we target (Node >= 11, all browsers), so we declare just what we use.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array): string;
}
