/**
 * The main-thread side of the health listener (health-thread.ts): starts the thread, stamps the
 * shared heartbeat and pushes the health problem and readiness to it every HEALTH_PUSH_MS (so a
 * probe sees a change at most that late), and restarts the thread with backoff if it ever dies.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config/options.ts';
import type { HealthFromThread, HealthThreadData, HealthToThread } from './health-thread.ts';
import { bindError } from './udp-listener.ts';

/** How often the main thread stamps its heartbeat and pushes its health state. */
export const HEALTH_PUSH_MS = 100;
/** /healthz fails when the main event loop has not run for this long (longer than any bounded job). */
export const DEFAULT_MAIN_STALL_MS = 10_000;
const RESTART_BACKOFF_MS = [250, 1_000, 5_000];

export interface HealthListenerOptions {
  listen: ListenAddress;
  /** Why the process is unhealthy, or null. */
  healthProblem: () => string | null;
  /** Why the server is not ready, or null. */
  notReady: () => string | null;
  logger: Logger;
  stallMs?: number;
  /** Counts restarts of the health thread (a metric). */
  onRestart?: () => void;
}

export interface HealthListener {
  readonly port: number;
  stop(): Promise<void>;
}

function threadEntry(): string {
  const file = import.meta.url.endsWith('.ts') ? './health-thread.ts' : './health-thread.js';
  return fileURLToPath(new URL(file, import.meta.url));
}

export async function startHealthListener(options: HealthListenerOptions): Promise<HealthListener> {
  const { logger } = options;
  const beat = new SharedArrayBuffer(8);
  const lastBeat = new Float64Array(beat);
  lastBeat[0] = Date.now();
  let stopping = false;
  let restarts = 0;
  let last: { problem: string | null; notReady: string | null } | undefined;

  const push = (worker: Worker, force: boolean): void => {
    lastBeat[0] = Date.now();
    const problem = options.healthProblem();
    const notReady = options.notReady();
    if (!force && last !== undefined && last.problem === problem && last.notReady === notReady) return;
    last = { problem, notReady };
    worker.postMessage({ type: 'state', problem, notReady } satisfies HealthToThread);
  };

  /** Starts one thread; resolves with its port once it listens, rejects with the bind error. */
  const spawn = (port: number): Promise<{ worker: Worker; port: number }> =>
    new Promise((resolve, reject) => {
      const data: HealthThreadData = { host: options.listen.host, port, beat, stallMs: options.stallMs ?? DEFAULT_MAIN_STALL_MS };
      const worker = new Worker(threadEntry(), { workerData: data });
      push(worker, true);
      worker.once('message', (message: HealthFromThread) => {
        if (message.type === 'listening') resolve({ worker, port: message.port });
        else if (message.type === 'listen-error') {
          void worker.terminate();
          reject(bindError('http', options.listen.host, port, Object.assign(new Error(message.message), { code: message.code })));
        }
      });
      worker.once('error', reject);
    });

  let current = await spawn(options.listen.port);
  const port = current.port;
  const timer = setInterval(() => push(current.worker, false), HEALTH_PUSH_MS);
  timer.unref();

  /** Starts a new thread on the same port after a backoff; tries again (longer) while that fails. */
  const restart = (): void => {
    const delay = RESTART_BACKOFF_MS[Math.min(restarts, RESTART_BACKOFF_MS.length - 1)]!;
    restarts++;
    options.onRestart?.();
    setTimeout(() => {
      if (stopping) return;
      spawn(port).then(
        (next) => {
          current = next;
          last = undefined;
          watch(next.worker);
          logger.info({ port }, 'health listener thread restarted');
        },
        (error: unknown) => {
          logger.error({ err: error, restartInMs: RESTART_BACKOFF_MS[Math.min(restarts, RESTART_BACKOFF_MS.length - 1)] }, 'health listener thread could not be restarted; retrying');
          restart();
        },
      );
    }, delay).unref();
  };

  const watch = (worker: Worker): void => {
    worker.on('error', (error) => logger.error({ err: error }, 'health listener thread failed'));
    worker.once('exit', (code) => {
      if (stopping) return;
      logger.error({ code }, 'health listener thread exited; restarting it');
      restart();
    });
  };
  watch(current.worker);
  logger.info({ host: options.listen.host, port }, 'health listener (/healthz, /readyz) on its own thread');

  return {
    port,
    async stop() {
      stopping = true;
      clearInterval(timer);
      const worker = current.worker;
      await new Promise<void>((resolve) => {
        const done = setTimeout(() => void worker.terminate().then(() => resolve()), 2_000);
        worker.once('exit', () => {
          clearTimeout(done);
          resolve();
        });
        worker.postMessage({ type: 'stop' } satisfies HealthToThread);
      });
    },
  };
}
