/** Local-cluster inputs that are not part of the shared contracts in types.ts. */
import type { ServiceRef } from './types.ts';

/**
 * A clusterset VIP requested for a service by a user-provided ServiceImport in the LOCAL cluster
 * (its spec.ips). The local importer copies these IPs into the ImportedService of the same
 * namespace/name; nothing is published to the broker, so each cluster decides its own VIPs.
 */
export interface ClusterSetVip extends ServiceRef {
  ips: string[];
}
