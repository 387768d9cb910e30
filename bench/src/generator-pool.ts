import type { ChildProcess } from 'node:child_process';
import type { GeneratorCommand, GeneratorReport, MemberSpec, ReadyReport, RunCommand, RunReport, SetupCommand } from './generator-protocol.js';
import { LOAD_GENERATOR, NICE, SENDER_NICE, spawnPinned } from './systems.js';

/** One load-generator child process, pinned to the generator core, driven over IPC. */
export class GeneratorProcess {
  readonly child: ChildProcess;
  readonly log: string;
  #waiter: { type: GeneratorReport['type']; resolve: (r: GeneratorReport) => void; reject: (e: Error) => void } | undefined;

  constructor(name: string, options: { sender?: boolean } = {}) {
    ({ child: this.child, log: this.log } = spawnPinned('generator', name, ['node', LOAD_GENERATOR], { ipc: true, nice: options.sender ? SENDER_NICE : NICE }));
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

  #request<T extends GeneratorReport>(command: GeneratorCommand, expect: T['type'], timeoutMs: number): Promise<T> {
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
    return this.#request<ReadyReport>(command, 'ready', command.timeoutMs + 60_000);
  }

  run(command: RunCommand, timeoutMs: number): Promise<RunReport> {
    return this.#request<RunReport>(command, 'report', timeoutMs);
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
