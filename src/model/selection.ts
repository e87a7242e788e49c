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
import type { ClusterBackend, Place, ServiceEntry } from './snapshot.ts';
import { DEFAULT_WEIGHT, type PolicyName, type PolicySource } from './traffic-policy.ts';
import type { ClusterId, IPFamily } from './types.ts';

/** config's SelectionPolicy is this type (model/ imports nothing from the other rooms). */
export type SelectionPolicyName = PolicyName;
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
  /** The cluster's weight for the service (0-1000): its share of first positions, SRV weight. */
  weight: number;
}

export interface EndpointDecision {
  cluster: ClusterId;
  /** The DNS label naming the endpoint (hostname, or its first IP with `.`/`:` → `-`). */
  label: string;
  addresses: string[];
  ready: boolean;
  /** Served by its cluster-specific names (`<host>.<cluster>.<svc>…`, `<cluster>.<svc>…`). */
  included: boolean;
  /**
   * Its cluster is drained (weight 0) while another healthy cluster is not: left out of
   * service-wide answers, still served by its cluster-specific names.
   */
  drained: boolean;
  reason: string;
}

/**
 * - `selected`: a normal answer.
 * - `failover`: the policy fell back from its first choice (local-first or nearest to other clusters
 *   than the local one, remote-first to the local cluster): still healthy, but worth saying.
 * - `explicit`: a cluster-specific name; the cluster is answered even when unhealthy.
 * - `panic-nodata` / `panic-all`: every candidate is unhealthy (see PanicModeName).
 * - `no-candidate`: no cluster has an address of the family at all (plain NODATA).
 */
export type SelectionOutcome = 'selected' | 'failover' | 'explicit' | 'panic-nodata' | 'panic-all' | 'no-candidate';

