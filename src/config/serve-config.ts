/** The `serve` command's flags (each with an environment equivalent) and its validated config. */
import { PROBE_FLAGS, probeConfigFrom, type ProbeConfig } from './probe-flags.ts';
import { availableParallelism } from 'node:os';
import { DEFAULT_DNS_OPTIONS, DEFAULT_MAX_RECORDS, type DnsOptions, type ListenAddress, type PanicMode, type SelectionPolicy } from './options.ts';
import { parseArgs, UsageError, type FlagSpec } from './flags.ts';
import type { AddressPolicy } from '../model/address-policy.ts';
import { ANNOTATION_POLICY, POLICY_NAMES } from '../model/traffic-policy.ts';
import { ALLOWED_CIDRS_FLAG, checkZonesDisjoint, parseAllowedCidrs, parseClusterId, parseListen, parseZone } from './validate.ts';
import { LOG_FORMAT_FLAG, type LogFormat } from './log-format.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Flags shared by every command that runs the DNS server (`serve` now, `dns` later). */
export const DNS_SERVER_FLAGS: readonly FlagSpec[] = [
  { name: 'listen', kind: 'string', env: 'CLUSTERSET_DNS_LISTEN', metavar: 'HOST:PORT', default: '127.0.0.1:5353', help: 'DNS address, UDP and TCP' },
  { name: 'http-listen', kind: 'string', env: 'CLUSTERSET_DNS_HTTP_LISTEN', metavar: 'HOST:PORT', default: '127.0.0.1:9153', help: 'HTTP address for /metrics, /healthz, /readyz, /debug/explain' },
  { name: 'health-listen', kind: 'string', env: 'CLUSTERSET_DNS_HEALTH_LISTEN', metavar: 'HOST:PORT', help: 'also serve /healthz and /readyz here, from a thread of their own that no HTTP load can delay (point probes at it; off by default)' },
  { name: 'zone', kind: 'list', env: 'CLUSTERSET_DNS_ZONES', metavar: 'ZONE', default: ['clusterset.local'], help: 'served zone; repeatable (env: comma-separated)' },
  { name: 'ttl', kind: 'int', env: 'CLUSTERSET_DNS_TTL', metavar: 'SECONDS', min: 0, max: 86400, default: DEFAULT_DNS_OPTIONS.ttl, help: 'TTL of positive answers' },
  { name: 'negative-ttl', kind: 'int', env: 'CLUSTERSET_DNS_NEGATIVE_TTL', metavar: 'SECONDS', min: 0, max: 86400, default: DEFAULT_DNS_OPTIONS.negativeTtl, help: 'TTL of negative answers (SOA MINIMUM)' },
  { name: 'policy', kind: 'enum', env: 'CLUSTERSET_DNS_POLICY', metavar: 'POLICY', choices: POLICY_NAMES, default: DEFAULT_DNS_OPTIONS.policy, help: `how ClusterSetIP answers pick clusters unless a service's ${ANNOTATION_POLICY} annotation says: ${POLICY_NAMES.join(', ')}` },
  { name: 'panic-mode', kind: 'enum', env: 'CLUSTERSET_DNS_PANIC_MODE', metavar: 'MODE', choices: ['nodata', 'all'], default: DEFAULT_DNS_OPTIONS.panicMode, help: 'answer when every cluster is unhealthy: nodata (with EDE) or all' },
  { name: 'cluster-names', kind: 'negated-bool', env: 'CLUSTERSET_DNS_CLUSTER_NAMES', default: true, help: 'turn off <cluster>.<svc>.<ns>.svc.ZONE names (strict MCS)' },
  { name: 'ede', kind: 'negated-bool', env: 'CLUSTERSET_DNS_EDE', default: true, help: 'turn off Extended DNS Errors (RFC 8914) in answers' },
  { name: 'workers', kind: 'string', env: 'CLUSTERSET_DNS_WORKERS', metavar: 'N|auto', default: 'auto', help: 'DNS worker processes sharing the port (0: answer in the main process; auto: one per core)' },
  { name: 'tcp-idle-timeout', kind: 'int', env: 'CLUSTERSET_DNS_TCP_IDLE_TIMEOUT', metavar: 'SECONDS', min: 1, max: 3600, default: 10, help: 'close idle TCP connections after this long' },
  { name: 'tcp-max-connections', kind: 'int', env: 'CLUSTERSET_DNS_TCP_MAX_CONNECTIONS', metavar: 'N', min: 1, max: 100000, default: 256, help: 'open TCP connections at most (split across workers); at the cap the oldest idle one is closed' },
  { name: 'tcp-read-timeout', kind: 'int', env: 'CLUSTERSET_DNS_TCP_READ_TIMEOUT', metavar: 'SECONDS', min: 1, max: 60, default: 2, help: 'close a TCP connection whose message is not complete this long after its first byte' },
  { name: 'tcp-max-queries', kind: 'int', env: 'CLUSTERSET_DNS_TCP_MAX_QUERIES', metavar: 'N', min: 1, max: 1000000, default: 1000, help: 'queries answered per TCP connection before it is closed' },
  { name: 'cache-size', kind: 'int', env: 'CLUSTERSET_DNS_CACHE_SIZE', metavar: 'MIB', min: 8, max: 4096, default: 64, help: 'answer-cache budget per answering process (each worker), in MiB' },
  { name: 'negative-cache-entries', kind: 'int', env: 'CLUSTERSET_DNS_NEGATIVE_CACHE_ENTRIES', metavar: 'N', min: 1, max: 1000000, default: 16384, help: 'NXDOMAIN/REFUSED answers cached per answering process, apart from the main cache' },
  { name: 'max-records', kind: 'int', env: 'CLUSTERSET_DNS_MAX_RECORDS', metavar: 'N', min: 1, max: 10000, default: DEFAULT_MAX_RECORDS, help: 'records per answer section at most (the rest is left out before encoding)' },
  { name: 'worker-stall-timeout', kind: 'int', env: 'CLUSTERSET_DNS_WORKER_STALL_TIMEOUT', metavar: 'SECONDS', min: 1, max: 600, default: 5, help: 'a worker whose event loop misses heartbeats this long is reported by /healthz and replaced' },
  { name: 'debug-remote', kind: 'bool', env: 'CLUSTERSET_DNS_DEBUG_REMOTE', help: 'answer /debug/* to clients other than loopback too (off: loopback only)' },
  { name: 'log-level', kind: 'enum', env: 'CLUSTERSET_DNS_LOG_LEVEL', metavar: 'LEVEL', choices: LOG_LEVELS, default: 'info', help: 'log level' },
  ALLOWED_CIDRS_FLAG,
  LOG_FORMAT_FLAG,
  { name: 'query-log', kind: 'bool', env: 'CLUSTERSET_DNS_QUERY_LOG', help: 'log every query at info: name, type, rcode, duration, client (like CoreDNS\'s log plugin)' },
];

