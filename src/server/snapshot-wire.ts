/**
 * Snapshot <-> plain JSON-safe object, for shipping the state to DNS worker processes over IPC
 * (Maps and Sets do not survive the default JSON serialization of child-process messages).
 *
 * A worker gets the whole snapshot once, then only what changed: the services whose entry is not
 * the previous snapshot's object (buildSnapshot keeps unchanged entries). With one service of
 * 100,000 addresses, a whole snapshot is megabytes to serialise, parse and re-index on every
 * update anywhere, which stalled each worker for ~100 ms; a delta costs what changed, and the
 * worker's unchanged entries keep their identity, so what it memoised for them stays valid.
 */
import { serviceKey } from '../model/service-key.ts';
import { clusterHealthByCluster } from '../model/status-report.ts';
import { changedServiceKeys } from '../model/snapshot-build.ts';
import type { Place, ServiceEntry, Snapshot } from '../model/snapshot.ts';


export interface SnapshotWire {
  version: number;
  synced: boolean;
  localCluster: string;
  services: ServiceEntry[];
  namespaces: string[];
  builtAt: number;
  localPlace?: Place;
  staleSource?: { reason: string; since: number };
}

/** The snapshot fields besides its services and namespaces (version, sync state, stale marker, ...). */
export type SnapshotHeader = Omit<Snapshot, 'services' | 'namespaces'>;

/** What changed since the snapshot of version `baseVersion`; namespaces are sent whole (small). */
export interface SnapshotDeltaWire {
  baseVersion: number;
  /** Every snapshot-wide field, copied as a whole so that a field added later travels too. */
  header: SnapshotHeader;
  namespaces: string[];
  /** New or changed entries. */
  upserts: ServiceEntry[];
  /** Keys (`<namespace>/<name>`) of services that are gone. */
  removals: string[];
}

export function snapshotDeltaToWire(base: Snapshot, next: Snapshot): SnapshotDeltaWire {
  const upserts: ServiceEntry[] = [];
  const removals: string[] = [];
  for (const key of changedServiceKeys(base, next)) {
    const entry = next.services.get(key);
    if (entry === undefined) removals.push(key);
    else upserts.push(entry);
  }
  const { services: _services, namespaces: _namespaces, ...header } = next;
  return { baseVersion: base.version, header, namespaces: [...next.namespaces], upserts, removals };
}

/** `base` with the delta applied: entries not in it are `base`'s own objects. The caller checks the base version. */
export function applySnapshotDelta(base: Snapshot, delta: SnapshotDeltaWire): Snapshot {
  const services = new Map(base.services);
  for (const key of delta.removals) services.delete(key);
  for (const entry of delta.upserts) services.set(serviceKey(entry), entry);
  return { ...delta.header, services, namespaces: new Set(delta.namespaces) };
}

export function snapshotToWire(snapshot: Snapshot): SnapshotWire {
  const wire: SnapshotWire = {
    version: snapshot.version,
    synced: snapshot.synced,
    localCluster: snapshot.localCluster,
    services: [...snapshot.services.values()],
    namespaces: [...snapshot.namespaces],
    builtAt: snapshot.builtAt,
  };
  if (snapshot.staleSource) wire.staleSource = snapshot.staleSource;
  // Workers answer `nearest` too: they need to know where this cluster is.
  if (snapshot.localPlace) wire.localPlace = snapshot.localPlace;
  return wire;
}

export function snapshotFromWire(wire: SnapshotWire): Snapshot {
  const snapshot: Snapshot = {
    version: wire.version,
    synced: wire.synced,
    localCluster: wire.localCluster,
    services: new Map(wire.services.map((entry) => [serviceKey(entry), entry])),
    namespaces: new Set(wire.namespaces),
    builtAt: wire.builtAt,
  };
  if (wire.staleSource) snapshot.staleSource = wire.staleSource;
  if (wire.localPlace) snapshot.localPlace = wire.localPlace;
  return snapshot;
}

/**
 * Per source cluster: true when at least one of its services has a healthy backend there, by the
 * selection code's rule (model/selection.ts clusterHealth), so the gauge and `explain` agree.
 */
export function clusterHealth(snapshot: Snapshot): Map<string, boolean> {
  return clusterHealthByCluster(snapshot);
}
