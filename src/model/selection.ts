/**
 * Health-aware selection of the clusters and endpoints that answer for a service. Pure, and the
 * ONLY place these decisions are made: the DNS answer and `explain` both read the structures
 * returned here, so what explain shows is exactly what DNS answered (principle 5).
 *
 * Health model (DESIGN.md): an endpoint is ready per `ready`; a cluster is healthy for a service
 * when the importer did not exclude it and it has at least one ready endpoint with an address.
 */
import { addressFamily, endpointLabel } from './endpoint-name.ts';
import { Reasons, summarizeClusters } from './reasons.ts';
import type { ClusterBackend, ServiceEntry } from './snapshot.ts';
import type { ClusterId, IPFamily } from './types.ts';

/** Same values as config's SelectionPolicy; repeated here because model/ imports nothing else. */
export type SelectionPolicyName = 'local-first' | 'all' | 'round-robin';
/** Same values as config's PanicMode. */
export type PanicModeName = 'nodata' | 'all';

export interface SelectionOptions {
  policy: SelectionPolicyName;
  panicMode: PanicModeName;
}

export interface ClusterHealth {
  healthy: boolean;
  /** Why unhealthy, or a short healthy summary. */
  reason: string;
  readyEndpoints: number;
  totalEndpoints: number;
}

export interface ClusterDecision {
  cluster: ClusterId;
  healthy: boolean;
  included: boolean;
  reason: string;
  /** Addresses this cluster contributes to the answer (empty when not included). */
  addresses: string[];
  /** Every address the cluster has for this question, served or not (what explain shows). */
  known: string[];
}

export interface EndpointDecision {
  cluster: ClusterId;
  /** The DNS label naming the endpoint (hostname, or its first IP with `.`/`:` → `-`). */
  label: string;
  addresses: string[];
  ready: boolean;
  included: boolean;
  reason: string;
}

/**
 * - `selected`: a normal answer.
 * - `failover`: local-first fell back to remote clusters (still healthy, but worth saying).
 * - `explicit`: a cluster-specific name; the cluster is answered even when unhealthy.
 * - `panic-nodata` / `panic-all`: every candidate is unhealthy (see PanicModeName).
 * - `no-candidate`: no cluster has an address of the family at all (plain NODATA).
 */
export type SelectionOutcome = 'selected' | 'failover' | 'explicit' | 'panic-nodata' | 'panic-all' | 'no-candidate';

export interface ClusterSetSelection {
  family: IPFamily;
  policy: SelectionPolicyName | 'explicit';
  clusters: ClusterDecision[];
  /** Answer addresses in cluster-ID order, before any per-query rotation. */
  addresses: string[];
  /** `pick-one` for round-robin (one record per answer), `rotate` otherwise. */
  mode: 'rotate' | 'pick-one';
  outcome: SelectionOutcome;
  /** Why the answer is empty or degraded; undefined for a normal answer. */
  note?: string;
}

export interface HeadlessSelection {
  clusters: ClusterDecision[];
  endpoints: EndpointDecision[];
  /** Number of endpoints served (ready, with an address, in a healthy cluster). */
  served: number;
  /** Why nothing is served; undefined when something is. */
  note?: string;
}

function displayName(service: ServiceEntry): string {
  return `${service.namespace}/${service.name}`;
}

export function clusterHealth(backend: ClusterBackend): ClusterHealth {
  const total = backend.endpoints.length;
  let ready = 0;
  let readyWithAddress = 0;
  for (const endpoint of backend.endpoints) {
    if (!endpoint.ready) continue;
    ready++;
    if (endpoint.addresses.length > 0) readyWithAddress++;
  }
  const counts = { readyEndpoints: ready, totalEndpoints: total };
  if (backend.excludedReason !== undefined) {
    return { healthy: false, reason: Reasons.excluded(backend.excludedReason), ...counts };
  }
  if (total === 0) return { healthy: false, reason: Reasons.noEndpoints(), ...counts };
  if (ready === 0) return { healthy: false, reason: Reasons.noReadyEndpoints(total), ...counts };
  if (readyWithAddress === 0) return { healthy: false, reason: Reasons.readyWithoutAddress(), ...counts };
  return { healthy: true, reason: Reasons.healthy(ready, total), ...counts };
}

