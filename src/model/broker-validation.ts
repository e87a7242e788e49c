/**
 * The one validator of broker content: what another cluster (or anyone with write access to the
 * broker) publishes must not be able to inject names, sizes or addresses that break this
 * cluster's DNS. Both brokers run it once, when content arrives (the Kube broker store after
 * parsing an object, the in-memory broker on every put), and only expose what passed; readers
 * never validate again. Each check returns the problems found (empty = valid). Addresses are only
 * checked for being addresses here; which addresses may be served is the address policy's job
 * (model/address-policy.ts), which drops single addresses instead of whole objects.
 *
 * Claimed times are the exception: whether an export time lies in the future depends on when it
 * is judged, so claimProblems() runs at use time, with the judge's clock.
 */
import { screenPublishedProperties } from './cluster-properties.ts';
import { parseIp } from './ip.ts';
import { isDns1035Label, isDnsLabel, isValidClusterId } from './names.ts';
import { clusterServiceKey } from './service-key.ts';
import { MAX_WEIGHT, isPolicyName, isWeight } from './traffic-policy.ts';
import type { ClusterLease, Endpoint, ExportEndpoints, ExportRecord, ServicePort } from './types.ts';

export const BROKER_LIMITS = {
  maxPorts: 100,
  /** Per cluster and service: enough for big headless StatefulSets, small enough to bound memory. */
  maxEndpoints: 10_000,
  maxAddressesPerEndpoint: 100,
  maxLeaseDurationMs: 3_600_000,
} as const;

function checkRef(o: { namespace: unknown; name: unknown; cluster: unknown }, out: string[]): void {
  if (typeof o.namespace !== 'string' || !isDnsLabel(o.namespace)) out.push(`namespace ${JSON.stringify(o.namespace)} is not a DNS label`);
  if (typeof o.name !== 'string' || !isDns1035Label(o.name)) out.push(`name ${JSON.stringify(o.name)} is not a DNS-1035 label`);
  if (typeof o.cluster !== 'string' || !isValidClusterId(o.cluster)) out.push(`cluster ${JSON.stringify(o.cluster)} is not a valid cluster ID`);
}

function checkPorts(ports: readonly ServicePort[], out: string[]): void {
  if (!Array.isArray(ports)) {
    out.push('ports is not a list');
    return;
  }
  if (ports.length > BROKER_LIMITS.maxPorts) out.push(`${ports.length} ports (at most ${BROKER_LIMITS.maxPorts})`);
  ports.slice(0, BROKER_LIMITS.maxPorts).forEach((p, i) => {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) out.push(`ports[${i}].port ${p.port} is not 1-65535`);
    if (!['TCP', 'UDP', 'SCTP'].includes(p.protocol)) out.push(`ports[${i}].protocol ${JSON.stringify(p.protocol)} is unknown`);
    if (typeof p.name !== 'string' || (p.name !== '' && !isDnsLabel(p.name))) out.push(`ports[${i}].name ${JSON.stringify(p.name)} is not a DNS label`);
  });
}

function isIP(value: unknown): boolean {
  return typeof value === 'string' && parseIp(value).ok;
}

/** What a claimed time is judged against: this importer's clock, with a tolerance for skew. */
export interface ClaimCheck {
  now: number;
  skewToleranceMs: number;
}

/**
 * A record from the broker. With `claims`, an export time in the future (beyond the skew
 * tolerance) is refused: the oldest export wins conflicts, and a time nobody can check must not
 * be moved to suit the claimer — only a time that already passed can be true.
 */
export function validateRecord(r: ExportRecord, claims?: ClaimCheck): string[] {
  const out = recordProblems(r);
  if (claims !== undefined && out.length === 0) out.push(...claimProblems(r, claims));
  return out;
}

/** A claimed export time beyond the judge's clock plus the skew tolerance (only a past time can be true). */
export function claimProblems(r: ExportRecord, claims: ClaimCheck): string[] {
  if (!(r.exportCreatedAt > claims.now + claims.skewToleranceMs)) return [];
  return [`export time ${new Date(r.exportCreatedAt).toISOString()} is in the future (beyond the ${Math.round(claims.skewToleranceMs / 1000)}s skew tolerance)`];
}

/**
 * One cluster's whole export of one service, as a broker holds it: its record and its endpoints,
 * which must be about the same (service, cluster).
 */
export function validateExport(record: ExportRecord, endpoints: ExportEndpoints): string[] {
  const out = [...recordProblems(record), ...endpointsProblems(endpoints)];
  if (clusterServiceKey(record.cluster, record) !== clusterServiceKey(endpoints.cluster, endpoints)) {
    out.push(`endpoints of ${clusterServiceKey(endpoints.cluster, endpoints)} do not belong to ${clusterServiceKey(record.cluster, record)}`);
  }
  return out;
}

