/**
 * The seam between whatever keeps the local cluster's imported state (the embedded default's
 * in-memory cluster, or informers on a real API server) and the DNS server.
 */
import type { Place } from './snapshot.ts';
import type { ImportedService, ImportedSlice } from './types.ts';

export interface ImportedState {
  /** False until the source has completed its first full sync. */
  synced: boolean;
  services: readonly ImportedService[];
  slices: readonly ImportedSlice[];
  /** The local cluster's region and zone (its own ClusterProperties), for policy `nearest`. */
  localPlace?: Place;
  /** Set while the source cannot reach its API (fail static: keep serving, say so). */
  staleSource?: { reason: string; since: number };
}

export interface ImportedStateSource {
  current(): ImportedState;
  /** The listener is called after every change (callers coalesce); returns an unsubscribe. */
  subscribe(listener: () => void): () => void;
}