function familyAddresses(backend: ClusterBackend, family: IPFamily, readyOnly: boolean): string[] {
  // A Set, not includes(): a cluster may legally carry 100,000 addresses (issue 9).
  const seen = new Set<string>();
  for (const endpoint of backend.endpoints) {
    if (readyOnly && !endpoint.ready) continue;
    for (const address of endpoint.addresses) {
      if (addressFamily(address) === family) seen.add(address);
    }
  }
  return [...seen];
}

interface Candidate {
  backend: ClusterBackend;
  health: ClusterHealth;
  /** Ready addresses of the family: what a healthy cluster contributes. */
  readyAddresses: string[];
  /** Every address of the family, ready or not: what panic mode `all` contributes. */
  allAddresses: string[];
}

/**
 * Chooses the service IPs of a ClusterSetIP service without VIP, for one address family, per the
 * policy. A cluster is usable for the family when it is healthy and has a ready address of that
 * family, so an IPv6-only local cluster does not hide IPv4 remotes from an A query.
 */
export function selectClusterSetIPs(
  service: ServiceEntry,
  localCluster: ClusterId,
  family: IPFamily,
  options: SelectionOptions,
): ClusterSetSelection {
  const candidates: Candidate[] = service.backends.map((backend) => ({
    backend,
    health: clusterHealth(backend),
    readyAddresses: familyAddresses(backend, family, true),
    allAddresses: familyAddresses(backend, family, false),
  }));
  const usable = (c: Candidate): boolean => c.health.healthy && c.readyAddresses.length > 0;
  const mode = options.policy === 'round-robin' ? 'pick-one' : 'rotate';
  const decide = (c: Candidate, included: boolean, reason: string, addresses: string[]): ClusterDecision => ({
    cluster: c.backend.cluster,
    healthy: c.health.healthy,
    included,
    reason,
    addresses: included ? addresses : [],
    known: c.allAddresses,
  });
  /** Why a cluster cannot serve this family, when it cannot. */
  const unusableReason = (c: Candidate): string =>
    c.health.healthy ? Reasons.noAddressOfFamily(family) : Reasons.unhealthy(c.health.reason);

  const withFamily = candidates.filter((c) => c.allAddresses.length > 0);
  const anyUsable = candidates.some(usable);

  if (!anyUsable) {
    const clusters = candidates.map((c) => decide(c, false, unusableReason(c), []));
    if (withFamily.length === 0) {
      const note =
        candidates.length === 0
          ? `no cluster has endpoints for ${displayName(service)}`
          : `${displayName(service)} has no ${family} address`;
      return { family, policy: options.policy, clusters, addresses: [], mode, outcome: 'no-candidate', note };
    }
    const summary = summarizeClusters(
      withFamily.map((c) => ({ cluster: c.backend.cluster, reason: c.health.healthy ? Reasons.noAddressOfFamily(family) : c.health.reason })),
    );
    if (options.panicMode === 'all') {
      const panicClusters = candidates.map((c) =>
        c.allAddresses.length > 0
          ? decide(c, true, Reasons.panicIncluded(c.health.reason), c.allAddresses)
          : decide(c, false, unusableReason(c), []),
      );
      return {
        family,
        policy: options.policy,
        clusters: panicClusters,
        addresses: panicClusters.flatMap((d) => d.addresses),
        mode,
        outcome: 'panic-all',
        note: `degraded, no healthy cluster, answering all: ${summary}`,
      };
    }
    return { family, policy: options.policy, clusters, addresses: [], mode, outcome: 'panic-nodata', note: `no healthy cluster: ${summary}` };
  }

  let clusters: ClusterDecision[];
  let outcome: SelectionOutcome = 'selected';
  let note: string | undefined;
  if (options.policy === 'local-first') {
    const local = candidates.find((c) => c.backend.cluster === localCluster);
    if (local !== undefined && usable(local)) {
      clusters = candidates.map((c) =>
        c === local
          ? decide(c, true, Reasons.localHealthy(), c.readyAddresses)
          : decide(c, false, usable(c) ? Reasons.notNeededLocalHealthy(localCluster) : unusableReason(c), []),
      );
    } else {
      clusters = candidates.map((c) =>
        usable(c)
          ? decide(c, true, local === undefined ? Reasons.remoteHealthy() : Reasons.remoteFailover(localCluster), c.readyAddresses)
          : decide(c, false, unusableReason(c), []),
      );
      if (local !== undefined) {
        outcome = 'failover';
        note = `local cluster ${localCluster} unavailable (${unusableReason(local)}), answering remote clusters`;
      }
    }
  } else {
    const reason = options.policy === 'round-robin' ? Reasons.healthyRoundRobin() : Reasons.healthyAll();
    clusters = candidates.map((c) => (usable(c) ? decide(c, true, reason, c.readyAddresses) : decide(c, false, unusableReason(c), [])));
  }
  const selection: ClusterSetSelection = {
    family,
    policy: options.policy,
    clusters,
    addresses: clusters.flatMap((d) => d.addresses),
    mode,
    outcome,
  };
  if (note !== undefined) selection.note = note;
  return selection;
}

