/**
 * The agent's Prometheus metrics: its own prom-client Registry, adapted to the reconcilers'
 * AgentMetrics hooks and the kube stores' hooks. Every label set is bounded (reconciler, outcome,
 * object kind, informer resource, restart reason) — never a service, cluster or IP.
 */
import promClient from 'prom-client';
import type { Registry as RegistryT } from 'prom-client';
import type { KubeStoreMetrics } from '../kube/broker-store.ts';
import { createApiMetrics } from './api-metrics.ts';
import { informerRestartCounter } from './metrics.ts';

const { Counter, Gauge, Registry, collectDefaultMetrics } = promClient;

export interface AgentMetricsRegistry {
  readonly registry: RegistryT;
  readonly hooks: KubeStoreMetrics;
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
  if (options.registry === undefined && options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
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
