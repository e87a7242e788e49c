/** Messages between the primary and DNS worker processes (JSON over the cluster IPC channel). */
import type { DnsOptions } from '../config/options.ts';
import type { MetricsJson } from '../observability/metrics.ts';
import type { SnapshotDeltaWire, SnapshotWire } from './snapshot-wire.ts';

export interface WorkerInit {
  type: 'init';
  dns: DnsOptions;
  host: string;
  port: number;
  tcpIdleTimeoutMs: number;
  tcpReadTimeoutMs: number;
  tcpMaxQueriesPerConnection: number;
  tcpMaxConnections: number;
  cacheBytes: number;
  negativeCacheEntries: number;
  /** The primary's pid: a worker whose parent changes (the primary died) exits. */
  primaryPid: number;
  logLevel: string;
  slot: number;
  /** --query-log */
  queryLog?: boolean;
  /** The primary's log format, so every line of one process tree reads alike. */
  logFormat?: 'json' | 'text';
}

export type ToWorker =
  | WorkerInit
  | { type: 'snapshot'; snapshot: SnapshotWire }
  /** What changed since the last snapshot sent to this worker (see snapshot-wire.ts). */
  | { type: 'snapshot-delta'; delta: SnapshotDeltaWire }
  | { type: 'metrics-request'; id: number }
  /** Heartbeat: answered from the worker's event loop, so a blocked loop stops answering. */
  | { type: 'ping'; seq: number }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'listening' }
  | { type: 'bind-error'; message: string }
  /** Installed, and its large answers computed (see Responder.warmLarge). */
  | { type: 'snapshot-applied'; version: number }
  /** A delta did not fit what the worker holds (never expected): send the whole snapshot. */
  | { type: 'snapshot-resync'; holding: number; deltaBase: number }
  | { type: 'pong'; seq: number }
  | { type: 'metrics-response'; id: number; metrics: MetricsJson };

export function isMessage<T extends { type: string }>(value: unknown): value is T {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
