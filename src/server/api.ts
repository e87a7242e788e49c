/** The public surface of the server room, fixed early so the CLI and tests can code against it. */
import type { DnsOptions, ListenAddress } from '../config/options.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { Logger } from 'pino';
import type { Answer, Question } from '../dns/types.ts';
import type { Metrics } from '../observability/metrics.ts';

export interface DnsServerOptions {
  dns: DnsOptions;
  /** UDP and TCP on the same host:port. Port 0 picks a free port (tests). */
  listen: ListenAddress;
  /** Worker processes sharing the port with reusePort; 0 = answer in this process. */
  workers: number;
  tcpIdleTimeoutMs: number;
  tcpMaxConnections: number;
  /** Log every query at info (--query-log). Default off. */
  queryLog?: boolean;
  /** Format of the DNS workers' logs: the primary's, resolved (default json). */
  logFormat?: 'json' | 'text';
  /** Longest one TCP message may take from its first byte (default 2 s). */
  tcpReadTimeoutMs?: number;
  /** Queries per TCP connection before it is closed (default 1,000). */
  tcpMaxQueriesPerConnection?: number;
  /** Answer-cache budget per answering process, in bytes (default 64 MiB). */
  cacheBytes?: number;
  /** Negative answers cached per answering process (default 16,384). */
  negativeCacheEntries?: number;
  /** A worker that misses heartbeats this long is reported and replaced (default 5 s). */
  workerStallTimeoutMs?: number;
}

export interface DnsServer {
  /** Binds UDP and TCP; resolves with the bound port. */
  start(): Promise<{ port: number }>;
  /** Atomically replace the state answers come from (and ship it to workers). */
  setSnapshot(snapshot: Snapshot): void;
  stop(): Promise<void>;
  /** Why the server is not healthy (not started, stopped, no live worker), or null when it is. */
  healthProblem?(): string | null;
  /**
   * Why the server is not ready although its state is (workers still installing the newest
   * snapshot, so /readyz does not send traffic to processes still busy taking it in), or null.
   */
  notReady?(): string | null;
}

/**
 * What the server needs from the process around it (added by the server room). `answerFn` exists
 * for tests that need a failing answer function; production always uses dns/answer.ts.
 */
export interface ServerDeps {
  logger: Logger;
  metrics: Metrics;
  answerFn?: (snapshot: Snapshot, question: Question, opts: DnsOptions) => Answer;
}
