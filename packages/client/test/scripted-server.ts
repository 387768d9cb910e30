// The server side of the client tests: a real net (or tls) server on 127.0.0.1, port 0,
// that speaks the protocol through @switchboard/protocol's own encoder and decoder. By
// default it behaves like a very small Switchboard hub (rooms, echo, private, roster,
// history, files relayed live) and repeats each request's `ref` where the gateway does
// (PROTOCOL.md §3, "Request refs"); a test replaces `respond` to script anything else.
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import {
  FrameDecoder,
  ProtocolError,
  decodeClientMessage,
  encodeFrame,
  encodeMessage,
  type ClientMessage,
  type ClientMessageOf,
  type ErrorCode,
  type HistoryEntry,
  type MemberInfo,
  type ServerMessage,
} from '@switchboard/protocol';

export type Responder = (peer: Peer, message: ClientMessage, server: ScriptedServer) => void;

export interface ScriptedServerOptions {
  respond?: Responder;
  /** Write every frame one byte per write, with a pause between bytes. */
  byteAtATime?: boolean;
  /** Serve TLS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** false: behave like a server that predates refs and never repeats them. Default true. */
  echoRefs?: boolean;
}

interface Transfer {
  sender: Peer;
  clientTransfer: number;
  serverTransfer: number;
  size: number;
  received: number;
  hash: ReturnType<typeof createHash>;
  chunks: Buffer[];
  recipients: Peer[];
}

export class Peer {
  readonly received: ClientMessage[] = [];
  readonly id: string;
  name: string;
  helloed = false;
  rooms: string[] = [];
  #taken = new Set<number>();
  #waiters: (() => void)[] = [];
  #writeChain: Promise<void> = Promise.resolve();

