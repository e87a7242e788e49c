/**
 * KEP-2149 ClusterProperties (`about.k8s.io`): the well-known names this project reads, and what a
 * cluster publishes of them to the broker ("published properties": its probe targets, region and
 * zone). Pure: the kube room turns ClusterProperty objects into (name, value) pairs, the agent
 * builds the published properties from them with publishedPropertiesFrom(), the lease carries them
 * to the broker, and every importer reads another cluster's with `broker.getLease(c)?.properties`
 * after the broker validator (broker-validation.ts validateLease → publishedPropertiesProblems).
 *
 * The cluster ID comes from `cluster.clusterset.k8s.io` (KEP-2149) or its older name `id.k8s.io`
 * when no --cluster-id is given; resolveClusterId() decides, and refuses any disagreement.
 */
import { parseIp } from './ip.ts';
import { isDnsSubdomain, isValidClusterId } from './names.ts';

/** KEP-2149: this cluster's ID within its clusterset. */
export const PROPERTY_CLUSTER_ID = 'cluster.clusterset.k8s.io';
/** The older name of the cluster ID property (early KEP-2149 drafts; still set by some tools). */
export const PROPERTY_LEGACY_CLUSTER_ID = 'id.k8s.io';
/** Ours: where other clusters probe this one (comma-separated tcp:// and http:// targets). */
export const PROPERTY_PROBE_TARGETS = 'probe.clusterset-dns.io';
/** Ours: the cluster's region and zone (traffic policy by topology). */
export const PROPERTY_REGION = 'region.topology.clusterset-dns.io';
export const PROPERTY_ZONE = 'zone.topology.clusterset-dns.io';

export const PROPERTY_LIMITS = {
  maxProbeTargets: 8,
  maxTargetChars: 256,
  /** The whole probe property value (targets, commas and spaces). */
  maxProbeValueChars: 2_048,
  maxTopologyChars: 63,
  maxPathChars: 200,
} as const;

/** One ClusterProperty as the kube room reads it: metadata.name and spec.value. */
export interface ClusterPropertyValue {
  name: string;
  value: string;
}

/** Where another cluster is probed from here. `text` is the canonical form (what the lease carries). */
export interface ProbeTarget {
  scheme: 'tcp' | 'http';
  /** An IP address (IPv6 without brackets) or a DNS name, lowercase. */
  host: string;
  port: number;
  /** http only: the request path, starting with '/'. '' for tcp. */
  path: string;
  text: string;
}

/** What one cluster publishes about itself to the broker. Absent fields: not announced. */
export interface PublishedProperties {
  /** Empty: the cluster announces no targets, and counts as reachable (as without probing). */
  probeTargets: ProbeTarget[];
  region?: string;
  zone?: string;
}

export const NO_PUBLISHED_PROPERTIES: PublishedProperties = { probeTargets: [] };

// Label-value syntax (like topology.kubernetes.io/region values).
const TOPOLOGY_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
// A path goes into the request line as written: RFC 3986 path characters only (no space, '?', '#').
const PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function targetText(t: Omit<ProbeTarget, 'text'>): string {
  return `${t.scheme}://${formatHost(t.host)}:${t.port}${t.path}`;
}

/** An address no probe may go to: it names no single remote host. */
function hostProblem(host: string): string | undefined {
  const ip = parseIp(host);
  if (!ip.ok) {
    if (host.includes(':')) return `host ${JSON.stringify(host)}: ${ip.reason}`;
    // Not an IP: must be a DNS name (dotted-quad look-alikes such as 10.0.0.300 are neither).
    if (/^[0-9.]+$/.test(host)) return `host ${JSON.stringify(host)} is not a valid IPv4 address`;
    return isDnsSubdomain(host) ? undefined : `host ${JSON.stringify(host)} is neither an IP address nor a DNS name`;
  }
  const b = ip.ip.bytes;
  if (b.every((x) => x === 0)) return `host ${ip.ip.canonical} is the unspecified address`;
  if (ip.ip.family === 'IPv4' && (b[0]! >= 224 || b.every((x) => x === 255))) return `host ${ip.ip.canonical} is multicast, broadcast or reserved`;
  if (ip.ip.family === 'IPv6' && b[0] === 0xff) return `host ${ip.ip.canonical} is multicast`;
  return undefined;
}

export type TargetParse = { ok: true; target: ProbeTarget } | { ok: false; reason: string };