export const SERVE_FLAGS: readonly FlagSpec[] = [
  { name: 'from-dir', kind: 'string', env: 'CLUSTERSET_DNS_FROM_DIR', metavar: 'DIR', help: 'directory with one sub-directory of Kubernetes YAML per member cluster (required)' },
  { name: 'cluster-id', kind: 'string', env: 'CLUSTERSET_DNS_CLUSTER_ID', metavar: 'ID', help: 'the cluster this server answers for (a sub-directory of DIR; required)' },
  ...DNS_SERVER_FLAGS,
  { name: 'lease-duration', kind: 'int', env: 'CLUSTERSET_DNS_LEASE_DURATION', metavar: 'SECONDS', min: 1, max: 3600, default: 10, help: 'cluster lease duration; an OFFLINE cluster goes stale after it' },
  { name: 'lease-renew', kind: 'int', env: 'CLUSTERSET_DNS_LEASE_RENEW', metavar: 'SECONDS', min: 1, max: 3600, default: 2, help: 'lease renewal interval (less than --lease-duration)' },
  ...PROBE_FLAGS,
];

export interface DnsServerConfig {
  dns: DnsOptions;
  listen: ListenAddress;
  httpListen: ListenAddress;
  workers: number;
  tcpIdleTimeoutMs: number;
  tcpMaxConnections: number;
  logLevel: LogLevel;
  /** Which addresses may be answered (`--allowed-cidrs`; unset: the default policy). */
  addressPolicy?: AddressPolicy;
  /** Default `auto`. */
  logFormat?: LogFormat;
  /** Log every query (default false). */
  queryLog?: boolean;
  // Optional so configs built by hand (tests) need not spell them; the parser always sets them.
  tcpReadTimeoutMs?: number;
  tcpMaxQueriesPerConnection?: number;
  cacheBytes?: number;
  negativeCacheEntries?: number;
  workerStallTimeoutMs?: number;
  /** Answer /debug/* to non-loopback clients. */
  debugRemote?: boolean;
  /** The health listener's address (`--health-listen`); unset: none. */
  healthListen?: ListenAddress;
}

