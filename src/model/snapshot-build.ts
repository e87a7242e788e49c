/**
 * Builds the DNS server's immutable read model from the imported state (ServiceImports + MCS
 * EndpointSlices). Pure: the version and the clock are passed in.
 */
import { sameServiceEntry } from './service-entry-equal.ts';
import { serviceKey } from './service-key.ts';
import { type AddressCheck, type RejectedAddress, checkAddress, summarizeRejections } from './address-policy.ts';
import type { ImportedState } from './imported-state.ts';
import type { ClusterBackend, ServiceEntry, Snapshot } from './snapshot.ts';
import { type ClusterId, type Endpoint, type ServicePort } from './types.ts';

/** Judges one address (checkAddress with the operator's policy; callers may memoise it). */
export type AddressScreen = (address: string) => AddressCheck;

const defaultScreen: AddressScreen = (address) => checkAddress(address);

/** An address the DNS feed refused, for the feed's log and metric. */
export interface SnapshotRefusal {
  service: string;
  cluster: ClusterId;
  reason: string;
}

/** A backend under construction: slices of one cluster are merged into it. */
interface BackendDraft {
  backend: ClusterBackend;
  reasons: string[] | undefined;
  refused: RejectedAddress[] | undefined;
  /** What the importer already refused (the slice annotation), shown with ours. */
  importerRefused: string | undefined;
}

interface ServiceDraft {
  entry: ServiceEntry;
  /** Few clusters per service: a linear scan beats a Map per service at 10,000 services. */
  drafts: BackendDraft[];
}

function samePort(a: ServicePort, b: ServicePort): boolean {
  return a.port === b.port && a.protocol === b.protocol && a.name === b.name;
}

function draftFor(service: ServiceDraft, cluster: ClusterId): BackendDraft {
  for (const draft of service.drafts) if (draft.backend.cluster === cluster) return draft;
  const draft: BackendDraft = { backend: { cluster, endpoints: [], ports: [] }, reasons: undefined, refused: undefined, importerRefused: undefined };
  service.drafts.push(draft);
  return draft;
}

/**
 * The endpoint as it may be served: refused addresses removed (undefined when none is left). The
 * same object comes back when every address is fine and canonical, so nothing is copied then.
 */
function screenEndpoint(endpoint: Endpoint, screen: AddressScreen, draft: BackendDraft): Endpoint | undefined {
  let kept: string[] | undefined;
  for (let i = 0; i < endpoint.addresses.length; i++) {
    const address = endpoint.addresses[i]!;
    const check = screen(address);
    const ok = check.ok && check.canonical === address;
    if (ok && kept === undefined) continue;
    kept ??= endpoint.addresses.slice(0, i);
    if (check.ok) {
      if (!kept.includes(check.canonical)) kept.push(check.canonical);
    } else (draft.refused ??= []).push({ address, reason: check.reason });
  }
  if (kept === undefined) return endpoint;
  if (kept.length === 0) return undefined;
  return endpoint.hostname === undefined ? { addresses: kept, ready: endpoint.ready } : { addresses: kept, hostname: endpoint.hostname, ready: endpoint.ready };
}

/**
 * Merges every slice of a (service, source cluster) into one ClusterBackend: endpoints are
 * concatenated, ports unioned, and the cluster is excluded when any of its slices carries an
 * exclusion reason (the importer writes the same reason on every slice; distinct ones are joined).
 * Slices of services without a ServiceImport are ignored: the ServiceImport is what makes a name
 * exist. Clusters listed in the ServiceImport's status but without any slice yet still get an
 * (empty, hence unhealthy) backend so that `explain` can show them instead of hiding them.
 *
 * Every address passes the address policy here too (`screen`): the DNS server reads ServiceImports
 * and MCS EndpointSlices that any MCS implementation may have written, so the last step before an
 * answer checks again. Refusals are reported in `refusals` (and on the backend, for explain).
 *
 * With `previous`, every entry equal to the previous snapshot's is that same object, so what is
 * keyed by entry downstream (the workers' copies, memoised selections, large cached answers)
 * carries over; `changedServiceKeys` lists the rest.
 */
