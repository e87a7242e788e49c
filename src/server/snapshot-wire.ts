/**
 * Snapshot <-> plain JSON-safe object, for shipping the state to DNS worker processes over IPC
 * (Maps and Sets do not survive the default JSON serialization of child-process messages).
 */
import { serviceKey } from '../model/service-key.ts';
import { clusterHealthByCluster } from '../model/status-report.ts';
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