export interface ClusterSetSelection {
  family: IPFamily;
  policy: SelectionPolicyName | 'explicit';
  /** Whether the service's own annotation or --policy chose `policy`. */
  policySource: PolicySource;
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

/**
 * clusterHealth(backend).healthy without its counts and reason text: not excluded, and at least
 * one ready endpoint with an address. For per-snapshot scans over every backend (the
 * clusterset_dns_cluster_healthy gauge), where building reasons was most of the cost.
 */
export function isBackendHealthy(backend: ClusterBackend): boolean {
  if (backend.excludedReason !== undefined) return false;
  for (const endpoint of backend.endpoints) if (endpoint.ready && endpoint.addresses.length > 0) return true;
  return false;
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
  weight: number;
}

/** A cluster's weight (its ServiceExport annotation, DEFAULT_WEIGHT when it has none). */
export function weightOf(backend: ClusterBackend): number {
  return backend.weight ?? DEFAULT_WEIGHT;
}

/** The policy that applies to a service, and whether its own annotation or --policy chose it. */
export function effectivePolicy(service: ServiceEntry, options: SelectionOptions): { policy: SelectionPolicyName; source: PolicySource } {
  return service.policy === undefined ? { policy: options.policy, source: 'global' } : { policy: service.policy, source: 'annotation' };
}

/** What the policy picked among the eligible clusters, with the reason of each pick and skip. */
interface Pick {
  chosen: ReadonlyMap<Candidate, string>;
  /** Reason for an eligible cluster the policy did not need. */
  notNeeded: string;
  /** Set when the policy fell back from its first choice (the local cluster, or the remotes). */
  failover?: string;
}

/**
 * The clusters a policy answers, among the eligible ones (healthy, an address of the family, not
 * drained). `local` is the local cluster's candidate when it exports the service.
 */
function pickByPolicy(
  policy: SelectionPolicyName,
  eligible: readonly Candidate[],
  local: Candidate | undefined,
  localCluster: ClusterId,
  localPlace: Place,
  why: (c: Candidate) => string,
): Pick {
  const isEligible = (c: Candidate | undefined): c is Candidate => c !== undefined && eligible.includes(c);
  const remotes = eligible.filter((c) => c !== local);
  const each = (list: readonly Candidate[], reason: string): Map<Candidate, string> => new Map(list.map((c) => [c, reason]));
  const localDown = local === undefined ? undefined : `local cluster ${localCluster} unavailable (${why(local)})`;
  switch (policy) {
    case 'local-first':
      if (isEligible(local)) return { chosen: each([local], Reasons.localHealthy()), notNeeded: Reasons.notNeededLocalHealthy(localCluster) };
      return withFailover(
        { chosen: each(remotes, local === undefined ? Reasons.remoteHealthy() : Reasons.remoteFailover(localCluster)), notNeeded: '' },
        localDown === undefined ? undefined : `${localDown}, answering remote clusters`,
      );
    case 'remote-first':
      if (remotes.length > 0) return { chosen: each(remotes, Reasons.remoteFirst()), notNeeded: Reasons.notNeededRemotesHealthy() };
      return withFailover(
        { chosen: isEligible(local) ? each([local], Reasons.localFallback()) : new Map(), notNeeded: '' },
        `no remote cluster available, answering local cluster ${localCluster}`,
      );
    case 'nearest': {
      if (isEligible(local)) return { chosen: each([local], Reasons.nearestLocal()), notNeeded: Reasons.notNeededNearer('the local cluster') };
      const tiers: Array<{ key: 'zone' | 'region'; value: string | undefined }> = [
        { key: 'zone', value: localPlace.zone },
        { key: 'region', value: localPlace.region },
      ];
      for (const tier of tiers) {
        if (tier.value === undefined) continue;
        const near = remotes.filter((c) => c.backend[tier.key] === tier.value);
        if (near.length === 0) continue;
        const where = `${tier.key} ${tier.value}`;
        return withFailover(
          { chosen: each(near, Reasons.nearestTier(where)), notNeeded: Reasons.notNeededNearer(`clusters in ${where}`) },
          localDown === undefined ? undefined : `${localDown}, answering the nearest clusters (${where})`,
        );
      }
      const place = localPlace.region === undefined && localPlace.zone === undefined ? 'the local topology is unknown' : 'no cluster in the same zone or region';
      return withFailover(
        { chosen: each(remotes, Reasons.nearestAny(place)), notNeeded: '' },
        localDown === undefined ? undefined : `${localDown}, ${place}: answering every healthy cluster`,
      );
    }
    case 'all':
    case 'round-robin':
      return { chosen: each(eligible, policy === 'round-robin' ? Reasons.healthyRoundRobin() : Reasons.healthyAll()), notNeeded: '' };
  }
}

function placeOfBackend(backend: ClusterBackend | undefined): Place {
  const place: Place = {};
  if (backend?.region !== undefined) place.region = backend.region;
  if (backend?.zone !== undefined) place.zone = backend.zone;
  return place;
}

function withFailover(pick: Pick, failover: string | undefined): Pick {
  return failover === undefined ? pick : { ...pick, failover };
}

/**
 * Chooses the service IPs of a ClusterSetIP service without VIP, for one address family, per the
 * service's policy (its annotation, else --policy). A cluster is usable for the family when it is
 * healthy and has a ready address of that family, so an IPv6-only local cluster does not hide IPv4
 * remotes from an A query; a usable cluster of weight 0 is drained, left out unless every usable
 * cluster is drained. `localPlace` is the local cluster's region and zone (policy `nearest`).
 */
export function selectClusterSetIPs(
  service: ServiceEntry,
  localCluster: ClusterId,
  family: IPFamily,
  options: SelectionOptions,
  localPlace: Place = {},
): ClusterSetSelection {
  const { policy, source: policySource } = effectivePolicy(service, options);
  const candidates: Candidate[] = service.backends.map((backend) => ({
    backend,
    health: clusterHealth(backend),
    readyAddresses: familyAddresses(backend, family, true),
    allAddresses: familyAddresses(backend, family, false),
    weight: weightOf(backend),
  }));
  const usable = (c: Candidate): boolean => c.health.healthy && c.readyAddresses.length > 0;
  const mode = policy === 'round-robin' ? 'pick-one' : 'rotate';
  const decide = (c: Candidate, included: boolean, reason: string, addresses: string[]): ClusterDecision => ({
    cluster: c.backend.cluster,
    healthy: c.health.healthy,
    included,
    reason,
    addresses: included ? addresses : [],
    known: c.allAddresses,
    weight: c.weight,
  });
  /** Why a cluster cannot serve this family, when it cannot. */
  const unusableReason = (c: Candidate): string =>
    c.health.healthy ? Reasons.noAddressOfFamily(family) : Reasons.unhealthy(c.health.reason);
  const base = { family, policy, policySource, mode } as const;

  const withFamily = candidates.filter((c) => c.allAddresses.length > 0);
  const anyUsable = candidates.some(usable);

  if (!anyUsable) {
    const clusters = candidates.map((c) => decide(c, false, unusableReason(c), []));
    if (withFamily.length === 0) {
      const note =
        candidates.length === 0
          ? `no cluster has endpoints for ${displayName(service)}`
          : `${displayName(service)} has no ${family} address`;
      return { ...base, clusters, addresses: [], outcome: 'no-candidate', note };
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
        ...base,
        clusters: panicClusters,
        addresses: panicClusters.flatMap((d) => d.addresses),
        outcome: 'panic-all',
        note: `degraded, no healthy cluster, answering all: ${summary}`,
      };
    }
    return { ...base, clusters, addresses: [], outcome: 'panic-nodata', note: `no healthy cluster: ${summary}` };
  }