/**
 * A cluster-specific name (`<cluster>.<svc>...`) of a ClusterSetIP service: that cluster's service
 * IPs of the family even when it is unhealthy, because the client asked for it explicitly.
 */
export function selectExplicitCluster(service: ServiceEntry, cluster: ClusterId, family: IPFamily): ClusterSetSelection {
  let addresses: string[] = [];
  let note: string | undefined;
  const clusters = service.backends.map((backend): ClusterDecision => {
    const health = clusterHealth(backend);
    const known = familyAddresses(backend, family, false);
    if (backend.cluster !== cluster) {
      return { cluster: backend.cluster, healthy: health.healthy, included: false, reason: Reasons.notRequested(), addresses: [], known };
    }
    addresses = known;
    if (!health.healthy && addresses.length > 0) {
      note = `degraded, cluster ${cluster} is unhealthy (${health.reason}), answered because it was asked for by name`;
    }
    if (addresses.length === 0) note = `cluster ${cluster} has no ${family} address for ${displayName(service)}`;
    return {
      cluster: backend.cluster,
      healthy: health.healthy,
      included: addresses.length > 0,
      reason: addresses.length > 0 ? Reasons.explicitRequest(health.reason) : Reasons.noAddressOfFamily(family),
      addresses,
      known,
    };
  });
  const selection: ClusterSetSelection = {
    family,
    policy: 'explicit',
    clusters,
    addresses,
    mode: 'rotate',
    outcome: addresses.length > 0 ? 'explicit' : 'no-candidate',
  };
  if (note !== undefined) selection.note = note;
  return selection;
}

/**
 * Headless services: every ready endpoint with an address in every healthy cluster is served, in
 * cluster-ID order then slice order. Names and addresses of all other endpoints are reported with
 * the reason they are left out.
 */
export function selectHeadless(service: ServiceEntry): HeadlessSelection {
  const clusters: ClusterDecision[] = [];
  const endpoints: EndpointDecision[] = [];
  const healthReasons: Array<{ cluster: ClusterId; reason: string }> = [];
  let served = 0;
  for (const backend of service.backends) {
    const health = clusterHealth(backend);
    healthReasons.push({ cluster: backend.cluster, reason: health.reason });
    const clusterAddresses: string[] = [];
    const known: string[] = [];
    for (const endpoint of backend.endpoints) {
      known.push(...endpoint.addresses);
      let reason: string;
      if (!health.healthy && backend.excludedReason !== undefined) reason = Reasons.endpointClusterExcluded(backend.excludedReason);
      else if (!endpoint.ready) reason = Reasons.endpointNotReady();
      else if (endpoint.addresses.length === 0) reason = Reasons.endpointNoAddress();
      else reason = Reasons.endpointReady();
      const included = reason === Reasons.endpointReady();
      if (included) {
        served++;
        clusterAddresses.push(...endpoint.addresses);
      }
      endpoints.push({
        cluster: backend.cluster,
        label: endpointLabel(endpoint),
        addresses: [...endpoint.addresses],
        ready: endpoint.ready,
        included,
        reason,
      });
    }
    clusters.push({
      cluster: backend.cluster,
      healthy: health.healthy,
      included: health.healthy,
      reason: health.healthy ? health.reason : Reasons.unhealthy(health.reason),
      addresses: clusterAddresses,
      known,
    });
  }
  const selection: HeadlessSelection = { clusters, endpoints, served };
  if (served === 0) {
    const summary = summarizeClusters(healthReasons);
    selection.note =
      service.backends.length === 0
        ? `no cluster has endpoints for ${displayName(service)}`
        : `no ready endpoint for ${displayName(service)}: ${summary}`;
  }
  return selection;
}
