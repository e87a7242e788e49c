/** Defaults of the optional DnsServerOptions, resolved once for this process or for each worker. */
import type { DnsServerOptions } from './api.ts';
import { DEFAULT_CACHE_BYTES, DEFAULT_NEGATIVE_ENTRIES } from './answer-cache.ts';
import { DEFAULT_TCP_MAX_QUERIES, DEFAULT_TCP_READ_TIMEOUT_MS } from './tcp-listener.ts';

/** The resolved server settings every answering process (this one or a worker) uses. */
export function answeringSettings(options: DnsServerOptions): AnsweringSettings {
  return {
    tcpReadTimeoutMs: options.tcpReadTimeoutMs ?? DEFAULT_TCP_READ_TIMEOUT_MS,
    tcpMaxQueriesPerConnection: options.tcpMaxQueriesPerConnection ?? DEFAULT_TCP_MAX_QUERIES,
    cacheBytes: options.cacheBytes ?? DEFAULT_CACHE_BYTES,
    negativeCacheEntries: options.negativeCacheEntries ?? DEFAULT_NEGATIVE_ENTRIES,
  };
}

export interface AnsweringSettings {
  tcpReadTimeoutMs: number;
  tcpMaxQueriesPerConnection: number;
  cacheBytes: number;
  negativeCacheEntries: number;
}
