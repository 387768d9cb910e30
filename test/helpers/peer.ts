import net from 'node:net';
import { WebSocket } from 'ws';
import { FrameDecoder, ProtocolError, decodeServerMessage, encodeMessage, type ClientMessage, type ServerMessage } from '@switchboard/protocol';

type Kind = ServerMessage['type'];
type Of<K extends Kind> = Extract<ServerMessage, { type: K }>;

/**
 * A test peer over a real TCP socket or WebSocket: sends frames (or raw bytes), and collects
 * every server frame so tests can wait for the next one matching a predicate.
 */
export class Peer {
  readonly received: ServerMessage[] = [];
  closed = false;
  readonly closedPromise: Promise<void>;
  #cursor = 0;
  #waiters: (() => void)[] = [];
  #resolveClosed!: () => void;

  private constructor(
    readonly transport: 'tcp' | 'ws',
    private readonly writeBytes: (bytes: Uint8Array) => void,
    private readonly endFn: () => void,
    private readonly destroyFn: () => void,
  ) {
    this.closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** `localAddress`: the source address (another 127.x address, to be told apart from other peers); `localPort`: its port. */
  static tcp(port: number, host = '127.0.0.1', localAddress?: string, localPort?: number): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, ...(localAddress !== undefined && { localAddress }), ...(localPort !== undefined && { localPort }) });
      const peer = new Peer(
        'tcp',
        (b) => socket.write(b),
        () => socket.end(),
        () => socket.destroy(),
      );
      peer.socket = socket;
      const decoder = new FrameDecoder((type, payload) => peer.#push(decodeServerMessage(type, payload)), { maxFrameLength: 64 * 1024 * 1024 });
      socket.on('data', (chunk) => decoder.push(chunk));
      socket.once('connect', () => resolve(peer));
      socket.once('error', reject);
      socket.on('error', () => {});
      socket.once('close', () => peer.#onClose());
    });
  }

  static ws(url: string, options: { origin?: string } = {}): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options.origin ? { origin: options.origin } : {});
      const peer = new Peer(
        'ws',
        (b) => ws.send(b),
        () => ws.close(),
        () => ws.terminate(),
      );
      peer.ws = ws;
      ws.binaryType = 'nodebuffer';
      ws.on('message', (data: Buffer, isBinary) => {
        if (!isBinary) throw new Error('the gateway sent a text WebSocket message');
        // One WebSocket message is one frame, length prefix included.
        const declared = data.readUInt32BE(0);
        if (declared !== data.length - 4) throw new Error(`frame boundary broken: ${declared} vs ${data.length - 4}`);
        peer.#push(decodeServerMessage(data[4]!, data.subarray(5)));
      });
      ws.once('open', () => resolve(peer));
      ws.once('error', reject);
      ws.on('error', () => {});
      ws.once('close', () => peer.#onClose());
    });
  }

  socket?: net.Socket;
  ws?: WebSocket;

  send(message: ClientMessage): void {
    this.writeBytes(encodeMessage(message));
  }

  sendBytes(bytes: Uint8Array): void {
    this.writeBytes(bytes);
  }

  /** Say hello and wait for welcome. */
  async hello(name?: string, extra: { room?: string; since?: number; token?: string; password?: string } = {}): Promise<Of<'welcome'>> {
    this.send({ type: 'hello', v: 1, ...(name !== undefined && { name }), ...extra });
    return this.next('welcome');
  }

  /** The next frame of this type (after the ones already consumed) matching the predicate. */
  async next<K extends Kind>(type: K, predicate: (m: Of<K>) => boolean = () => true, timeoutMs = 5000): Promise<Of<K>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.received.length) {
        const message = this.received[this.#cursor++]!;
        if (message.type === type && predicate(message as Of<K>)) return message as Of<K>;
      }
      if (this.closed) throw new Error(`connection closed while waiting for ${type}; got ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${type}; got ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Like next() but searches every frame received so far too. */
  async find<K extends Kind>(type: K, predicate: (m: Of<K>) => boolean = () => true, timeoutMs = 5000): Promise<Of<K>> {
    this.#cursor = 0;
    return this.next(type, predicate, timeoutMs);
  }

  /** Text lines (type 0) received so far, for plain-device tests. */
  get lines(): string[] {
    return this.received.filter((m): m is Of<'text'> => m.type === 'text').map((m) => m.text);
  }

  async waitForLine(predicate: (line: string) => boolean, timeoutMs = 5000): Promise<string> {
    const message = await this.next('text', (m) => predicate(m.text), timeoutMs);
    return message.text;
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await Promise.race([
      this.closedPromise,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms; got ${this.describe()}`)), timeoutMs)),
    ]);
  }

  end(): void {
    this.endFn();
  }

  destroy(): void {
    this.destroyFn();
  }

  /** What arrived, compactly: runs of the same kind are counted ("message x120"). */
  describe(): string {
    const runs: [string, number][] = [];
    for (const m of this.received) {
      const label = m.type === 'error' ? `error:${m.code}` : m.type === 'text' ? `text:${m.text.slice(0, 40)}` : m.type;
      const last = runs.at(-1);
      if (last && last[0] === label) last[1]++;
      else runs.push([label, 1]);
    }
    const shown = runs.slice(-30).map(([label, n]) => (n > 1 ? `${label} x${n}` : label));
    return (runs.length > 30 ? `(${runs.length - 30} earlier runs) ` : '') + (shown.join(', ') || '(nothing)');
  }

  #push(message: ServerMessage): void {
    this.received.push(message);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #onClose(): void {
    this.closed = true;
    this.#resolveClosed();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

export { ProtocolError };

export { setTimeout as sleep } from 'node:timers/promises';
