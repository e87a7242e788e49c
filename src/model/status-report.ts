/**
 * Pure: the clusterset as one cluster sees it — `clusterset-dns status`, its `-o json`, the status
 * page and `--wait` all read this one report. Which clusters serve a service, and why the others do
 * not, comes from the SAME selection functions as DNS answers and `explain` (model/selection.ts),
 * so the three can never disagree. The callers collect the inputs (in memory for `serve`, from the
 * API for a real cluster); nothing here does IO.
 */
import { clusterHealth, effectivePolicy, isBackendHealthy, selectClusterSetIPs, selectHeadless, weightOf, type ClusterDecision, type SelectionOptions } from './selection.ts';
import type { PolicyName, PolicySource } from './traffic-policy.ts';
import type { Place, ServiceEntry, Snapshot } from './snapshot.ts';
import type { ClusterId, IPFamily } from './types.ts';

export type ClusterState = 'fresh' | 'stale' | 'gone' | 'unknown';

export interface ClusterInput {
  id: ClusterId;
  state: ClusterState;
  /** Why not fresh (lease expired at …, no lease). */
  reason?: string;
  /** Epoch ms of the last lease renewal, when a lease exists. */
  renewedAt?: number;
  leaseDurationMs?: number;
  /** Services this cluster exports (records on the broker). */
  exports: number;
}

export interface ConflictInput {
  namespace: string;
  name: string;
  winner: ClusterId;
  /** MCS reasons: PortConflict, TypeConflict, … */
  reasons: string[];
  details: string[];
}

export interface ConditionInput {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime?: number;
}

export interface LocalExportInput {
  namespace: string;
  name: string;
  conditions: ConditionInput[];
}

export interface ProblemInput {
  severity: 'error' | 'warning';
  file: string;
  line?: number;
  /** The whole problem as one line (`file:line: …`). */
  text: string;
}

export interface StatusInputs {
  snapshot: Snapshot;
  selection: SelectionOptions;
  clusters: ClusterInput[];
  conflicts: ConflictInput[];
  /** The local cluster's ServiceExports and their conditions. */
  localExports: LocalExportInput[];
  problems: ProblemInput[];
  /** Where the report was built: `serve` (the embedded default) or `cluster` (a real API server). */
  source: 'serve' | 'cluster';
  now: number;
}

export interface ClusterStatus {
  id: ClusterId;
  state: ClusterState;
  reason?: string;
  leaseAgeSeconds?: number;
  leaseDurationSeconds?: number;
  exports: number;
  /** Probe results are not part of this release: always `unknown`. */
  reachability: 'unknown';
}

export interface ServiceClusterStatus {
  id: ClusterId;
  serving: boolean;
  reason: string;
  readyEndpoints: number;
  endpoints: number;
  /** The cluster's weight for this service (0-1000; 0 drains it). */
  weight: number;
  region?: string;
  zone?: string;
}

export interface ServiceStatus {
  namespace: string;
  name: string;
  type: ServiceEntry['type'];
  vips: string[];
  ports: string[];
  /** The policy answers follow, and whether the service's annotation or --policy chose it. */
  policy: PolicyName;
  policySource: PolicySource;
  clusters: ServiceClusterStatus[];
  conflicts: Array<{ reason: string; winner: ClusterId; details: string[] }>;
  /** Conditions of the local cluster's ServiceExport of this service, if it exports it. */
  exportConditions: ConditionInput[];
}

export interface StatusReport {
  cluster: ClusterId;
  source: StatusInputs['source'];
  generatedAt: string;
  synced: boolean;
  /** True when nothing below is degraded; `notReady` says what is. */
  ready: boolean;
  notReady: string[];
  clusters: ClusterStatus[];
  services: ServiceStatus[];
  exports: LocalExportInput[];
  problems: ProblemInput[];
}

export interface StatusFilter {
  namespace?: string;
  service?: string;
}

/** At most this many not-ready reasons are listed (the count says how many more there are). */
const MAX_NOT_READY = 50;

function familiesOf(service: ServiceEntry): IPFamily[] {
  const families = new Set<IPFamily>();
  for (const b of service.backends) for (const e of b.endpoints) for (const a of e.addresses) families.add(a.includes(':') ? 'IPv6' : 'IPv4');
  return families.size === 0 ? ['IPv4'] : [...families].sort();
}

/** Per cluster: serving or not, and why, exactly as the DNS answer decides it. */
function servingDecisions(service: ServiceEntry, localCluster: ClusterId, selection: SelectionOptions, localPlace: Place): Map<ClusterId, ClusterDecision> {
  const out = new Map<ClusterId, ClusterDecision>();
  if (service.type === 'Headless') {
    for (const d of selectHeadless(service).clusters) out.set(d.cluster, d);
    return out;
  }
  if (service.vips.length > 0) {
    // Answers are the VIP; a cluster serves behind it when it is healthy.
    for (const b of service.backends) {
      const h = clusterHealth(b);
      out.set(b.cluster, { cluster: b.cluster, healthy: h.healthy, included: h.healthy, reason: h.healthy ? `${h.reason}, behind the VIP` : `unhealthy: ${h.reason}`, addresses: [], known: [], weight: weightOf(b) });
    }
    return out;
  }
  // One selection per address family, as A and AAAA queries are answered; with two families the
  // reason says which one a cluster serves (an IPv4-only local cluster leaves AAAA to remotes).
  const families = familiesOf(service);
  for (const family of families) {
    for (const d of selectClusterSetIPs(service, localCluster, family, selection, localPlace).clusters) {
      const prev = out.get(d.cluster);
      const labelled = families.length > 1 ? { ...d, reason: `${family}: ${d.reason}` } : d;
      if (prev === undefined || (!prev.included && d.included)) out.set(d.cluster, labelled);
    }
  }
  return out;
}

