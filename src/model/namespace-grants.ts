/**
 * Namespace grants: which clusters may export which namespaces, as the broker owner decides it.
 *
 * MCS namespace sameness assumes a namespace means the same thing in every cluster, so by default
 * every cluster may export every namespace. The broker owner narrows that per cluster with the
 * ConfigMap `clusterset-dns-grants` in the broker namespace: one key per cluster ID, its value the
 * namespaces that cluster may export (comma-separated, `*` for all). A cluster without a key keeps
 * the default (all). The broker's admission policy enforces the same data at write time; every
 * importer checks again at read time, so an object written around the policy is still ignored.
 *
 * Pure: parsing and the one predicate, shared by the Kube and in-memory brokers and both
 * reconcilers.
 */
import { isDnsLabel, isValidClusterId } from './names.ts';
import type { ClusterId } from './types.ts';

/** The broker ConfigMap holding the grants (also the admission policy's parameter). */
export const GRANTS_CONFIGMAP = 'clusterset-dns-grants';

export interface NamespaceGrants {
  /** Cluster → the namespaces it may export; `'*'` = all. Clusters not listed may export all. */
  readonly byCluster: ReadonlyMap<ClusterId, ReadonlySet<string> | '*'>;
}

export const ALL_GRANTED: NamespaceGrants = { byCluster: new Map() };

/** Reads the ConfigMap data; entries that cannot be understood are reported, not guessed at. */
export function parseGrants(data: Readonly<Record<string, unknown>> | undefined): { grants: NamespaceGrants; problems: string[] } {
  const byCluster = new Map<ClusterId, ReadonlySet<string> | '*'>();
  const problems: string[] = [];
  for (const [cluster, raw] of Object.entries(data ?? {})) {
    if (!isValidClusterId(cluster)) {
      problems.push(`key ${JSON.stringify(cluster)} is not a cluster ID`);
      continue;
    }
    if (typeof raw !== 'string') {
      problems.push(`${cluster}: value is not a string`);
      // Fail closed for a cluster the owner meant to restrict: it may export nothing.
      byCluster.set(cluster, new Set());
      continue;
    }
    const names = raw.split(',').map((n) => n.trim()).filter((n) => n !== '');
    if (names.includes('*')) {
      byCluster.set(cluster, '*');
      continue;
    }
    const bad = names.filter((n) => !isDnsLabel(n));
    if (bad.length > 0) problems.push(`${cluster}: ${bad.map((b) => JSON.stringify(b)).join(', ')} not namespace names (ignored)`);
    byCluster.set(cluster, new Set(names.filter(isDnsLabel)));
  }
  return { grants: { byCluster }, problems };
}

/** Whether `cluster` may export services of `namespace`. */
export function isGranted(grants: NamespaceGrants, cluster: ClusterId, namespace: string): boolean {
  const g = grants.byCluster.get(cluster);
  return g === undefined || g === '*' || g.has(namespace);
}

/** The reason a refused export carries (ServiceExport Valid=False message, logs, explain). */
export function notGrantedReason(cluster: ClusterId, namespace: string): string {
  return `cluster ${cluster} is not granted namespace ${namespace} on the broker (ConfigMap ${GRANTS_CONFIGMAP})`;
}
