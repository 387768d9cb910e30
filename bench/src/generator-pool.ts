import type { ChildProcess } from 'node:child_process';
import type { GeneratorCommand, GeneratorReport, MemberSpec, ReadyReport, RunCommand, RunReport, SetupCommand, Wire } from './generator-protocol.js';
import { LOAD_GENERATOR, NICE, SENDER_NICE, spawnPinned } from './systems.js';

/** One load-generator child process, pinned to the generator core, driven over IPC. */
export class GeneratorProcess {
  readonly child: ChildProcess;
  readonly log: string;
  #waiter: { type: GeneratorReport['type']; resolve: (r: GeneratorReport) => void; reject: (e: Error) => void } | undefined;

  /** `argv`: another program that speaks the same IPC (the C receiver); the Node load generator by default. */
  constructor(name: string, options: { sender?: boolean; argv?: string[] } = {}) {
    ({ child: this.child, log: this.log } = spawnPinned('generator', name, options.argv ?? ['node', LOAD_GENERATOR], {
      ipc: true,
      nice: options.sender ? SENDER_NICE : NICE,
    }));
    this.child.on('message', (report: GeneratorReport) => {
      const waiter = this.#waiter;
      if (!waiter) return;
      this.#waiter = undefined;
      if (report.type === 'error') waiter.reject(new Error(`${name}: ${report.message} (log: ${this.log})`));
      else if (report.type !== waiter.type) waiter.reject(new Error(`${name}: expected ${waiter.type}, got ${report.type}`));
      else waiter.resolve(report);
    });
    this.child.on('exit', (code, signal) => {
      this.#waiter?.reject(new Error(`${name} exited (${code ?? signal}); log: ${this.log}`));
      this.#waiter = undefined;
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  protected request<T extends GeneratorReport>(command: GeneratorCommand | CReceiverSetup, expect: T['type'], timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`generator did not answer ${command.type} within ${timeoutMs} ms (log: ${this.log})`));
      }, timeoutMs);
      this.#waiter = {
        type: expect,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.send(command);
    });
  }

  setup(command: SetupCommand): Promise<ReadyReport> {
    return this.request<ReadyReport>(command, 'ready', command.timeoutMs + 60_000);
  }

  run(command: RunCommand, timeoutMs: number): Promise<RunReport> {
    return this.request<RunReport>(command, 'report', timeoutMs);
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.child.send({ type: 'close' });
    } catch {
      this.child.kill('SIGKILL');
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The setup the C receiver reads (bench/c/receiver.c): flat, one room, its members' indexes. */
export interface CReceiverSetup {
  type: 'setup';
  wire: Wire;
  host: string;
  port: number;
  room: string;
  concurrency: number;
  timeoutMs: number;
  members: number[];
  samples: number[];
  senderIndex: number[];
}

/**
 * The C receiver (bench/c/receiver.c, built by buildCReceiver): members that only receive, in one
 * room that hears every sender, over TCP (Switchboard's frames, IRC, the bare hub). It answers the
 * same run command with the same report as the Node generator.
 */
export class CReceiverProcess extends GeneratorProcess {
  constructor(name: string, binary: string) {
    super(name, { argv: [binary] });
  }

  override setup(command: SetupCommand): Promise<ReadyReport> {
    const wires = new Set(command.members.map((m) => m.wire));
    const [wire] = wires;
    if (wires.size !== 1 || (wire !== 'sb-tcp' && wire !== 'irc' && wire !== 'hub'))
      throw new Error(`the C receiver speaks one of sb-tcp, irc, hub per process, not ${[...wires].join(' + ')}`);
    if (command.members.some((m) => m.sender >= 0 || m.moreRooms !== undefined || m.node !== undefined))
      throw new Error('the C receiver holds receivers of one room on one gateway only');
    const room = command.members[0]!.room;
    // One room: each sender's one route is that room, and it reaches every member here.
    const oneRoom = command.routes.every((rs) => rs.length === 1 && 'room' in rs[0]! && rs[0].room === room);
    const everyone = new Set(command.routes.flatMap((rs) => rs.flatMap((r) => ('members' in r ? r.members : []))));
    if (!oneRoom || command.members.some((m) => m.room !== room || !everyone.has(m.index)))
      throw new Error('the C receiver handles one room whose every member hears every sender (scenario 3)');
    const setup: CReceiverSetup = {
      type: 'setup',
      wire,
      host: command.host,
      port: command.tcpPort,
      room,
      concurrency: command.concurrency,
      timeoutMs: command.timeoutMs,
      members: command.members.map((m) => m.index),
      samples: command.members.filter((m) => m.sample).map((m) => m.index),
      senderIndex: command.senderIndex,
    };
    return this.request<ReadyReport>(setup, 'ready', command.timeoutMs + 60_000);
  }
}

/** Splits members over processes: senders in the first, the rest spread over the others (all spread when most members send). */
export function assignMembers(members: MemberSpec[], processes: number): MemberSpec[][] {
  const groups: MemberSpec[][] = Array.from({ length: Math.max(1, processes) }, () => []);
  if (groups.length === 1) {
    groups[0]!.push(...members);
    return groups;
  }
  // Every member a sender (pairs talking): spread them all, each process sends for its own.
  if (members.filter((m) => m.sender >= 0).length * 2 > members.length) {
    members.forEach((m, i) => groups[i % groups.length]!.push(m));
    return groups;
  }
  let next = 1;
  for (const m of members) {
    if (m.sender >= 0) groups[0]!.push(m);
    else {
      groups[next]!.push(m);
      next = next + 1 >= groups.length ? 1 : next + 1;
    }
  }
  return groups.filter((g) => g.length > 0);
}