function matches(filter: StatusFilter, ref: { namespace: string; name: string }): boolean {
  return (filter.namespace === undefined || filter.namespace === ref.namespace) && (filter.service === undefined || filter.service === ref.name);
}

export function buildStatusReport(inputs: StatusInputs, filter: StatusFilter = {}): StatusReport {
  const { snapshot } = inputs;
  const notReady: string[] = [];
  const conflictsByKey = new Map(inputs.conflicts.map((c) => [`${c.namespace}/${c.name}`, c]));
  const exportsByKey = new Map(inputs.localExports.map((e) => [`${e.namespace}/${e.name}`, e]));

  const services: ServiceStatus[] = [];
  const involved = new Set<ClusterId>();
  for (const service of [...snapshot.services.values()].sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1))) {
    if (!matches(filter, service)) continue;
    const decisions = servingDecisions(service, snapshot.localCluster, inputs.selection, snapshot.localPlace ?? {});
    const clusters = service.backends.map((b): ServiceClusterStatus => {
      const h = clusterHealth(b);
      const d = decisions.get(b.cluster);
      involved.add(b.cluster);
      const status: ServiceClusterStatus = { id: b.cluster, serving: d?.included ?? false, reason: d?.reason ?? h.reason, readyEndpoints: h.readyEndpoints, endpoints: h.totalEndpoints, weight: weightOf(b) };
      if (b.region !== undefined) status.region = b.region;
      if (b.zone !== undefined) status.zone = b.zone;
      return status;
    });
    const policy = effectivePolicy(service, inputs.selection);
    const key = `${service.namespace}/${service.name}`;
    const conflict = conflictsByKey.get(key);
    const conflicts = conflict === undefined ? [] : conflict.reasons.map((reason) => ({ reason, winner: conflict.winner, details: conflict.details }));
    if (!clusters.some((c) => c.serving)) notReady.push(`${key}: no cluster serves it`);
    services.push({
      namespace: service.namespace,
      name: service.name,
      type: service.type,
      vips: [...service.vips],
      ports: service.ports.map((p) => `${p.name === '' ? '' : `${p.name} `}${p.port}/${p.protocol}`),
      policy: policy.policy,
      policySource: policy.source,
      clusters,
      conflicts,
      exportConditions: exportsByKey.get(key)?.conditions ?? [],
    });
  }

  const exports = inputs.localExports.filter((e) => matches(filter, e));
  for (const e of exports) {
    const ready = e.conditions.find((c) => c.type === 'Ready');
    if (ready === undefined || ready.status !== 'True') notReady.push(`ServiceExport ${e.namespace}/${e.name}: Ready=${ready?.status ?? 'Unknown'}${ready?.reason ? ` (${ready.reason})` : ''}`);
  }

  const filtered = filter.namespace !== undefined || filter.service !== undefined;
  const clusters = inputs.clusters.map((c): ClusterStatus => {
    const status: ClusterStatus = { id: c.id, state: c.state, exports: c.exports, reachability: 'unknown' };
    if (c.reason !== undefined) status.reason = c.reason;
    if (c.renewedAt !== undefined) status.leaseAgeSeconds = Math.max(0, Math.round((inputs.now - c.renewedAt) / 100) / 10);
    if (c.leaseDurationMs !== undefined) status.leaseDurationSeconds = c.leaseDurationMs / 1000;
    // With a filter, only the clusters of the selected services count.
    if (c.state !== 'fresh' && (!filtered || involved.has(c.id))) notReady.push(`cluster ${c.id}: ${c.state}${c.reason !== undefined ? ` (${c.reason})` : ''}`);
    return status;
  });

  if (!snapshot.synced) notReady.unshift('not synced yet');
  if (snapshot.staleSource !== undefined) notReady.push(`state source unreachable: ${snapshot.staleSource.reason}`);
  for (const p of inputs.problems) if (p.severity === 'error' && !filtered) notReady.push(p.text);
  const shown = notReady.length > MAX_NOT_READY ? [...notReady.slice(0, MAX_NOT_READY), `(+${notReady.length - MAX_NOT_READY} more)`] : notReady;

  return {
    cluster: snapshot.localCluster,
    source: inputs.source,
    generatedAt: new Date(inputs.now).toISOString(),
    synced: snapshot.synced,
    ready: notReady.length === 0,
    notReady: shown,
    clusters,
    services,
    exports,
    problems: inputs.problems,
  };
}

/**
 * Per source cluster: healthy when at least one of its services has a healthy backend there, by the
 * selection code's own health rule (the clusterset_dns_cluster_healthy gauge).
 */
export function clusterHealthByCluster(snapshot: Snapshot): Map<ClusterId, boolean> {
  const health = new Map<ClusterId, boolean>();
  for (const service of snapshot.services.values()) {
    for (const backend of service.backends) {
      // Once healthy, a cluster stays so: its other backends need no look.
      if (health.get(backend.cluster) !== true) health.set(backend.cluster, isBackendHealthy(backend));
    }
  }
  return health;
}
