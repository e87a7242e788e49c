/**
 * The process's Prometheus metrics: its OWN prom-client Registry (never the global one), the metric
 * objects, and a renderer that folds in metrics from other processes (DNS worker processes) with
 * prom-client's aggregation helper.
 */
import type { Counter as CounterT, Gauge as GaugeT, Histogram as HistogramT, MetricObjectWithValues, MetricValue, Registry as RegistryT } from 'prom-client';
import {
  DURATION_BUCKETS,
  MALFORMED_REASONS,
  QUERY_TYPE_LABELS,
  QueryStats,
  RCODE_LABELS,
  TCP_CLOSE_REASONS,
  TRANSPORTS,
} from './query-stats.ts';
import { Counter, Gauge, Registry, aggregateMetrics, collectProcessMetrics, sharedCounter } from './prom.ts';

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];
/** Returns the metric JSON of each other process to merge (for example one array per DNS worker). */
export type RemoteMetricsSource = () => Promise<MetricsJson[]>;

/** Metrics only the process that owns the snapshot and the workers sets; workers never export them. */
const PRIMARY_ONLY = new Set([
  'clusterset_dns_snapshot_version',
  'clusterset_dns_snapshot_age_seconds',
  'clusterset_dns_cluster_healthy',
  'clusterset_dns_worker_restarts_total',
  'clusterset_dns_health_listener_restarts_total',
  'clusterset_dns_informer_restarts_total',
  'clusterset_dns_addresses_refused_total',
  'clusterset_dns_worker_stalls_total',
  'clusterset_dns_workers_stalled',
]);

export interface Metrics {
  readonly registry: RegistryT;
  /** Hot-path accumulator the DNS server bumps; read into the registry on every scrape. */
  readonly stats: QueryStats;
  readonly workerRestarts: CounterT<string>;
  /** Restarts of the --health-listen thread after it died. */
  readonly healthListenerRestarts: CounterT<string>;
  /** Relists of the DNS server's own informers (`dns` command), by informer and bounded reason. */
  readonly informerRestarts: CounterT<'informer' | 'reason'>;
  /** Addresses the DNS feed refused (address policy), counted once per new refusal. */
  readonly addressesRefused: CounterT<string>;
  /** Workers found with a blocked event loop (then replaced), and how many are stalled right now. */
  readonly workerStalls: CounterT<string>;
  readonly workersStalled: GaugeT<string>;
  /** Record what the served snapshot is: version, build time and each cluster's health. */
  setSnapshotInfo(info: { version: number; builtAt: number; clusterHealthy: ReadonlyMap<string, boolean> }): void;
  /** Merge other processes' metrics into render() (worker processes). */
  addRemoteSource(source: RemoteMetricsSource): void;
  /** Prometheus text of this process plus every remote source. */
  render(): Promise<{ contentType: string; body: string }>;
  /** This process's metrics as JSON for aggregation by a primary (worker side). */
  exportForAggregation(): Promise<MetricsJson>;
}

export interface CreateMetricsOptions {
  /** Register Node's default process metrics (default true). */
  defaultMetrics?: boolean;
  now?: () => number;
}