/** One `tcp://HOST:PORT` or `http://HOST:PORT/PATH` (HOST: IPv4, [IPv6] or DNS name). */
export function parseProbeTarget(input: string): TargetParse {
  const text = input.trim();
  const fail = (why: string): TargetParse => ({ ok: false, reason: `${JSON.stringify(text.slice(0, 80))}: ${why}` });
  if (text.length === 0) return fail('empty target');
  if (text.length > PROPERTY_LIMITS.maxTargetChars) return fail(`longer than ${PROPERTY_LIMITS.maxTargetChars} characters`);
  const m = /^([a-zA-Z]+):\/\/(\[[^\]]*\]|[^/:[\]]*)(?::([0-9]*))?(\/.*)?$/.exec(text);
  if (m === null) return fail('not of the form tcp://HOST:PORT or http://HOST:PORT/PATH');
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'tcp' && scheme !== 'http') return fail(`scheme ${scheme} is not tcp or http`);
  const rawHost = m[2]!;
  const host = (rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost).toLowerCase();
  if (host === '') return fail('no host');
  if (rawHost.startsWith('[') !== host.includes(':')) return fail('an IPv6 host must be written in brackets, and only an IPv6 host');
  const bad = hostProblem(host);
  if (bad !== undefined) return fail(bad);
  const portText = m[3];
  if (portText === undefined || portText === '') return fail('no port (write HOST:PORT)');
  const port = Number(portText);
  if (portText.length > 5 || !Number.isInteger(port) || port < 1 || port > 65535) return fail(`port ${portText} is not 1-65535`);
  let path = m[4] ?? '';
  if (scheme === 'tcp' && path !== '') return fail('a tcp target has no path');
  if (scheme === 'http') {
    if (path === '') path = '/';
    if (path.length > PROPERTY_LIMITS.maxPathChars) return fail(`path longer than ${PROPERTY_LIMITS.maxPathChars} characters`);
    if (!PATH.test(path)) return fail(`path ${JSON.stringify(path.slice(0, 40))} has characters a request line cannot carry (no spaces, '?' or '#')`);
  }
  const ip = parseIp(host);
  const canonicalHost = ip.ok ? ip.ip.canonical : host;
  const target = { scheme, host: canonicalHost, port, path } as const;
  return { ok: true, target: { ...target, text: targetText(target) } };
}

/**
 * The value of `probe.clusterset-dns.io`: comma-separated targets. Every bad target is a problem;
 * the good ones are kept (so one typo does not silence the others), de-duplicated in order.
 */
export function parseProbeTargets(value: string): { targets: ProbeTarget[]; problems: string[] } {
  const problems: string[] = [];
  if (value.length > PROPERTY_LIMITS.maxProbeValueChars) {
    return { targets: [], problems: [`${PROPERTY_PROBE_TARGETS}: value longer than ${PROPERTY_LIMITS.maxProbeValueChars} characters`] };
  }
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const targets: ProbeTarget[] = [];
  const seen = new Set<string>();
  for (const part of parts) {
    const parsed = parseProbeTarget(part);
    if (!parsed.ok) {
      problems.push(`${PROPERTY_PROBE_TARGETS}: ${parsed.reason}`);
      continue;
    }
    if (seen.has(parsed.target.text)) continue;
    seen.add(parsed.target.text);
    targets.push(parsed.target);
  }
  if (targets.length > PROPERTY_LIMITS.maxProbeTargets) {
    problems.push(`${PROPERTY_PROBE_TARGETS}: ${targets.length} targets (at most ${PROPERTY_LIMITS.maxProbeTargets}); the first ${PROPERTY_LIMITS.maxProbeTargets} are used`);
    targets.length = PROPERTY_LIMITS.maxProbeTargets;
  }
  return { targets, problems };
}

function topologyProblem(name: string, value: unknown): string | undefined {
  if (typeof value !== 'string') return `${name}: not a string`;
  if (value.length === 0 || value.length > PROPERTY_LIMITS.maxTopologyChars) return `${name}: must be 1-${PROPERTY_LIMITS.maxTopologyChars} characters`;
  if (!TOPOLOGY_VALUE.test(value)) return `${name}: ${JSON.stringify(value)} is not a label value (letters, digits, '-', '_', '.')`;
  return undefined;
}

/**
 * This cluster's published properties from its ClusterProperties (name → spec.value). Bad values
 * are left out, each with a reason; everything valid is published.
 */