function recordProblems(r: ExportRecord): string[] {
  const out: string[] = [];
  checkRef(r, out);
  if (r.type !== 'ClusterSetIP' && r.type !== 'Headless') out.push(`type ${JSON.stringify(r.type)} is unknown`);
  checkPorts(r.ports, out);
  if (!Array.isArray(r.serviceIPs) || r.serviceIPs.length > 2 || !r.serviceIPs.every(isIP)) out.push('serviceIPs must be at most 2 IP addresses');
  if (!Array.isArray(r.ipFamilies) || r.ipFamilies.length > 2 || !r.ipFamilies.every((f) => f === 'IPv4' || f === 'IPv6')) out.push('ipFamilies must be IPv4/IPv6');
  if (r.sessionAffinity !== 'None' && r.sessionAffinity !== 'ClientIP') out.push(`sessionAffinity ${JSON.stringify(r.sessionAffinity)} is unknown`);
  if (!Number.isFinite(r.exportCreatedAt) || r.exportCreatedAt < 0) out.push('exportCreatedAt is not a time');
  if (r.policy !== undefined && !isPolicyName(r.policy)) out.push(`policy ${JSON.stringify(r.policy)} is unknown`);
  if (r.weight !== undefined && !isWeight(r.weight)) out.push(`weight ${JSON.stringify(r.weight)} is not a whole number 0-${MAX_WEIGHT}`);
  return out;
}

function checkEndpoint(e: Endpoint, i: number, out: string[]): void {
  if (!Array.isArray(e.addresses) || e.addresses.length === 0 || e.addresses.length > BROKER_LIMITS.maxAddressesPerEndpoint) {
    out.push(`endpoints[${i}] must have 1-${BROKER_LIMITS.maxAddressesPerEndpoint} addresses`);
    return;
  }
  if (!e.addresses.every(isIP)) out.push(`endpoints[${i}] has an address that is not an IP`);
  if (e.hostname !== undefined && (typeof e.hostname !== 'string' || !isDnsLabel(e.hostname))) out.push(`endpoints[${i}].hostname is not a DNS label`);
  if (typeof e.ready !== 'boolean') out.push(`endpoints[${i}].ready is not a boolean`);
}

export function validateEndpoints(e: ExportEndpoints): string[] {
  const out: string[] = [];
  checkRef(e, out);
  out.push(...endpointsProblems(e));
  return out;
}

/** Endpoints and ports only (the reference is the record's to check). */
function endpointsProblems(e: ExportEndpoints): string[] {
  const out: string[] = [];
  checkPorts(e.ports, out);
  if (!Array.isArray(e.endpoints)) {
    out.push('endpoints is not a list');
    return out;
  }
  if (e.endpoints.length > BROKER_LIMITS.maxEndpoints) {
    out.push(`${e.endpoints.length} endpoints (at most ${BROKER_LIMITS.maxEndpoints})`);
    return out;
  }
  e.endpoints.forEach((ep, i) => checkEndpoint(ep, i, out));
  return out;
}

export function validateLease(l: ClusterLease): string[] {
  const out: string[] = [];
  if (typeof l.cluster !== 'string' || !isValidClusterId(l.cluster)) out.push(`cluster ${JSON.stringify(l.cluster)} is not a valid cluster ID`);
  if (!Number.isFinite(l.renewedAt) || l.renewedAt < 0) out.push('renewedAt is not a time');
  if (!Number.isFinite(l.durationMs) || l.durationMs <= 0 || l.durationMs > BROKER_LIMITS.maxLeaseDurationMs) {
    out.push(`durationMs must be 1-${BROKER_LIMITS.maxLeaseDurationMs}`);
  }
  return out;
}

/**
 * A valid lease's published properties, screened: the lease with only the valid ones, and the
 * problems of the others (reported like a rejection, but the lease still counts).
 */
export function screenLeaseProperties(l: ClusterLease): { lease: ClusterLease; problems: string[] } {
  if (l.properties === undefined) return { lease: l, problems: [] };
  const { value, problems } = screenPublishedProperties(l.properties);
  if (problems.length === 0) return { lease: l, problems };
  return { lease: { ...l, properties: value }, problems: problems.map((p) => `published properties: ${p}`) };
}

/** Ports of any object (member-side ServiceImports and MCS slices use the same rules). */
export function validatePorts(ports: readonly ServicePort[]): string[] {
  const out: string[] = [];
  checkPorts(ports, out);
  return out;
}

/** Endpoints of any object, without the per-service count bound (a slice holds at most 1,000 anyway). */
export function validateEndpointList(endpoints: readonly Endpoint[]): string[] {
  const out: string[] = [];
  endpoints.forEach((ep, i) => checkEndpoint(ep, i, out));
  return out;
}
