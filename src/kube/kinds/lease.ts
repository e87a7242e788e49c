/**
 * The broker's heartbeat Lease of one cluster (coordination.k8s.io/v1): name, labels, build and
 * parse. The parse checks that the object is the cluster's own heartbeat; what its times and
 * published properties may be is the validator's (model/broker-validation.ts validateLease).
 *
 * The cluster's published properties (model/cluster-properties.ts) ride on the lease as
 * annotations, so a change reaches every importer with the next renewal and costs no extra write.
 */
import { formatProbeTargets, parseProbeTargets, type PublishedProperties } from '../../model/cluster-properties.ts';
import type { ClusterId, ClusterLease } from '../../model/types.ts';
import { LABEL_MANAGED_BY, MANAGED_BY_VALUE } from '../labels.ts';
import { COORDINATION_API_VERSION, KIND_LEASE } from '../objects.ts';
import { asObj, boundedName, checkManaged, clusterMeta, isoMicros, meta, sourceCluster, str, type KubeObject, type Parsed } from './object-meta.ts';

export const ANNOTATION_PROBE_TARGETS = 'clusterset-dns.io/probe-targets';
export const ANNOTATION_REGION = 'clusterset-dns.io/region';
export const ANNOTATION_ZONE = 'clusterset-dns.io/zone';

/** Broker: the cluster's heartbeat Lease. */
export function leaseName(cluster: ClusterId): string {
  return boundedName(`clusterset-dns.${cluster}`);
}

/** Durations are whole seconds (leaseDurationSeconds). */
export function buildLease(lease: ClusterLease, namespace: string): KubeObject {
  const cm = clusterMeta(lease.cluster);
  const metadata: KubeObject['metadata'] = { name: leaseName(lease.cluster), namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, ...cm.labels } };
  const annotations = { ...cm.annotations, ...propertyAnnotations(lease.properties) };
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
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

function propertyAnnotations(p: PublishedProperties | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (p === undefined) return out;
  if (p.probeTargets.length > 0) out[ANNOTATION_PROBE_TARGETS] = formatProbeTargets(p.probeTargets);
  if (p.region !== undefined) out[ANNOTATION_REGION] = p.region;
  if (p.zone !== undefined) out[ANNOTATION_ZONE] = p.zone;
  return out;
}

/** The published properties on a lease's annotations (undefined when none is set). */
function readProperties(annotations: Record<string, unknown>, out: string[]): PublishedProperties | undefined {
  const targets = annotations[ANNOTATION_PROBE_TARGETS];
  const region = annotations[ANNOTATION_REGION];
  const zone = annotations[ANNOTATION_ZONE];
  if (targets === undefined && region === undefined && zone === undefined) return undefined;
  const p: PublishedProperties = { probeTargets: [] };
  if (typeof targets === 'string') {
    const parsed = parseProbeTargets(targets);
    out.push(...parsed.problems.map((x) => `annotation ${ANNOTATION_PROBE_TARGETS}: ${x}`));
    p.probeTargets = parsed.targets;
  }
  // Their syntax is the validator's to judge; here only that they are strings.
  if (typeof region === 'string') p.region = region;
  if (typeof zone === 'string') p.zone = zone;
  return p;
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
  const properties = readProperties(m.annotations, out);
  if (out.length > 0 || cluster === undefined) return { ok: false, problems: out };
  const lease: ClusterLease = { cluster, renewedAt, durationMs: (seconds as number) * 1000 };
  if (properties !== undefined) lease.properties = properties;
  return { ok: true, value: lease };
}
