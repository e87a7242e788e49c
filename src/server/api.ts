/** The public surface of the server room, fixed early so the CLI and tests can code against it. */
import type { DnsOptions, ListenAddress } from '../config/options.ts';
import type { Snapshot } from '../model/snapshot.ts';

export interface DnsServerOptions {
  dns: DnsOptions;
  /** UDP and TCP on the same host:port. Port 0 picks a free port (tests). */
  listen: ListenAddress;
  /** Worker processes sharing the port with reusePort; 0 = answer in this process. */
  workers: number;
  tcpIdleTimeoutMs: number;
  tcpMaxConnections: number;
}

export interface DnsServer {
  /** Binds UDP and TCP; resolves with the bound port. */
  start(): Promise<{ port: number }>;
  /** Atomically replace the state answers come from (and ship it to workers). */
  setSnapshot(snapshot: Snapshot): void;
  stop(): Promise<void>;
}