export function publishedPropertiesFrom(properties: ReadonlyMap<string, string>): { value: PublishedProperties; problems: string[] } {
  const problems: string[] = [];
  const probe = properties.get(PROPERTY_PROBE_TARGETS);
  const { targets, problems: targetProblems } = probe === undefined ? { targets: [], problems: [] } : parseProbeTargets(probe);
  problems.push(...targetProblems);
  const value: PublishedProperties = { probeTargets: targets };
  for (const [name, field] of [
    [PROPERTY_REGION, 'region'],
    [PROPERTY_ZONE, 'zone'],
  ] as const) {
    const raw = properties.get(name);
    if (raw === undefined) continue;
    const text = raw.trim();
    const bad = topologyProblem(name, text);
    if (bad === undefined) value[field] = text;
    else problems.push(bad);
  }
  return { value, problems };
}

/**
 * The broker validator's check of published properties as they arrive from another cluster (on a
 * lease): every problem is returned, none is repaired (a member must publish what it validated).
 */
export function publishedPropertiesProblems(p: PublishedProperties): string[] {
  const out: string[] = [];
  if (!Array.isArray(p.probeTargets)) return ['probeTargets is not a list'];
  if (p.probeTargets.length > PROPERTY_LIMITS.maxProbeTargets) out.push(`${p.probeTargets.length} probe targets (at most ${PROPERTY_LIMITS.maxProbeTargets})`);
  for (const t of p.probeTargets.slice(0, PROPERTY_LIMITS.maxProbeTargets)) {
    const parsed = typeof t?.text === 'string' ? parseProbeTarget(t.text) : ({ ok: false, reason: 'probe target has no text' } as const);
    if (!parsed.ok) out.push(`probe target ${parsed.reason}`);
    else if (parsed.target.text !== t.text || parsed.target.host !== t.host || parsed.target.port !== t.port || parsed.target.path !== t.path || parsed.target.scheme !== t.scheme) {
      out.push(`probe target ${JSON.stringify(t.text)} is not in canonical form`);
    }
  }
  if (p.region !== undefined) out.push(...[topologyProblem('region', p.region)].filter((x): x is string => x !== undefined));
  if (p.zone !== undefined) out.push(...[topologyProblem('zone', p.zone)].filter((x): x is string => x !== undefined));
  return out;
}

/** The lease annotation form of the probe targets: canonical texts joined by ','. */
export function formatProbeTargets(targets: readonly ProbeTarget[]): string {
  return targets.map((t) => t.text).join(',');
}

export type ClusterIdResolution = { ok: true; id: string; source: 'flag' | typeof PROPERTY_CLUSTER_ID | typeof PROPERTY_LEGACY_CLUSTER_ID } | { ok: false; error: string };

/**
 * This cluster's ID: the flag when given, else `cluster.clusterset.k8s.io`, else `id.k8s.io`. Any
 * two of them that are present must agree: a cluster that would join under a name the cluster
 * itself disagrees with is refused, not guessed. `properties` undefined: the API does not serve
 * ClusterProperties (only the flag can say).
 */
export function resolveClusterId(flag: string | undefined, properties: ReadonlyMap<string, string> | undefined): ClusterIdResolution {
  const standard = properties?.get(PROPERTY_CLUSTER_ID)?.trim();
  const legacy = properties?.get(PROPERTY_LEGACY_CLUSTER_ID)?.trim();
  const present: Array<[string, string]> = [];
  if (flag !== undefined) present.push(['--cluster-id', flag]);
  if (standard !== undefined) present.push([`ClusterProperty ${PROPERTY_CLUSTER_ID}`, standard]);
  if (legacy !== undefined) present.push([`ClusterProperty ${PROPERTY_LEGACY_CLUSTER_ID}`, legacy]);
  if (present.length === 0) {
    return {
      ok: false,
      error:
        properties === undefined
          ? `no cluster ID: pass --cluster-id ID (the API server does not serve about.k8s.io ClusterProperties to read ${PROPERTY_CLUSTER_ID} from)`
          : `no cluster ID: pass --cluster-id ID or create the ClusterProperty ${PROPERTY_CLUSTER_ID} (spec.value: this cluster's ID)`,
    };
  }
  for (const [source, value] of present) {
    if (!isValidClusterId(value)) return { ok: false, error: `${source} ${JSON.stringify(value.slice(0, 130))} is not a valid cluster ID (one or two DNS labels)` };
  }
  const [first, ...rest] = present;
  for (const [source, value] of rest) {
    if (value !== first![1]) return { ok: false, error: `cluster ID mismatch: ${first![0]} is ${first![1]} but ${source} is ${value}; refusing to start (make them agree)` };
  }
  const source = flag !== undefined ? 'flag' : standard !== undefined ? PROPERTY_CLUSTER_ID : PROPERTY_LEGACY_CLUSTER_ID;
  return { ok: true, id: first![1], source };
}
