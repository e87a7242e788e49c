// Vitest glue: use the clusters of the globalSetup (./global-setup.ts) when it ran, otherwise start
// a private set for this file (beforeAll) and stop it afterwards (afterAll).
import { afterAll, beforeAll, inject } from 'vitest';
import { attachClusterSet, startClusters, type ClusterSet } from './clusters.ts';
import type {} from './global-setup.ts';

/** Long enough for a cold build of the peer binaries (kube-apiserver: ~20 min on 2 cores). */
export const HARNESS_SETUP_TIMEOUT_MS = 50 * 60_000;

export interface UseClusterSetOptions {
  names?: string[];
  broker?: boolean;
}

/**
 * Returns a getter for the cluster set (valid inside tests and later hooks). Clusters from the
 * globalSetup are shared by all files: create objects in namespaces of your own.
 */
export function useClusterSet(options: UseClusterSetOptions = {}): () => ClusterSet {
  let set: ClusterSet | undefined;
  let owned = false;
  beforeAll(async () => {
    const provided = inject('clusterset') as ReturnType<ClusterSet['info']> | undefined;
    const names = options.names ?? ['east', 'west'];
    const wantBroker = options.broker ?? true;
    if (provided !== undefined) {
      const shared = attachClusterSet(provided);
      const missing = names.filter((n) => !shared.clusters.some((c) => c.name === n && c.role === 'member'));
      if (missing.length === 0 && (!wantBroker || shared.broker !== undefined)) {
        set = shared;
        return;
      }
    }
    set = await startClusters({ names, broker: wantBroker, log: (line) => process.stderr.write(`[harness] ${line}\n`) });
    owned = true;
  }, HARNESS_SETUP_TIMEOUT_MS);
  afterAll(async () => {
    if (owned) await set?.stop();
  }, 60_000);
  return () => {
    if (set === undefined) throw new Error('useClusterSet: clusters are not started (use the getter inside tests)');
    return set;
  };
}