export interface ServeConfig extends DnsServerConfig {
  fromDir: string;
  clusterId: string;
  leaseDurationMs: number;
  leaseRenewMs: number;
  /** Reachability probes of the other clusters' announced targets (--probe-*); unset in hand-built configs: defaults. */
  probe?: ProbeConfig;
}

function parseWorkers(raw: string, cores: number): number {
  // One worker per core: on an idle 2-core machine bench:dns measured two workers at 1.6x the QPS of
  // one (only on a machine already saturated by other work did one worker do slightly better).
  if (raw === 'auto') return cores > 1 ? cores : 0;
  if (!/^\d+$/.test(raw) || Number(raw) > 64) {
    throw new UsageError(`--workers must be auto or a whole number from 0 to 64, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

export function dnsServerConfigFrom(values: Record<string, unknown>, cores = availableParallelism()): DnsServerConfig {
  const zones = (values['zone'] as string[]).map((z) => parseZone(z, '--zone'));
  if (zones.length === 0) throw new UsageError('--zone: at least one zone is required');
  checkZonesDisjoint(zones);
  const listen = parseListen(values['listen'] as string, '--listen');
  const httpListen = parseListen(values['http-listen'] as string, '--http-listen');
  const healthRaw = values['health-listen'] as string | undefined;
  const healthListen = healthRaw === undefined || healthRaw === '' ? undefined : parseListen(healthRaw, '--health-listen');
  if (healthListen !== undefined && healthListen.host === httpListen.host && healthListen.port === httpListen.port && healthListen.port !== 0) {
    throw new UsageError(`--health-listen must differ from --http-listen (both ${healthRaw})`);
  }
  return {
    dns: {
      zones,
      ttl: values['ttl'] as number,
      negativeTtl: values['negative-ttl'] as number,
      policy: values['policy'] as SelectionPolicy,
      panicMode: values['panic-mode'] as PanicMode,
      clusterNames: values['cluster-names'] as boolean,
      ede: values['ede'] as boolean,
      maxRecords: values['max-records'] as number,
    },
    listen,
    httpListen,
    workers: parseWorkers(values['workers'] as string, cores),
    tcpIdleTimeoutMs: (values['tcp-idle-timeout'] as number) * 1000,
    tcpMaxConnections: values['tcp-max-connections'] as number,
    logLevel: values['log-level'] as LogLevel,
    addressPolicy: parseAllowedCidrs((values['allowed-cidrs'] as string[] | undefined) ?? []),
    logFormat: values['log-format'] as LogFormat,
    queryLog: values['query-log'] === true,
    tcpReadTimeoutMs: (values['tcp-read-timeout'] as number) * 1000,
    tcpMaxQueriesPerConnection: values['tcp-max-queries'] as number,
    cacheBytes: (values['cache-size'] as number) * 1024 * 1024,
    negativeCacheEntries: values['negative-cache-entries'] as number,
    workerStallTimeoutMs: (values['worker-stall-timeout'] as number) * 1000,
    debugRemote: (values['debug-remote'] as boolean | undefined) ?? false,
    ...(healthListen === undefined ? {} : { healthListen }),
  };
}

export function parseServeConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cores?: number,
): { config?: ServeConfig; help: boolean } {
  const parsed = parseArgs('serve', argv, SERVE_FLAGS, env);
  if (parsed.help) return { help: true };
  const v = parsed.values;
  if (v['from-dir'] === undefined) throw new UsageError('serve: --from-dir DIR is required (or CLUSTERSET_DNS_FROM_DIR)');
  if (v['cluster-id'] === undefined) throw new UsageError('serve: --cluster-id ID is required (or CLUSTERSET_DNS_CLUSTER_ID)');
  const leaseDurationMs = (v['lease-duration'] as number) * 1000;
  const leaseRenewMs = (v['lease-renew'] as number) * 1000;
  if (leaseRenewMs >= leaseDurationMs) {
    throw new UsageError(`--lease-renew (${leaseRenewMs / 1000}s) must be shorter than --lease-duration (${leaseDurationMs / 1000}s)`);
  }
  return {
    help: false,
    config: {
      ...dnsServerConfigFrom(v, cores),
      fromDir: v['from-dir'] as string,
      clusterId: parseClusterId(v['cluster-id'] as string, '--cluster-id'),
      leaseDurationMs,
      leaseRenewMs,
      probe: probeConfigFrom(v),
    },
  };
}
