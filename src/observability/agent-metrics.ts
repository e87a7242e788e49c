/**
 * The agent's Prometheus metrics: its own prom-client Registry, adapted to the reconcilers'
 * AgentMetrics hooks and the kube stores' hooks. Every label set is bounded (reconciler, outcome,
 * object kind, informer resource, restart reason) — never a service or IP. The reachability
 * metrics are per cluster: bounded by the number of clusters, and a cluster's series are removed
 * when it is no longer probed.
 */
import type { Registry as RegistryT } from 'prom-client';
import type { ReachabilityMetrics } from '../agent/reachability.ts';
import type { KubeStoreMetrics } from '../kube/broker-store.ts';
import { createApiMetrics } from './api-metrics.ts';
import { informerRestartCounter } from './metrics.ts';
import { Counter, Gauge, Histogram, Registry, collectProcessMetrics } from './prom.ts';

export interface AgentMetricsRegistry {
  readonly registry: RegistryT;
  readonly hooks: KubeStoreMetrics;
  readonly reachability: ReachabilityMetrics;
  render(): Promise<{ contentType: string; body: string }>;
}

export interface AgentMetricsOptions {
  /** Register Node's process metrics (default true; ignored when `registry` is given). */
  defaultMetrics?: boolean;
  /** Register into this registry instead of a new one (the embedded default shares the DNS server's). */
  registry?: RegistryT;
}

export function createAgentMetrics(options: AgentMetricsOptions = {}): AgentMetricsRegistry {
  const registry = options.registry ?? new Registry();
  if (options.registry === undefined && options.defaultMetrics !== false) collectProcessMetrics(registry);
  const reconciles = new Counter({
    name: 'clusterset_dns_agent_reconciles_total',
    help: 'Reconciles of one service key, by reconciler (exporter, importer) and outcome (ok, error).',
    labelNames: ['reconciler', 'outcome'],
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: 'clusterset_dns_agent_queue_depth',
    help: 'Keys waiting in a reconciler\'s work queue.',
    labelNames: ['reconciler'],
    registers: [registry],
  });
  const retries = new Counter({
    name: 'clusterset_dns_agent_retries_total',
    help: 'Reconciles scheduled for a retry with backoff after an error.',
    labelNames: ['reconciler'],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'clusterset_dns_agent_broker_objects_rejected_total',
    help: 'Invalid broker objects ignored (bad names, namespaces, labels or sizes), by kind.',
    labelNames: ['kind'],
    registers: [registry],
  });
  const refused = new Counter({
    name: 'clusterset_dns_agent_addresses_refused_total',
    help: 'Objects with addresses the address policy refused (never exported or imported), by stage (export, import), once per new refusal.',
    labelNames: ['stage'],
    registers: [registry],
  });
  const renewals = new Counter({
    name: 'clusterset_dns_agent_lease_renewals_total',
    help: 'Renewals of this cluster\'s Lease on the broker, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const restarts = informerRestartCounter(registry);
  const reachable = new Gauge({
    name: 'clusterset_dns_agent_broker_reachable',
    help: '1 while every broker watch is healthy; 0 while the broker is unreachable (imports fail static).',
    registers: [registry],
  });
  reachable.set(0);
  const api = createApiMetrics(registry);
  return {
    registry,
    reachability: createReachabilityMetrics(registry),
    hooks: {
      reconciled: (reconciler, outcome) => reconciles.inc({ reconciler, outcome }),
      queueDepth: (reconciler, depth) => queueDepth.set({ reconciler }, depth),
      retried: (reconciler) => retries.inc({ reconciler }),
      brokerObjectRejected: (kind) => rejected.inc({ kind }),
      leaseRenewal: (outcome) => renewals.inc({ outcome }),
      addressesRejected: (stage) => refused.inc({ stage }),
      informerRestart: (informer, reason) => restarts.inc({ informer, reason }),
      brokerReachable: (up) => reachable.set(up ? 1 : 0),
      ...api,
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

function createReachabilityMetrics(registry: RegistryT): ReachabilityMetrics {
  const reachable = new Gauge({
    name: 'clusterset_dns_agent_cluster_reachable',
    help: 'Per probed cluster: 1 while its announced probe targets answer from here, 0 while it is unreachable (hysteresis: --probe-failures, --probe-successes).',
    labelNames: ['cluster'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'clusterset_dns_agent_probe_duration_seconds',
    help: 'Probe latency per probed cluster and outcome (ok, error): a TCP connect, or an HTTP answer.',
    labelNames: ['cluster', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const transitions = new Counter({
    name: 'clusterset_dns_agent_reachability_transitions_total',
    help: 'Per probed cluster: changes of its reachability, by the state it changed to (reachable, unreachable).',
    labelNames: ['cluster', 'to'],
    registers: [registry],
  });
  const failSafe = new Gauge({
    name: 'clusterset_dns_agent_reachability_fail_safe',
    help: '1 while every probed cluster is unreachable at once: this cluster\'s own network is suspected and no cluster is excluded.',
    registers: [registry],
  });
  failSafe.set(0);
  const roundFailures = new Counter({
    name: 'clusterset_dns_agent_probe_round_failures_total',
    help: 'Probe rounds that threw (logged); the next round runs as scheduled.',
    registers: [registry],
  });
  return {
    clusterReachable: (cluster, up) => reachable.set({ cluster }, up ? 1 : 0),
    probeLatency: (cluster, seconds, outcome) => latency.observe({ cluster, outcome }, seconds),
    transition: (cluster, to) => transitions.inc({ cluster, to }),
    failSafe: (on) => failSafe.set(on ? 1 : 0),
    roundFailed: () => roundFailures.inc(),
    forgetCluster: (cluster) => {
      reachable.remove({ cluster });
      for (const outcome of ['ok', 'error']) latency.remove({ cluster, outcome });
      for (const to of ['reachable', 'unreachable']) transitions.remove({ cluster, to });
    },
  };
}
