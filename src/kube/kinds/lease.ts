/**
 * The broker's heartbeat Lease of one cluster (coordination.k8s.io/v1): name, labels, build and
 * parse. The parse checks that the object is the cluster's own heartbeat; what its times may be
 * is the validator's (model/broker-validation.ts validateLease).
 */
import type { ClusterId, ClusterLease } from '../../model/types.ts';
import { LABEL_MANAGED_BY, MANAGED_BY_VALUE } from '../labels.ts';
import { COORDINATION_API_VERSION, KIND_LEASE } from '../objects.ts';
import { asObj, boundedName, checkManaged, clusterMeta, isoMicros, meta, sourceCluster, str, type KubeObject, type Parsed } from './object-meta.ts';

/** Broker: the cluster's heartbeat Lease. */
export function leaseName(cluster: ClusterId): string {
  return boundedName(`clusterset-dns.${cluster}`);
}

/** Durations are whole seconds (leaseDurationSeconds). */
export function buildLease(lease: ClusterLease, namespace: string): KubeObject {
  const cm = clusterMeta(lease.cluster);
  const metadata: KubeObject['metadata'] = { name: leaseName(lease.cluster), namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, ...cm.labels } };
  if (Object.keys(cm.annotations).length > 0) metadata.annotations = cm.annotations;
  return {
    apiVersion: COORDINATION_API_VERSION,
    kind: KIND_LEASE,
    metadata,
    spec: {
      holderIdentity: lease.cluster,
      leaseDurationSeconds: Math.max(1, Math.ceil(lease.durationMs / 1000)),
      renewTime: isoMicros(lease.renewedAt),
    },
  };
}

export function parseLease(obj: unknown): Parsed<ClusterLease> {
  const out: string[] = [];
  const m = meta(obj);
  checkManaged(m, out);
  const cluster = sourceCluster(m, out);
  const spec = asObj(asObj(obj)?.['spec']) ?? {};
  if (cluster !== undefined && m.name !== leaseName(cluster)) out.push(`name ${JSON.stringify(m.name)} is not ${JSON.stringify(leaseName(cluster))}`);
  if (cluster !== undefined && spec['holderIdentity'] !== cluster) out.push(`spec.holderIdentity ${JSON.stringify(spec['holderIdentity'])} is not ${cluster}`);
  const seconds = spec['leaseDurationSeconds'];
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1) out.push('spec.leaseDurationSeconds is not a positive whole number');
  const renew = str(spec['renewTime']);
  const renewedAt = renew === undefined ? Number.NaN : Date.parse(renew);
  if (!Number.isFinite(renewedAt)) out.push('spec.renewTime is not a time');
  if (out.length > 0 || cluster === undefined) return { ok: false, problems: out };
  return { ok: true, value: { cluster, renewedAt, durationMs: (seconds as number) * 1000 } };
}