export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const now = options.now ?? Date.now;
  const registry = new Registry();
  const stats = new QueryStats();
  const remoteSources: RemoteMetricsSource[] = [];
  if (options.defaultMetrics !== false) collectProcessMetrics(registry);

  // Counters read the accumulators as deltas since the previous scrape, so they stay monotonic.
  const flushedQueries = new Float64Array(stats.queries.length);
  new Counter({
    name: 'clusterset_dns_queries_total',
    // `proto` as CoreDNS names the transport (coredns_dns_requests_total{proto}).
    help: 'DNS queries answered, by served zone (zone; "." for none), transport (proto: udp, tcp), query type and response code.',
    labelNames: ['zone', 'proto', 'type', 'rcode'],
    registers: [registry],
    collect(this: CounterT<string>) {
      for (const [zoneSlot, zone] of stats.zoneSlots()) {
        TRANSPORTS.forEach((transport, t) => {
          QUERY_TYPE_LABELS.forEach((type, q) => {
            RCODE_LABELS.forEach((rcode, r) => {
              const slot = QueryStats.slot(zoneSlot, t, q, r);
              const delta = stats.queries[slot]! - flushedQueries[slot]!;
              flushedQueries[slot] = stats.queries[slot]!;
              if (delta > 0) this.inc({ zone, proto: transport, type, rcode }, delta);
            });
          });
        });
      }
    },
  });

  const flushed = { hits: 0, misses: 0, errors: 0 };
  new Counter({
    name: 'clusterset_dns_cache_hits_total',
    help: 'Answers served from the encoded-answer cache.',
    registers: [registry],
    collect(this: CounterT<string>) {
      this.inc(stats.cacheHits - flushed.hits);
      flushed.hits = stats.cacheHits;
    },
  });
  new Counter({
    name: 'clusterset_dns_cache_misses_total',
    help: 'Answers that had to be computed and encoded.',
    registers: [registry],
    collect(this: CounterT<string>) {
      this.inc(stats.cacheMisses - flushed.misses);
      flushed.misses = stats.cacheMisses;
    },
  });
  new Counter({
    name: 'clusterset_dns_answer_errors_total',
    help: 'Queries whose answer could not be computed or encoded (answered SERVFAIL).',
    registers: [registry],
    collect(this: CounterT<string>) {
      this.inc(stats.answerErrors - flushed.errors);
      flushed.errors = stats.answerErrors;
    },
  });

  const flushedMalformed = new Float64Array(stats.malformed.length);
  new Counter({
    name: 'clusterset_dns_malformed_total',
    help: 'Messages rejected (FORMERR) or dropped as malformed, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect(this: CounterT<string>) {
      MALFORMED_REASONS.forEach((reason, i) => {
        const delta = stats.malformed[i]! - flushedMalformed[i]!;
        flushedMalformed[i] = stats.malformed[i]!;
        if (delta > 0) this.inc({ reason }, delta);
      });
    },
  });

  registry.registerMetric(durationHistogram(stats));

  const flushedTcpClosed = new Float64Array(stats.tcpClosed.length);
  new Counter({
    name: 'clusterset_dns_tcp_closed_total',
    help: 'TCP connections the server closed, by reason (read deadline, idle, evicted at the connection cap, query cap, message in too many segments).',
    labelNames: ['reason'],
    registers: [registry],
    collect(this: CounterT<string>) {
      TCP_CLOSE_REASONS.forEach((reason, i) => {
        const delta = stats.tcpClosed[i]! - flushedTcpClosed[i]!;
        flushedTcpClosed[i] = stats.tcpClosed[i]!;
        if (delta > 0) this.inc({ reason }, delta);
      });
    },
  });
  new Gauge({
    name: 'clusterset_dns_answer_cache_bytes',
    help: 'Bytes charged in the answer cache (summed over DNS workers; each is bounded by --cache-size).',
    registers: [registry],
    collect(this: GaugeT<string>) {
      this.set(stats.cacheBytes);
    },
  });
  new Gauge({
    name: 'clusterset_dns_answer_cache_entries',
    help: 'Entries in the answer cache (summed over DNS workers).',
    registers: [registry],
    collect(this: GaugeT<string>) {
      this.set(stats.cacheEntries);
    },
  });

  const workerRestarts = new Counter({
    name: 'clusterset_dns_worker_restarts_total',
    help: 'DNS worker processes restarted after they died.',
    registers: [registry],
  });

  const healthListenerRestarts = new Counter({
    name: 'clusterset_dns_health_listener_restarts_total',
    help: 'Restarts of the --health-listen thread (/healthz, /readyz) after it died.',
    registers: [registry],
  });

  const informerRestarts = informerRestartCounter(registry);
  const addressesRefused = new Counter({
    name: 'clusterset_dns_addresses_refused_total',
    help: 'Addresses never answered because the address policy refused them (loopback, link-local, multicast, ... or outside --allowed-cidrs), once per new refusal.',
    registers: [registry],
  });
  const workerStalls = new Counter({
    name: 'clusterset_dns_worker_stalls_total',
    help: 'DNS workers whose event loop stopped answering heartbeats for longer than --worker-stall-timeout (each is replaced).',
    registers: [registry],
  });
  const workersStalled = new Gauge({
    name: 'clusterset_dns_workers_stalled',
    help: 'DNS workers stalled right now (not answering heartbeats).',
    registers: [registry],
  });

  let snapshotBuiltAt: number | undefined;
  const snapshotVersion = new Gauge({
    name: 'clusterset_dns_snapshot_version',
    help: 'Version of the state snapshot answers come from (0 before the first one).',
    registers: [registry],
  });
  new Gauge({
    name: 'clusterset_dns_snapshot_age_seconds',
    help: 'Seconds since the served state snapshot was built.',
    registers: [registry],
    collect(this: GaugeT<string>) {
      this.set(snapshotBuiltAt === undefined ? 0 : Math.max(0, (now() - snapshotBuiltAt) / 1000));
    },
  });
  const clusterHealthy = new Gauge({
    name: 'clusterset_dns_cluster_healthy',
    help: '1 when at least one of a source cluster\'s services has a healthy backend there (the rule explain and answers use), 0 otherwise.',
    labelNames: ['cluster'],
    registers: [registry],
  });

  return {
    registry,
    stats,
    workerRestarts,
    healthListenerRestarts,
    informerRestarts,
    addressesRefused,
    workerStalls,
    workersStalled,
    setSnapshotInfo(info) {
      snapshotBuiltAt = info.builtAt;
      snapshotVersion.set(info.version);
      // Reset first: a cluster that left the clusterset must not keep its last value forever.
      clusterHealthy.reset();
      for (const [cluster, healthy] of info.clusterHealthy) clusterHealthy.set({ cluster }, healthy ? 1 : 0);
    },
    addRemoteSource(source) {
      remoteSources.push(source);
    },
    async render() {
      if (remoteSources.length === 0) {
        return { contentType: registry.contentType, body: await registry.metrics() };
      }
      const own = await registry.getMetricsAsJSON();
      const remote = (await Promise.all(remoteSources.map((source) => source()))).flat();
      const merged = aggregateMetrics([own, ...remote] as MetricsJson[]);
      return { contentType: registry.contentType, body: await merged.metrics() };
    },
    async exportForAggregation() {
      const all = (await registry.getMetricsAsJSON()) as MetricsJson;
      return all.filter((metric) => !PRIMARY_ONLY.has(metric.name));
    },
  };
}