  constructor(
    readonly socket: net.Socket,
    readonly server: ScriptedServer,
    id: number,
  ) {
    this.id = `m${id}`;
    this.name = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    const decoder = new FrameDecoder((type, payload) => {
      let message: ClientMessage;
      try {
        message = decodeClientMessage(type, payload.slice());
      } catch (error) {
        // A malformed body whose ref is sound still gets its ref back.
        if (error instanceof ProtocolError) void this.error(error.code, error.message, false, error.ref); // ordered by the write chain, which does not reject
        return;
      }
      this.received.push(message);
      for (const wake of this.#waiters.splice(0)) wake();
      server.respond(this, message, server);
    });
    socket.on('data', (chunk) => {
      try {
        decoder.push(chunk);
      } catch (error) {
        if (error instanceof ProtocolError) void this.error(error.code, error.message, true);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
  }

  get room(): string | undefined {
    return this.rooms.at(-1);
  }

  get info(): MemberInfo {
    return {
      id: this.id,
      name: this.name,
      transport: 'tcp',
      address: `${this.socket.remoteAddress}:${this.socket.remotePort}`,
      ...(this.helloed ? {} : { legacy: true }),
    };
  }

  /** The first message of `type` not taken yet, waiting for it if needed. */
  async take<T extends ClientMessage['type']>(type: T, timeoutMs = 3000): Promise<ClientMessageOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((m, i) => m.type === type && !this.#taken.has(i));
      if (index >= 0) {
        this.#taken.add(index);
        return this.received[index] as ClientMessageOf<T>;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`The scripted server got no "${type}" frame within ${timeoutMs} ms.`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** All frames of a type received so far. */
  all<T extends ClientMessage['type']>(type: T): ClientMessageOf<T>[] {
    return this.received.filter((m) => m.type === type) as ClientMessageOf<T>[];
  }

  send(message: ServerMessage): Promise<void> {
    return this.sendBytes(encodeMessage(message));
  }

  sendBytes(bytes: Uint8Array): Promise<void> {
    this.#writeChain = this.#writeChain.then(async () => {
      if (this.socket.destroyed) return;
      if (!this.server.byteAtATime) {
        if (!this.socket.write(bytes)) await new Promise((resolve) => this.socket.once('drain', resolve));
        return;
      }
      for (const byte of bytes) {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the peer may close between two bytes
        if (this.socket.destroyed) return;
        this.socket.write(new Uint8Array([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    return this.#writeChain;
  }

  /** An error frame; `ref` names the request that caused it (left out by a server without refs). */
  error(code: ErrorCode, message: string, fatal = false, ref?: string): Promise<void> {
    return this.send({ type: 'error', code, message, ...(fatal ? { fatal } : {}), ...this.server.refField(ref) });
  }
}

/** A tiny hub: enough of PROTOCOL.md for the client to have someone to talk to. */
export const hubResponder: Responder = (peer, message, server) => {
  const now = Date.now();
  // The request's ref, to repeat in the replies and errors it causes (as `...ref`).
  const asked = 'ref' in message ? message.ref : undefined;
  const ref = server.refField(asked);
  const fail = (code: ErrorCode, text: string, fatal = false): Promise<void> => peer.error(code, text, fatal, asked);
  switch (message.type) {
    case 'hello': {
      if (message.v !== 1) {
        void fail('UNSUPPORTED_VERSION', 'Only version 1.', true).then(() => peer.socket.end());
        return;
      }
      const name = message.name ?? peer.name;
      if (server.takenNames.has(name.toLowerCase()) || server.peerNamed(name, peer)) {
        void fail('NAME_TAKEN', 'Another member already uses that name.');
        return;
      }
      peer.name = name;
      peer.helloed = true;
      const room = message.room ?? 'lobby';
      if (!peer.rooms.includes(room)) peer.rooms.push(room);
      void peer.send({
        type: 'welcome',
        v: 1,
        id: peer.id,
        name,
        room,
        rooms: [...peer.rooms],
        server: 'scripted/1.0',
        maxFrameLength: 1048576,
        maxFileBytes: server.maxFileBytes,
        heartbeatMs: 0,
        ...ref,
      });
      server.enter(peer, room, message.since, asked); // The first roster and history repeat the hello's ref too.
      return;
    }
    case 'text':
      if (peer.rooms.length === 0) peer.rooms = ['lobby']; // A plain device lands in lobby.
      server.say(peer, peer.room!, message.text);
      return;
    case 'message': {
      const room = message.room ?? peer.room;
      if (!room || !peer.rooms.includes(room)) {
        void fail('NOT_IN_ROOM', `You are not in ${room}.`);
        return;
      }
      server.say(peer, room, message.text, asked);
      return;
    }
    case 'private': {
      const to = server.peerNamed(message.to);
      if (!to) {
        void fail('NO_SUCH_MEMBER', `Nobody is called ${message.to}.`);
        return;
      }
      const entry = { id: server.nextId++, from: peer.name, to: to.name, transport: 'tcp' as const, ts: now, text: message.text };
      server.history.push({ kind: 'private', ...entry });
      for (const p of new Set([peer, to])) {
        void (p.helloed
          ? p.send({ type: 'private', ...entry, ...(p === peer ? ref : {}) })
          : p.send({ type: 'text', text: `[private] ${peer.name}: ${message.text}` }));
      }
      return;
    }
    case 'join':
      if (peer.rooms.includes(message.room)) peer.rooms = peer.rooms.filter((r) => r !== message.room);
      server.enter(peer, message.room, undefined, asked);
      return;
    case 'leave': {
      if (!peer.rooms.includes(message.room)) {
        void fail('NOT_IN_ROOM', `You are not in ${message.room}.`);
        return;
      }
      for (const p of server.membersOf(message.room)) {
        void p.send({ type: 'presence', room: message.room, event: 'leave', member: peer.info, reason: 'left', ts: now, ...(p === peer ? ref : {}) });
      }
      peer.rooms = peer.rooms.filter((r) => r !== message.room);
      return;
    }
    case 'rooms': {
      const names = [...new Set(server.peers.flatMap((p) => p.rooms))];
      void peer.send({ type: 'rooms', rooms: names.map((name) => ({ name, members: server.membersOf(name).length })), ...ref });
      return;
    }
    case 'roster': {
      const room = message.room ?? peer.room ?? 'lobby';
      void peer.send({ type: 'roster', room, members: server.membersOf(room).map((p) => p.info), ...ref });
      return;
    }
    case 'nick': {
      if (server.peerNamed(message.name, peer)) {
        void fail('NAME_TAKEN', 'Another member already uses that name.');
        return;
      }
      const previousName = peer.name;
      peer.name = message.name;
      for (const room of peer.rooms) {
        for (const p of server.membersOf(room)) {
          void p.send({ type: 'presence', room, event: 'rename', member: peer.info, previousName, ts: now, ...(p === peer ? ref : {}) });
        }
      }
      if (peer.rooms.length === 0) void peer.send({ type: 'notice', text: `You are now ${peer.name}.`, ts: now, private: true, ...ref });
      return;
    }
    case 'history': {
      let entries = server.history.filter((e) => message.room === undefined || (e.kind !== 'private' && e.room === message.room));
      if (message.before !== undefined) entries = entries.filter((e) => e.id < message.before!);
      if (message.after !== undefined) entries = entries.filter((e) => e.id > message.after!);
      const limit = message.limit ?? 50;
      const more = entries.length > limit;
      entries = message.after !== undefined ? entries.slice(0, limit) : entries.slice(-limit);
      void peer.send({ type: 'history', ...(message.room === undefined ? {} : { room: message.room }), entries, more, ...ref });
      return;
    }
    case 'ping':
      void peer.send({ type: 'pong', data: message.data });
      return;
    case 'file-offer': {
      if (server.transferOf(peer, message.transfer)) {
        void fail('FILE_TRANSFER_EXISTS', `Transfer ${message.transfer} is already open.`);
        return;
      }
      if (message.size > server.maxFileBytes) {
        void fail('FILE_TOO_LARGE', 'Too big.');
        return;
      }
      const room = message.room ?? peer.room ?? 'lobby';
      const to = message.to === undefined ? undefined : server.peerNamed(message.to);
      if (message.to !== undefined && !to) {
        void fail('NO_SUCH_MEMBER', `Nobody is called ${message.to}.`);
        return;
      }
      const recipients = (to ? [to] : server.membersOf(room).filter((p) => p !== peer)).filter((p) => p.helloed);
      const transfer: Transfer = {
        sender: peer,
        clientTransfer: message.transfer,
        serverTransfer: server.nextTransfer++,
        size: message.size,
        received: 0,
        hash: createHash('sha256'),
        chunks: [],
        recipients,
      };
      server.transfers.push(transfer);
      const offer = {
        type: 'file-offer' as const,
        transfer: transfer.serverTransfer,
        id: server.nextId++,
        from: peer.name,
        transport: 'tcp' as const,
        ts: now,
        name: message.name,
        size: message.size,
        mime: message.mime ?? 'application/octet-stream',
        ...(to ? { to: to.name } : { room }),
      };
      // The sender's copy is its acknowledgement: it alone carries the ref.
      void peer.send({ ...offer, ...ref });
      for (const p of recipients) void p.send(offer);
      return;
    }
    case 'file-data': {
      const transfer = server.transferOf(peer, message.transfer);
      if (!transfer) {
        // file-data has no ref: the error names the transfer instead, as the gateway's do.
        void peer.error('FILE_UNKNOWN_TRANSFER', `No open transfer has id ${message.transfer}.`);
        return;
      }
      transfer.received += message.data.length;
      transfer.hash.update(message.data);
      transfer.chunks.push(Buffer.from(message.data));
      for (const p of transfer.recipients) void p.send({ type: 'file-data', transfer: transfer.serverTransfer, data: message.data });
      return;
    }
    case 'file-end': {
      const transfer = server.transferOf(peer, message.transfer);
      if (!transfer) {
        void fail('FILE_UNKNOWN_TRANSFER', `No open transfer has id ${message.transfer}.`);
        return;
      }
      server.transfers = server.transfers.filter((t) => t !== transfer);
      server.finished.push(transfer);
      const digest = transfer.hash.digest('hex');
      if (transfer.received !== transfer.size || digest !== message.sha256) {
        const code = transfer.received !== transfer.size ? 'FILE_SIZE_MISMATCH' : 'FILE_CHECKSUM_MISMATCH';
        void fail(code, `Transfer ${message.transfer}: the file did not arrive intact.`);
        for (const p of transfer.recipients) void p.send({ type: 'file-abort', transfer: transfer.serverTransfer, code, reason: 'corrupt' });
        return;
      }
      const end = { type: 'file-end' as const, transfer: transfer.serverTransfer, sha256: digest };
      for (const p of transfer.recipients) void p.send(end);
      // The sender's confirmation: size and checksum verified. Only with refs (a newer server).
      if (server.echoRefs) void peer.send({ ...end, ...ref });
      return;
    }
    case 'file-abort': {
      const transfer = server.transferOf(peer, message.transfer);
      if (!transfer) {
        void fail('FILE_UNKNOWN_TRANSFER', `No open transfer has id ${message.transfer}.`);
        return;
      }
      server.transfers = server.transfers.filter((t) => t !== transfer);
      for (const p of transfer.recipients) {
        void p.send({ type: 'file-abort', transfer: transfer.serverTransfer, code: 'FILE_ABORTED', reason: message.reason ?? 'aborted' });
      }
      return;
    }
    default:
      void fail('UNEXPECTED_TYPE', `Not accepted: ${message.type}.`);
  }
};

export class ScriptedServer {
  static async start(options: ScriptedServerOptions = {}): Promise<ScriptedServer> {
    const server = new ScriptedServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#listener.once('error', reject);
      server.#listener.listen(0, '127.0.0.1', () => resolve());
    });
    return server;
  }

  respond: Responder;
  readonly byteAtATime: boolean;
  readonly echoRefs: boolean;
  readonly peers: Peer[] = [];
  readonly takenNames = new Set<string>();
  history: HistoryEntry[] = [];
  transfers: Transfer[] = [];
  finished: Transfer[] = [];
  maxFileBytes = 50 * 1024 * 1024;
  nextId = 1;
  nextTransfer = 90;
  #nextPeer = 1;
  #listener: net.Server;
  #connectionWaiters: ((peer: Peer) => void)[] = [];

  private constructor(options: ScriptedServerOptions) {
    this.respond = options.respond ?? hubResponder;
    this.byteAtATime = options.byteAtATime ?? false;
    this.echoRefs = options.echoRefs ?? true;
    const onSocket = (socket: net.Socket): void => {
      const peer = new Peer(socket, this, this.#nextPeer++);
      this.peers.push(peer);
      socket.on('close', () => this.peers.splice(this.peers.indexOf(peer), 1));
      for (const wake of this.#connectionWaiters.splice(0)) wake(peer);
    };
    this.#listener = options.tls ? tls.createServer(options.tls, onSocket) : net.createServer(onSocket);
  }

  get port(): number {
    return (this.#listener.address() as net.AddressInfo).port;
  }

  /** The next connection (or the latest, if one is already here and none was awaited). */
  nextPeer(timeoutMs = 3000): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('No connection reached the scripted server.')), timeoutMs);
      this.#connectionWaiters.push((peer) => {
        clearTimeout(timer);
        resolve(peer);
      });
    });
  }

  peerNamed(name: string, except?: Peer): Peer | undefined {
    return this.peers.find((p) => p !== except && p.name.toLowerCase() === name.toLowerCase());
  }

  membersOf(room: string): Peer[] {
    return this.peers.filter((p) => p.rooms.includes(room));
  }

  transferOf(sender: Peer, clientTransfer: number): Transfer | undefined {
    return this.transfers.find((t) => t.sender === sender && t.clientTransfer === clientTransfer);
  }

  /** `{ ref }` to spread into a reply, or nothing (no ref asked, or a server without refs). */
  refField(ref: string | undefined): { ref?: string } {
    return ref !== undefined && this.echoRefs ? { ref } : {};
  }

  /**
   * Joins `peer` to `room`: presence to the room, then roster and history to the peer, both
   * carrying the join's `ref`.
   */
  enter(peer: Peer, room: string, since?: number, ref?: string): void {
    if (!peer.rooms.includes(room)) peer.rooms.push(room);
    for (const p of this.membersOf(room)) {
      void (p.helloed
        ? p.send({ type: 'presence', room, event: 'join', member: peer.info, ts: Date.now() })
        : p.send({ type: 'text', text: `* ${peer.name} joined` }));
    }
    if (!peer.helloed) return;
    void peer.send({ type: 'roster', room, members: this.membersOf(room).map((p) => p.info), ...this.refField(ref) });
    const entries = this.history.filter((e) => e.kind !== 'private' && e.room === room && (since === undefined || e.id > since));
    void peer.send({ type: 'history', room, entries: entries.slice(-50), more: entries.length > 50, ...this.refField(ref) });
  }

  /** `text` from `peer` to the room; the sender's own copy (its acknowledgement) carries `ref`. */
  say(peer: Peer, room: string, text: string, ref?: string): void {
    const entry = { id: this.nextId++, room, from: peer.name, transport: 'tcp' as const, ts: Date.now(), text };
    this.history.push({ kind: 'message', ...entry });
    for (const p of this.membersOf(room)) {
      void (p.helloed
        ? p.send({ type: 'message', ...entry, ...(p === peer ? this.refField(ref) : {}) })
        : p.send({ type: 'text', text: room === 'lobby' ? `${peer.name}: ${text}` : `[${room}] ${peer.name}: ${text}` }));
    }
  }

  async close(): Promise<void> {
    for (const peer of this.peers) peer.socket.destroy();
    await new Promise<void>((resolve) => this.#listener.close(() => resolve()));
  }
}

/** A frame with any type byte, for frames the protocol does not define. */
export function rawFrame(type: number, payload: Uint8Array = new Uint8Array()): Uint8Array {
  return encodeFrame(type, payload);
}
