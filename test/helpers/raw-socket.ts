import net from 'node:net';

/** A device's side of a TCP connection: raw bytes in and out, no framing, read with waits. */
export class RawSocket {
  #received = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      this.#waiters.splice(0).forEach((w) => w());
    });
    socket.on('close', () => {
      this.closed = true;
      this.#waiters.splice(0).forEach((w) => w());
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new RawSocket(socket)));
      socket.once('error', reject);
    });
  }

  /** Wraps a socket a test server accepted (a fake robot controller's side). */
  static of(socket: net.Socket): RawSocket {
    return new RawSocket(socket);
  }

  write(bytes: string | Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Everything received so far. */
  get received(): Buffer {
    return this.#received;
  }

  /** Waits until what was received contains `needle`, then returns everything up to and including it, and consumes it. */
  async until(needle: string | Uint8Array, timeoutMs = 5000): Promise<Buffer> {
    const target = typeof needle === 'string' ? Buffer.from(needle) : Buffer.from(needle);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.#received.indexOf(target);
      if (at >= 0) {
        const head = this.#received.subarray(0, at + target.length);
        this.#received = this.#received.subarray(at + target.length);
        return head;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed)
        throw new Error(`waited for ${JSON.stringify(target.toString('latin1'))}; got ${JSON.stringify(this.#received.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for exactly `count` bytes and consumes them. */
  async take(count: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) throw new Error(`waited for ${count} bytes; got ${this.#received.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const head = this.#received.subarray(0, count);
    this.#received = this.#received.subarray(count);
    return head;
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
