import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker copies the WAL back into the database. */
const CHECKPOINT_EVERY_MS = 200;
/** A WAL longer than this (pages of 4 KiB) after a pass is started over (RESTART). */
const RESTART_PAGES = 4096;
/**
 * The writer's own automatic checkpoint, in pages (4 KiB): only a backstop now, for a WAL that
 * the worker cannot keep up with (a long reader, say). SQLite's default is 1,000 pages.
 */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 16_384;

// Plain CommonJS for an eval worker: it needs no build step of its own and runs from src or dist.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 100');
const checkpoint = () => {
  try {
    let pass = db.pragma('wal_checkpoint(PASSIVE)')[0];
    // Commits came during the pass, so the WAL did not start over. Short passes over what is
    // left may find a quiet moment; if not, a RESTART copies the last pages while holding the
    // writer back (a few milliseconds), and the WAL starts over.
    // (The log's length is in frames since it last started over: it only shrinks by starting over.)
    for (let again = 0; again < 3 && pass.log > workerData.restartPages; again++) pass = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (pass.log > workerData.restartPages) db.pragma('wal_checkpoint(RESTART)');
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message) });
  }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  const closed = new Int32Array(workerData.closed);
  Atomics.store(closed, 0, 1);
  Atomics.notify(closed, 0);
  parentPort.close();
});
`;

/** The longest close() waits for the worker to let go of the database. */
const CLOSE_WAIT_MS = 5000;

/**
 * Checkpoints a WAL database from a worker thread with its own connection. A checkpoint copies
 * the WAL's pages into the database file and syncs it: 10-40 ms of disk work that SQLite's
 * automatic checkpoint runs inside a commit, on the event loop. PASSIVE never blocks the
 * writer (it copies what no reader still needs); once it has caught up, the writer's next
 * commit starts the WAL over. Under writes that never pause it may never catch up: past
 * RESTART_PAGES a RESTART checkpoint holds the writer back while it copies what is left (a
 * few milliseconds), and the WAL starts over, so it stays near 16 MiB.
 */
export class WalCheckpointer {
  readonly #worker: Worker;
  /** Set to 1 by the worker once its connection is closed. */
  readonly #workerClosed = new Int32Array(new SharedArrayBuffer(4));
  #closed = false;

  constructor(file: string, onError: (message: string) => void) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module, file, everyMs: CHECKPOINT_EVERY_MS, restartPages: RESTART_PAGES, closed: this.#workerClosed.buffer },
    });
    this.#worker.on('message', (message: { error?: string }) => {
      if (message.error !== undefined) onError(message.error);
    });
    this.#worker.on('error', (error) => onError(error.message));
    // A worker that died (it could not open the database, say) has nothing to close: close() does not wait for it.
    this.#worker.on('exit', () => Atomics.store(this.#workerClosed, 0, 1));
    // It never keeps the process alive: a WAL left behind is read back at the next open.
    this.#worker.unref();
  }

  /**
   * Closes the worker's connection and waits for it (a pass under way finishes first), so that
   * the writer's own close, the last connection's, checkpoints everything and removes the WAL
   * before the data directory is given back.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.postMessage('close');
    Atomics.wait(this.#workerClosed, 0, 0, CLOSE_WAIT_MS);
  }
}