export function buildSnapshot(
  state: ImportedState,
  localCluster: ClusterId,
  version: number,
  now: number,
  screen: AddressScreen = defaultScreen,
  refusals?: SnapshotRefusal[],
  previous?: Snapshot,
): Snapshot {
  const services = new Map<string, ServiceDraft>();
  const namespaces = new Set<string>();

  for (const svc of state.services) {
    const entry: ServiceEntry = {
      namespace: svc.namespace,
      name: svc.name,
      type: svc.type,
      // Shared, not copied: neither the imported state nor a snapshot is ever mutated, and at
      // 10,000 services the copies are most of the garbage a rebuild makes.
      vips: screenVips(svc.ips, screen, serviceKey(svc), refusals),
      ports: svc.ports,
      backends: [],
    };
    if (svc.policy !== undefined) entry.policy = svc.policy;
    const draft: ServiceDraft = { entry, drafts: [] };
    for (const cluster of svc.clusters) draftFor(draft, cluster);
    services.set(serviceKey(svc), draft);
    namespaces.add(svc.namespace);
  }

  for (const slice of state.slices) {
    const service = services.get(serviceKey(slice));
    if (service === undefined) continue;
    const draft = draftFor(service, slice.sourceCluster);
    const backend = draft.backend;
    for (const endpoint of slice.endpoints) {
      const served = screenEndpoint(endpoint, screen, draft);
      if (served !== undefined) backend.endpoints.push(served);
    }
    if (slice.rejectedAddresses !== undefined && slice.rejectedAddresses !== '') draft.importerRefused = slice.rejectedAddresses;
    if (slice.reachabilityNote !== undefined && slice.reachabilityNote !== '') backend.reachabilityNote = slice.reachabilityNote;
    for (const port of slice.ports) {
      if (!backend.ports.some((p) => samePort(p, port))) backend.ports.push(port);
    }
    // Every slice of a cluster carries its weight; should two disagree, the lower one holds, so a
    // drain (0) half-written across a cluster's slices already drains.
    if (slice.weight !== undefined) backend.weight = backend.weight === undefined ? slice.weight : Math.min(backend.weight, slice.weight);
    if (slice.region !== undefined) backend.region = slice.region;
    if (slice.zone !== undefined) backend.zone = slice.zone;
    const reason = slice.excludedReason;
    if (reason !== undefined && reason !== '') {
      if (draft.reasons === undefined) draft.reasons = [reason];
      else if (!draft.reasons.includes(reason)) draft.reasons.push(reason);
    }
  }

  const entries = new Map<string, ServiceEntry>();
  for (const [key, service] of services) {
    const backends: ClusterBackend[] = [];
    for (const draft of service.drafts) {
      if (draft.reasons !== undefined) draft.backend.excludedReason = draft.reasons.join('; ');
      const refused = [draft.importerRefused, draft.refused === undefined ? undefined : summarizeRejections(draft.refused)].filter((r) => r !== undefined);
      if (refused.length > 0) draft.backend.rejectedAddresses = refused.join('; ');
      if (draft.refused !== undefined) for (const r of draft.refused) refusals?.push({ service: key, cluster: draft.backend.cluster, reason: r.reason });
      backends.push(draft.backend);
    }
    // Plain code-unit order (not locale order) so every process sorts alike.
    if (backends.length > 1) backends.sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
    service.entry.backends = backends;
    // An unchanged service keeps the previous snapshot's object (see service-entry-equal.ts).
    const before = previous?.services.get(key);
    entries.set(key, before !== undefined && sameServiceEntry(before, service.entry) ? before : service.entry);
  }

  const snapshot: Snapshot = {
    version,
    synced: state.synced,
    localCluster,
    services: entries,
    namespaces,
    builtAt: now,
  };
  if (state.staleSource !== undefined) snapshot.staleSource = { ...state.staleSource };
  if (state.localPlace !== undefined && (state.localPlace.region !== undefined || state.localPlace.zone !== undefined)) snapshot.localPlace = { ...state.localPlace };
  return snapshot;
}

function screenVips(ips: string[], screen: AddressScreen, service: string, refusals: SnapshotRefusal[] | undefined): string[] {
  const fine = (ip: string): boolean => {
    const c = screen(ip);
    return c.ok && c.canonical === ip;
  };
  // The common case: nothing to refuse or rewrite, the list is shared as it is.
  if (ips.every(fine)) return ips;
  const kept: string[] = [];
  for (const ip of ips) {
    const c = screen(ip);
    if (c.ok) kept.push(c.canonical);
    else refusals?.push({ service, cluster: '(clusterset VIP)', reason: c.reason });
  }
  return kept;
}

/**
 * Keys of the services that differ between two snapshots (added, removed or changed), judged by
 * entry identity: with `buildSnapshot(..., previous)` an unchanged service keeps its object.
 */
export function changedServiceKeys(before: Snapshot, after: Snapshot): string[] {
  const changed: string[] = [];
  for (const [key, entry] of after.services) if (before.services.get(key) !== entry) changed.push(key);
  for (const key of before.services.keys()) if (!after.services.has(key)) changed.push(key);
  return changed;
}
