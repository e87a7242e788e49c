/**
 * Metrics of the agent's API writes: how long they take and how they end, per API server (local
 * cluster or broker), and the adaptive limit of requests in flight (kube/request-gate.ts) with
 * why it last moved. Labels are bounded sets: target (local, broker), outcome, reason.
 */
import type { Registry as RegistryT } from 'prom-client';
import { Counter, Gauge, Histogram } from './prom.ts';

export type ApiTargetLabel = 'local' | 'broker';

export interface ApiMetricsHooks {
  apiRequest(target: ApiTargetLabel, outcome: string, seconds: number): void;
  apiLimit(target: ApiTargetLabel, limit: number, why: string): void;
}

export function createApiMetrics(registry: RegistryT): ApiMetricsHooks {
  const requests = new Histogram({
    name: 'clusterset_dns_agent_api_request_seconds',
    help: 'API writes (server-side applies and deletes) by API server (local, broker) and outcome (ok, conflict, not-found, overload, error), from queueing at the gate to the answer.',
    labelNames: ['target', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    registers: [registry],
  });
  const limit = new Gauge({
    name: 'clusterset_dns_agent_api_concurrency_limit',
    help: 'Writes this agent lets be in flight at once to an API server (local, broker); adapts to its latency and 429/5xx answers.',
    labelNames: ['target'],
    registers: [registry],
  });
  const changes = new Counter({
    name: 'clusterset_dns_agent_api_limit_changes_total',
    help: 'Changes of that limit by reason: increase (+2, callers waited for a slot), no-gain (a raise brought latency but no more answers per second: taken back), overload (429, 5xx, timeout: halved).',
    labelNames: ['target', 'reason'],
    registers: [registry],
  });
  return {
    apiRequest: (target, outcome, seconds) => requests.observe({ target, outcome }, seconds),
    apiLimit: (target, value, why) => {
      limit.set({ target }, value);
      if (why !== 'initial') changes.inc({ target, reason: why });
    },
  };
}
