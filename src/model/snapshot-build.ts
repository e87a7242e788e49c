/**
 * Builds the DNS server's immutable read model from the imported state (ServiceImports + MCS
 * EndpointSlices). Pure: the version and the clock are passed in.
 */
import type { ImportedState } from './imported-state.ts';
import type { ClusterBackend, ServiceEntry, Snapshot } from './snapshot.ts';
import { serviceKey, type ClusterId, type ServicePort } from './types.ts';

/** A backend under construction: slices of one cluster are merged into it. */
interface BackendDraft {
  backend: ClusterBackend;
  reasons: string[] | undefined;
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
  const draft: BackendDraft = { backend: { cluster, endpoints: [], ports: [] }, reasons: undefined };
  service.drafts.push(draft);
  return draft;
}

/**
 * Merges every slice of a (service, source cluster) into one ClusterBackend: endpoints are
 * concatenated, ports unioned, and the cluster is excluded when any of its slices carries an
 * exclusion reason (the importer writes the same reason on every slice; distinct ones are joined).
 * Slices of services without a ServiceImport are ignored: the ServiceImport is what makes a name
 * exist. Clusters listed in the ServiceImport's status but without any slice yet still get an
 * (empty, hence unhealthy) backend so that `explain` can show them instead of hiding them.
 */
export function buildSnapshot(
  state: ImportedState,
  localCluster: ClusterId,
  version: number,
  now: number,
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
      vips: svc.ips,
      ports: svc.ports,
      backends: [],
    };
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
    for (const endpoint of slice.endpoints) backend.endpoints.push(endpoint);
    for (const port of slice.ports) {
      if (!backend.ports.some((p) => samePort(p, port))) backend.ports.push(port);
    }
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
      backends.push(draft.backend);
    }
    // Plain code-unit order (not locale order) so every process sorts alike.
    if (backends.length > 1) backends.sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
    service.entry.backends = backends;
    entries.set(key, service.entry);
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
  return snapshot;
}
