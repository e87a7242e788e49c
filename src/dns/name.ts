/**
 * Name parsing: which zone a question falls in and what the name means inside it. Pure.
 *
 * Labels arrive lowercased (ASCII) but otherwise exactly as received, so a label may contain any
 * byte, including '.'. Labels are compared one by one and never joined and re-split before
 * matching: a label with a '.' or any byte outside [a-z0-9-_] can never match a zone, namespace,
 * service, cluster or host, whatever it spells.
 *
 * Cluster IDs may have one or two labels (KEP-2149), so `a.b.<svc>...` is either cluster `a.b` or
 * host `a` in cluster `b`. Syntax cannot tell them apart; the service's actual backends can.
 */
import { selectHeadless, type HeadlessSelection } from '../model/selection.ts';
import type { ServiceEntry, Snapshot } from '../model/snapshot.ts';
import type { ClusterId, Protocol, ServicePort } from '../model/types.ts';

export interface ZoneMatch {
  /** The served zone, lowercase, no trailing dot. */
  zone: string;
  /** The labels left of the zone, leftmost first. */
  relative: string[];
}

export interface NameContext {
  /** Lighthouse-style `<cluster>.<svc>...` names (and the cluster-specific SRV form). */
  clusterNames: boolean;
}

/**
 * What a name inside a zone is. Every variant a name can resolve to is listed here; `nxdomain`
 * carries the reason the name does not exist.
 */
export type NameShape =
  | { kind: 'apex' }
  | { kind: 'dns-version' }
  /** `ns.dns.Z`, the target of the apex NS record: it exists, but has no address we know. */
  | { kind: 'nameserver' }
  | { kind: 'empty-non-terminal'; what: string; service?: ServiceEntry; headless?: HeadlessSelection }
  | { kind: 'service'; service: ServiceEntry; headless?: HeadlessSelection }
  | { kind: 'cluster'; service: ServiceEntry; cluster: ClusterId; headless?: HeadlessSelection }
  | { kind: 'host'; service: ServiceEntry; cluster: ClusterId; host: string; headless: HeadlessSelection }
  | { kind: 'srv'; service: ServiceEntry; port: ServicePort; cluster?: ClusterId; headless?: HeadlessSelection }
  | { kind: 'nxdomain'; reason: string; service?: ServiceEntry; headless?: HeadlessSelection };

const PLAIN_LABEL = /^[a-z0-9_-]{1,63}$/;

/** True for labels that may name something of ours: LDH plus '_' (SRV), 1–63 bytes. */
export function isPlainLabel(label: string): boolean {
  return PLAIN_LABEL.test(label);
}

/** Splits a zone option (`clusterset.local`) into labels. */
export function zoneLabels(zone: string): string[] {
  return zone === '' ? [] : zone.split('.');
}

/** The longest served zone the name falls in, or null (REFUSED). */
export function matchZone(labels: readonly string[], zones: readonly string[]): ZoneMatch | null {
  let best: { zone: string; size: number } | null = null;
  for (const zone of zones) {
    const zl = zoneLabels(zone);
    if (zl.length > labels.length || (best !== null && zl.length <= best.size)) continue;
    let matches = true;
    for (let i = 1; i <= zl.length; i++) {
      if (labels[labels.length - i] !== zl[zl.length - i]) {
        matches = false;
        break;
      }
    }
    if (matches) best = { zone, size: zl.length };
  }
  if (best === null) return null;
  return { zone: best.zone, relative: labels.slice(0, labels.length - best.size) };
}

const PROTOCOL_LABELS: Readonly<Record<string, Protocol>> = { _tcp: 'TCP', _udp: 'UDP', _sctp: 'SCTP' };

function serviceName(service: ServiceEntry): string {
  return `${service.namespace}/${service.name}`;
}