  // Weight 0 drains a cluster, unless every usable cluster is drained: then they all answer.
  const allDrained = candidates.every((c) => !usable(c) || c.weight === 0);
  const eligible = candidates.filter((c) => usable(c) && (c.weight > 0 || allDrained));
  const why = (c: Candidate): string => (usable(c) ? Reasons.drained() : unusableReason(c));
  const local = candidates.find((c) => c.backend.cluster === localCluster);
  // Where the local cluster is: its own ClusterProperties, else what its own export announced.
  const place = localPlace.region !== undefined || localPlace.zone !== undefined ? localPlace : placeOfBackend(local?.backend);
  const pick = pickByPolicy(policy, eligible, local, localCluster, place, why);
  const clusters = candidates.map((c) => {
    const reason = pick.chosen.get(c);
    if (reason !== undefined) return decide(c, true, allDrained ? Reasons.drainedButNeeded(reason) : reason, c.readyAddresses);
    return decide(c, false, eligible.includes(c) ? pick.notNeeded : why(c), []);
  });
  const notes = [pick.failover, allDrained ? 'every usable cluster is drained (weight 0): answering them anyway' : undefined].filter((n) => n !== undefined);
  const selection: ClusterSetSelection = {
    ...base,
    clusters,
    addresses: clusters.flatMap((d) => d.addresses),
    outcome: pick.failover === undefined ? 'selected' : 'failover',
  };
  if (notes.length > 0) selection.note = notes.join('; ');
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
      return { cluster: backend.cluster, healthy: health.healthy, included: false, reason: Reasons.notRequested(), addresses: [], known, weight: weightOf(backend) };
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
      weight: weightOf(backend),
    };
  });
  const selection: ClusterSetSelection = {
    family,
    policy: 'explicit',
    policySource: service.policy === undefined ? 'global' : 'annotation',
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
  // Weight 0 drains a cluster from service-wide answers while another healthy cluster is not drained.
  const drainable = service.backends.some((b) => weightOf(b) > 0 && clusterHealth(b).healthy);
  for (const backend of service.backends) {
    const health = clusterHealth(backend);
    const drained = drainable && health.healthy && weightOf(backend) === 0;
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
        drained: included && drained,
        reason: included && drained ? Reasons.endpointDrained() : reason,
      });
    }
    clusters.push({
      cluster: backend.cluster,
      healthy: health.healthy,
      included: health.healthy,
      reason: !health.healthy ? Reasons.unhealthy(health.reason) : drained ? `${health.reason}; ${Reasons.drainedServiceWide()}` : health.reason,
      addresses: clusterAddresses,
      known,
      weight: weightOf(backend),
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
