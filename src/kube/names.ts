/**
 * Deterministic, collision-free Kubernetes object names and label values for the objects we write.
 * Parts are joined with '.': service names and namespaces are DNS labels (no dots) and a cluster ID
 * has at most one dot, so a name maps back to exactly one (service, namespace, cluster). Names past
 * the 253-character limit are truncated and end in a hash of the full name (still unique).
 */
import { createHash } from 'node:crypto';
import type { ClusterId, IPFamily, ServiceRef } from '../model/types.ts';

const MAX_NAME = 253;
const MAX_LABEL_VALUE = 63;

function hashOf(text: string, chars: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, chars);
}

/** `full` when it is a valid length; otherwise a truncated prefix plus `.<16 hex of sha256(full)>`. */
export function boundedName(full: string): string {
  if (full.length <= MAX_NAME) return full;
  const prefix = full.slice(0, MAX_NAME - 17).replace(/[.-]+$/, '');
  return `${prefix}.${hashOf(full, 16)}`;
}

/** A label value for a cluster ID: the ID itself when it fits (≤ 63), else a truncated ID plus a hash. */
export function clusterLabelValue(cluster: ClusterId): string {
  if (cluster.length <= MAX_LABEL_VALUE) return cluster;
  const prefix = cluster.slice(0, MAX_LABEL_VALUE - 9).replace(/[.-]+$/, '');
  return `${prefix}-${hashOf(cluster, 8)}`;
}

export function familySuffix(family: IPFamily, chunk: number): string {
  const f = family === 'IPv4' ? 'ipv4' : 'ipv6';
  return chunk === 0 ? f : `${f}-${chunk}`;
}

/** Broker: one cluster's record (ServiceImport kind) for one service. */
export function brokerRecordName(ref: ServiceRef, cluster: ClusterId): string {
  return boundedName(`${ref.name}.${ref.namespace}.${cluster}`);
}

/** Broker: one cluster's EndpointSlice for one service, per address family and 1,000-endpoint chunk. */
export function brokerSliceName(ref: ServiceRef, cluster: ClusterId, family: IPFamily, chunk: number): string {
  return boundedName(`${ref.name}.${ref.namespace}.${cluster}.${familySuffix(family, chunk)}`);
}

/** Broker: the cluster's heartbeat Lease. */
export function leaseName(cluster: ClusterId): string {
  return boundedName(`clusterset-dns.${cluster}`);
}

/** Member cluster: an imported MCS EndpointSlice (in the service's namespace). */
export function importedSliceObjectName(ref: ServiceRef, cluster: ClusterId, family: IPFamily, chunk: number): string {
  return boundedName(`${ref.name}.${cluster}.${familySuffix(family, chunk)}`);
}

/** Chunks of one (family) slice set: the API server allows at most 1,000 endpoints per EndpointSlice. */
export const MAX_ENDPOINTS_PER_SLICE = 1000;
/** Enough chunks for validate-broker's 10,000-endpoint bound. */
export const MAX_CHUNKS = 10;