/** Classifies the labels left of the zone. */
export function classifyName(relative: readonly string[], snapshot: Snapshot, ctx: NameContext): NameShape {
  for (const label of relative) {
    if (!isPlainLabel(label)) return { kind: 'nxdomain', reason: 'the name contains a label that is not a plain DNS label' };
  }
  const n = relative.length;
  if (n === 0) return { kind: 'apex' };
  const last = relative[n - 1];
  if (n === 1 && last === 'dns-version') return { kind: 'dns-version' };
  if (last === 'dns') {
    if (n === 1) return { kind: 'empty-non-terminal', what: 'dns (parent of the name server name)' };
    if (n === 2 && relative[0] === 'ns') return { kind: 'nameserver' };
    return { kind: 'nxdomain', reason: 'no such name under dns' };
  }
  if (last !== 'svc') return { kind: 'nxdomain', reason: `no such name: only svc, dns and dns-version exist under the zone` };
  if (n === 1) return { kind: 'empty-non-terminal', what: 'svc (parent of namespaces)' };
  const namespace = relative[n - 2] as string;
  if (n === 2) {
    return snapshot.namespaces.has(namespace)
      ? { kind: 'empty-non-terminal', what: `namespace ${namespace}` }
      : { kind: 'nxdomain', reason: `namespace ${namespace} has no exported service` };
  }
  const name = relative[n - 3] as string;
  const service = snapshot.services.get(`${namespace}/${name}`);
  if (service === undefined) {
    const suffix = snapshot.namespaces.has(namespace) ? '' : ` (namespace ${namespace} has none)`;
    return { kind: 'nxdomain', reason: `service ${namespace}/${name} is not exported by any cluster${suffix}` };
  }
  return classifyUnderService(relative.slice(0, n - 3), service, ctx);
}

/**
 * The headless selection depends on the service entry alone, and entries are immutable (a new
 * snapshot brings new entries for what changed). Memoised per entry so a service of 100,000
 * addresses is selected once per snapshot, not once per distinct question about it.
 */
const headlessSelections = new WeakMap<ServiceEntry, HeadlessSelection>();

function headlessSelection(service: ServiceEntry): HeadlessSelection {
  let selection = headlessSelections.get(service);
  if (selection === undefined) {
    selection = selectHeadless(service);
    headlessSelections.set(service, selection);
  }
  return selection;
}

function classifyUnderService(prefix: readonly string[], service: ServiceEntry, ctx: NameContext): NameShape {
  // Headless names exist only for served endpoints; when nothing is served the service name is
  // NXDOMAIN (DESIGN.md), and so, consistently (RFC 8020), is everything below it.
  let headless: HeadlessSelection | undefined;
  if (service.type === 'Headless') {
    headless = headlessSelection(service);
    if (headless.served === 0) {
      return { kind: 'nxdomain', reason: headless.note ?? `no ready endpoint for ${serviceName(service)}`, service, headless };
    }
  }
  const withHeadless = <T extends object>(shape: T): T & { headless?: HeadlessSelection } =>
    headless === undefined ? shape : { ...shape, headless };
  const nx = (reason: string): NameShape => withHeadless({ kind: 'nxdomain' as const, reason, service });

  if (prefix.length === 0) return withHeadless({ kind: 'service' as const, service });

  const first = prefix[0] as string;
  if (first.startsWith('_')) return classifySrv(prefix, service, ctx, headless, nx);

  const joined = prefix.join('.');
  const backends = new Set(service.backends.map((b) => b.cluster));
  /** Headless clusters get names only when they serve something (their endpoints' parent). */
  const servesEndpoints = (cluster: ClusterId): boolean =>
    headless === undefined || headless.endpoints.some((e) => e.cluster === cluster && e.included);
  let why: string | undefined;
  let emptyNonTerminal: string | undefined;

  // 1. The whole prefix is a cluster ID.
  if (backends.has(joined)) {
    if (!servesEndpoints(joined)) {
      why = clusterServesNothingReason(joined, headless);
    } else if (ctx.clusterNames) {
      return withHeadless({ kind: 'cluster' as const, service, cluster: joined });
    } else if (headless !== undefined) {
      emptyNonTerminal = `cluster ${joined} (parent of endpoint names; cluster-specific names are off)`;
    } else {
      why = 'cluster-specific names are disabled';
    }
  }

  // 2. `<host>.<cluster>` (headless endpoints only).
  if (prefix.length >= 2) {
    const cluster = prefix.slice(1).join('.');
    if (backends.has(cluster)) {
      if (headless === undefined) {
        why ??= `${serviceName(service)} is a ClusterSetIP service: it has no per-endpoint names`;
      } else {
        const named = headless.endpoints.filter((e) => e.cluster === cluster && e.label === first);
        if (named.some((e) => e.included)) return { kind: 'host', service, cluster, host: first, headless };
        why ??=
          named.length > 0
            ? `endpoint ${first} in cluster ${cluster}: ${(named[0] as { reason: string }).reason}`
            : `no endpoint named ${first} in cluster ${cluster} for ${serviceName(service)}`;
      }
    }
  }

  // 3. A proper suffix of a nameable multi-label cluster ID (`prod` under cluster `east.prod`).
  if (emptyNonTerminal === undefined) {
    for (const cluster of backends) {
      if (cluster.endsWith(`.${joined}`) && servesEndpoints(cluster) && (ctx.clusterNames || headless !== undefined)) {
        emptyNonTerminal = `part of cluster ID ${cluster}`;
        break;
      }
    }
  }
  if (emptyNonTerminal !== undefined) return withHeadless({ kind: 'empty-non-terminal' as const, what: emptyNonTerminal, service });
  return nx(why ?? `no cluster ${prefix.length >= 2 ? `${joined} or ${prefix.slice(1).join('.')}` : joined} exports ${serviceName(service)}`);
}

