/**
 * The agent's status report (served at /status, drawn by the page at /): what this agent's caches
 * hold, through the same collector as the embedded default (liveness from broker leases, conflicts
 * from aggregateService, the local exports' conditions) and the same selection code for who serves.
 */
import type { BrokerView, LocalClusterStore } from '../agent/stores.ts';
import { DEFAULT_DNS_OPTIONS } from '../config/options.ts';
import { buildSnapshot } from '../model/snapshot-build.ts';
import { buildStatusReport, type StatusFilter, type StatusReport } from '../model/status-report.ts';
import { collectStatusInputs } from '../standalone/status-inputs.ts';

export function agentStatusReport(options: {
  clusterId: string;
  local: LocalClusterStore;
  broker: BrokerView;
  gcGraceMs: number;
  filter: StatusFilter;
  now?: number;
}): StatusReport {
  const now = options.now ?? Date.now();
  const services = options.local.listImportedServices();
  const slices = services.flatMap((s) => options.local.listImportedSlices(s));
  const connectivity = options.broker.connectivity();
  const state = { synced: true, services, slices, ...(connectivity.reachable ? {} : { staleSource: { reason: connectivity.reason ?? 'broker unreachable', since: connectivity.since } }) };
  return buildStatusReport(
    {
      snapshot: buildSnapshot(state, options.clusterId, 1, now),
      selection: { policy: DEFAULT_DNS_OPTIONS.policy, panicMode: DEFAULT_DNS_OPTIONS.panicMode },
      ...collectStatusInputs({ broker: options.broker, local: options.local, members: [options.clusterId], now, gcGraceMs: options.gcGraceMs }),
      problems: [],
      source: 'cluster',
      now,
    },
    options.filter,
  );
}