/**
 * clusterset_dns_informer_restarts_total in `registry`: the one already there (the embedded default
 * shares one registry between the DNS server's and the agent's metrics), or a new one.
 */
export function informerRestartCounter(registry: RegistryT): CounterT<'informer' | 'reason'> {
  return sharedCounter(registry, {
    name: 'clusterset_dns_informer_restarts_total',
    help: 'Informer restarts (list or watch failed or expired: relist after backoff), by informer and reason.',
    labelNames: ['informer', 'reason'] as const,
  });
}

/**
 * clusterset_dns_request_duration_seconds, rendered from the accumulator. prom-client has no way to
 * add pre-counted buckets to a Histogram, so this is a minimal metric object in the shape the
 * Registry reads (`name`, `help`, `type`, `aggregator`, `get()`); the cast is confined here.
 */
function durationHistogram(stats: QueryStats): HistogramT<string> {
  const name = 'clusterset_dns_request_duration_seconds';
  const help = 'Time from receiving a query to handing its reply to the socket, by transport (proto).';
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    async get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      TRANSPORTS.forEach((transport, t) => {
        let cumulative = 0;
        DURATION_BUCKETS.forEach((le, b) => {
          cumulative += stats.durationBuckets[t * (DURATION_BUCKETS.length + 1) + b]!;
          values.push({ metricName: `${name}_bucket`, labels: { le, proto: transport }, value: cumulative });
        });
        cumulative += stats.durationBuckets[t * (DURATION_BUCKETS.length + 1) + DURATION_BUCKETS.length]!;
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', proto: transport }, value: cumulative });
        values.push({ metricName: `${name}_sum`, labels: { proto: transport }, value: stats.durationSum[t]! });
        values.push({ metricName: `${name}_count`, labels: { proto: transport }, value: stats.durationCount[t]! });
      });
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  return metric as unknown as HistogramT<string>;
}