function clusterServesNothingReason(cluster: ClusterId, headless: HeadlessSelection | undefined): string {
  const decision = headless?.clusters.find((c) => c.cluster === cluster);
  return `cluster ${cluster} serves no endpoint: ${decision?.reason ?? 'no ready endpoint'}`;
}

/** `_<port>._<proto>[.<cluster>]` and the `_<proto>[.<cluster>]` empty non-terminals. */
function classifySrv(
  prefix: readonly string[],
  service: ServiceEntry,
  ctx: NameContext,
  headless: HeadlessSelection | undefined,
  nx: (reason: string) => NameShape,
): NameShape {
  const second = prefix[1];
  const isPortForm = second !== undefined && second.startsWith('_');
  const protoLabel = (isPortForm ? second : prefix[0]) as string;
  const protocol = PROTOCOL_LABELS[protoLabel];
  if (protocol === undefined) return nx(`unknown protocol label ${protoLabel} (expected _tcp, _udp or _sctp)`);
  const rest = prefix.slice(isPortForm ? 2 : 1);

  let cluster: ClusterId | undefined;
  if (rest.length > 0) {
    const id = rest.join('.');
    if (!ctx.clusterNames) return nx('cluster-specific names are disabled');
    if (!service.backends.some((b) => b.cluster === id)) return nx(`no cluster ${id} exports ${serviceName(service)}`);
    if (headless !== undefined && !headless.endpoints.some((e) => e.cluster === id && e.included)) {
      return nx(clusterServesNothingReason(id, headless));
    }
    cluster = id;
  }

  const extra = (shape: NameShape): NameShape => (headless === undefined ? shape : ({ ...shape, headless } as NameShape));
  if (!isPortForm) {
    const hasNamedPort = service.ports.some((p) => p.name !== '' && p.protocol === protocol);
    if (!hasNamedPort) return nx(`${serviceName(service)} has no named ${protocol} port`);
    return extra({ kind: 'empty-non-terminal', what: `${protoLabel} (parent of SRV names)`, service });
  }
  const portName = (prefix[0] as string).slice(1);
  const port = service.ports.find((p) => p.name !== '' && p.name === portName && p.protocol === protocol);
  if (port === undefined) return nx(`${serviceName(service)} has no port named ${portName} with protocol ${protocol}`);
  // KEP-1645: traffic to a port goes only to clusters that expose it, so a cluster-specific SRV
  // name for a port that cluster lacks does not exist (NXDOMAIN, like any unknown port).
  if (cluster !== undefined && !clusterExposes(service, cluster, port)) {
    return nx(`cluster ${cluster} does not expose port ${portName}/${protocol} of ${serviceName(service)}`);
  }
  const shape: NameShape = { kind: 'srv', service, port };
  if (cluster !== undefined) shape.cluster = cluster;
  return extra(shape);
}

function clusterExposes(service: ServiceEntry, cluster: ClusterId, port: ServicePort): boolean {
  const backend = service.backends.find((b) => b.cluster === cluster);
  return backend !== undefined && backend.ports.some((p) => p.name === port.name && p.protocol === port.protocol);
}
