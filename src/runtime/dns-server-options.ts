/** The DNS server part of a validated `serve`/`dns` config, as createDnsServer takes it. */
import type { DnsServerConfig } from '../config/serve-config.ts';
import type { DnsServerOptions } from '../server/index.ts';

export function dnsServerOptions(config: DnsServerConfig): DnsServerOptions {
  const options: DnsServerOptions = {
    dns: config.dns,
    listen: config.listen,
    workers: config.workers,
    tcpIdleTimeoutMs: config.tcpIdleTimeoutMs,
    tcpMaxConnections: config.tcpMaxConnections,
  };
  if (config.tcpReadTimeoutMs !== undefined) options.tcpReadTimeoutMs = config.tcpReadTimeoutMs;
  if (config.tcpMaxQueriesPerConnection !== undefined) options.tcpMaxQueriesPerConnection = config.tcpMaxQueriesPerConnection;
  if (config.cacheBytes !== undefined) options.cacheBytes = config.cacheBytes;
  if (config.negativeCacheEntries !== undefined) options.negativeCacheEntries = config.negativeCacheEntries;
  if (config.workerStallTimeoutMs !== undefined) options.workerStallTimeoutMs = config.workerStallTimeoutMs;
  if (config.queryLog === true) options.queryLog = true;
  return options;
}
