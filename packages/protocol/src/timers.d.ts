// The two timer functions every runtime we target has (see text-codec.d.ts for why they are declared here).
declare function setTimeout(handler: () => void, ms: number): unknown;
declare function clearTimeout(handle: unknown): void;
