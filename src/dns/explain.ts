/**
 * `explain`: for one name and type, what the server answers and why — the zone, the parsed shape,
 * the service, every candidate cluster and endpoint with its decision and reason, and the final
 * answer. It runs the very same resolve() as the DNS path and reports its trace, so explain can
 * never disagree with DNS. The report is plain JSON (served by GET /debug/explain).
 */
import type { ClusterDecision, EndpointDecision, SelectionOutcome } from '../model/selection.ts';
import { clusterHealth, effectivePolicy, weightOf } from '../model/selection.ts';
import type { Place, ServiceEntry, Snapshot } from '../model/snapshot.ts';
import type { PolicySource } from '../model/traffic-policy.ts';
import type { ServicePort } from '../model/types.ts';
import type { DnsOptions } from '../config/options.ts';
import { resolve } from './answer.ts';
import type { NameShape } from './name.ts';
import { QClass, QType, Rcode, type Ede, type ResourceRecord, type Rotation } from './types.ts';

export interface ExplainShape {
  kind: NameShape['kind'];
  /** One line saying what the name is (or why it does not exist). */
  description: string;
  cluster?: string;
  host?: string;
  port?: ServicePort;
}

export interface ExplainSelection {
  family: string;
  policy: string;
  /** Whether the service's `clusterset-dns.io/policy` annotation or the global --policy chose it. */
  policySource: PolicySource;
  outcome: SelectionOutcome;
  mode: 'rotate' | 'pick-one';
  clusters: ClusterDecision[];
  addresses: string[];
  /**
   * Per included cluster: its share of first positions in percent (its weight over the included
   * clusters' weights), what the server's weighted rotation serves.
   */
  firstShares: Record<string, number>;
  note?: string;
}

export interface ExplainReport {
  /** Lowercase, no trailing dot. */
  name: string;
  qtype: string;
  zone: string | null;
  shape: ExplainShape | null;
  service: {
    namespace: string;
    name: string;
    type: string;
    vips: string[];
    ports: ServicePort[];
    /** The policy service-wide answers follow, and whether its annotation or --policy chose it. */
    policy: string;
    policySource: PolicySource;
    /** Health of every cluster backing the service, whatever the question asked, with its weight and place. */
    clusters: Array<{ cluster: string; healthy: boolean; reason: string; weight: number; region?: string; zone?: string; refusedAddresses?: string; reachabilityNote?: string }>;
  } | null;
  snapshot: {
    version: number;
    synced: boolean;
    localCluster: string;
    /** The local cluster's region and zone (policy `nearest`), when known. */
    localPlace: Place;
    builtAt: string;
    staleSource?: { reason: string; since: string };
  };
  options: { policy: string; panicMode: string; clusterNames: boolean; ede: boolean };
  /** ClusterSetIP selections that produced answer or additional addresses. */
  selections: ExplainSelection[];
  headless: { clusters: ClusterDecision[]; endpoints: EndpointDecision[]; served: number; note?: string } | null;
  vipAnswered: boolean;
  result: {
    rcode: string;
    authoritative: boolean;
    rotation: Rotation;
    answer: ResourceRecord[];
    authority: ResourceRecord[];
    additional: ResourceRecord[];
    /** What goes on the wire (empty when EDE is disabled). */
    ede: Ede[];
  };
  /** Every explanation, even when EDE is disabled on the wire. */
  notes: Ede[];
  /** Lists shortened by limitReport, e.g. "headless.endpoints: 1000 of 10000 shown". */
  truncated?: string[];
}

const RCODE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(Rcode).map(([k, v]) => [v, k]));
const QTYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(QType).map(([k, v]) => [v, k]));

export class ExplainInputError extends Error {
  override name = 'ExplainInputError';
}

/** `A`, `aaaa`, `33` or `TYPE33` → numeric qtype. */
export function parseQType(qtype: number | string): number {
  if (typeof qtype === 'number') {
    if (Number.isInteger(qtype) && qtype >= 0 && qtype <= 65535) return qtype;
    throw new ExplainInputError(`query type must be 0..65535, got ${qtype}`);
  }
  const upper = qtype.trim().toUpperCase();
  const known = (QType as Readonly<Record<string, number>>)[upper];
  if (known !== undefined) return known;
  const numeric = /^(?:TYPE)?(\d{1,5})$/.exec(upper);
  if (numeric !== null) return parseQType(Number(numeric[1]));
  throw new ExplainInputError(`unknown query type ${JSON.stringify(qtype)} (use ${Object.keys(QType).join(', ')} or TYPEnn)`);
}

export function qtypeName(qtype: number): string {
  return QTYPE_NAMES[qtype] ?? `TYPE${qtype}`;
}

/** Dotted name → labels as the wire parser would give them (lowercase; trailing dot optional). */
export function parseDottedName(name: string): string[] {
  const trimmed = name.trim().replace(/\.$/, '');
  if (trimmed === '') return [];
  if (trimmed.length > 253) throw new ExplainInputError('name is longer than 253 characters');
  const labels = trimmed.toLowerCase().split('.');
  if (labels.some((l) => l === '')) throw new ExplainInputError(`name ${JSON.stringify(name)} has an empty label`);
  return labels;
}

function describeShape(shape: NameShape): ExplainShape {
  const svc = 'service' in shape && shape.service !== undefined ? `${shape.service.namespace}/${shape.service.name}` : '';
  switch (shape.kind) {
    case 'apex':
      return { kind: shape.kind, description: 'zone apex (SOA, NS)' };
    case 'dns-version':
      return { kind: shape.kind, description: 'schema version record (TXT)' };
    case 'nameserver':
      return { kind: shape.kind, description: 'name server name (target of the apex NS; no address published)' };
    case 'empty-non-terminal':
      return { kind: shape.kind, description: `empty non-terminal: ${shape.what}` };
    case 'service':
      return { kind: shape.kind, description: `service ${svc}` };
    case 'cluster':
      return { kind: shape.kind, description: `cluster-specific name: cluster ${shape.cluster} of ${svc}`, cluster: shape.cluster };
    case 'host':
      return {
        kind: shape.kind,
        description: `endpoint ${shape.host} in cluster ${shape.cluster} of ${svc}`,
        cluster: shape.cluster,
        host: shape.host,
      };
    case 'srv': {
      const scope = shape.cluster === undefined ? '' : ` in cluster ${shape.cluster}`;
      const out: ExplainShape = {
        kind: shape.kind,
        description: `SRV name for port ${shape.port.name}/${shape.port.protocol} of ${svc}${scope}`,
        port: shape.port,
      };
      if (shape.cluster !== undefined) out.cluster = shape.cluster;
      return out;
    }
    case 'nxdomain':
      return { kind: shape.kind, description: `does not exist: ${shape.reason}` };
  }
}

export function explain(snapshot: Snapshot, name: string, qtype: number | string, opts: DnsOptions): ExplainReport {
  const labels = parseDottedName(name);
  const type = parseQType(qtype);
  const { answer, trace } = resolve(snapshot, { labels, qtype: type, qclass: QClass.IN }, { ...opts });
  const shape = trace.shape;
  const service = shape !== undefined && 'service' in shape ? shape.service : undefined;
  const report: ExplainReport = {
    name: labels.join('.'),
    qtype: qtypeName(type),
    zone: trace.zone ?? null,
    shape: shape === undefined ? null : describeShape(shape),
    service:
      service === undefined
        ? null
        : {
            namespace: service.namespace,
            name: service.name,
            type: service.type,
            vips: [...service.vips],
            ports: service.ports.map((p) => ({ ...p })),
            ...policyOf(service, opts),
            clusters: service.backends.map((b) => ({
              cluster: b.cluster,
              ...pickHealth(clusterHealth(b)),
              weight: weightOf(b),
              ...(b.region === undefined ? {} : { region: b.region }),
              ...(b.zone === undefined ? {} : { zone: b.zone }),
              // Addresses of this cluster the address policy refused: never served, say why.
              ...(b.rejectedAddresses === undefined ? {} : { refusedAddresses: b.rejectedAddresses }),
              // The importer's fail-safe held this cluster's exclusion back: say so.
              ...(b.reachabilityNote === undefined ? {} : { reachabilityNote: b.reachabilityNote }),
            })),
          },
    snapshot: {
      version: snapshot.version,
      synced: snapshot.synced,
      localCluster: snapshot.localCluster,
      localPlace: { ...snapshot.localPlace },
      builtAt: new Date(snapshot.builtAt).toISOString(),
    },
    options: { policy: opts.policy, panicMode: opts.panicMode, clusterNames: opts.clusterNames, ede: opts.ede },
    selections: trace.selections.map((s) => {
      const out: ExplainSelection = {
        family: s.family,
        policy: s.policy,
        policySource: s.policySource,
        outcome: s.outcome,
        mode: s.mode,
        clusters: s.clusters,
        addresses: s.addresses,
        firstShares: firstShares(s.clusters),
      };
      if (s.note !== undefined) out.note = s.note;
      return out;
    }),
    headless:
      trace.headless === undefined
        ? null
        : {
            clusters: trace.headless.clusters,
            endpoints: trace.headless.endpoints,
            served: trace.headless.served,
            ...(trace.headless.note === undefined ? {} : { note: trace.headless.note }),
          },
    vipAnswered: trace.vipAnswered,
    result: {
      rcode: RCODE_NAMES[answer.rcode] ?? String(answer.rcode),
      authoritative: answer.authoritative,
      rotation: answer.rotation,
      answer: answer.answer,
      authority: answer.authority,
      additional: answer.additional,
      ede: answer.ede,
    },
    notes: trace.notes,
  };
  if (snapshot.staleSource !== undefined) {
    report.snapshot.staleSource = { reason: snapshot.staleSource.reason, since: new Date(snapshot.staleSource.since).toISOString() };
  }
  return report;
}

/**
 * The report with every list cut to `maxItems` entries (each cut named in `truncated`), so one
 * report of a 100,000-address service stays a bounded response. The input is not modified.
 */
export function limitReport(report: ExplainReport, maxItems: number): ExplainReport {
  const truncated: string[] = [];
  const cap = <T>(items: readonly T[], what: string): T[] => {
    if (items.length <= maxItems) return [...items];
    truncated.push(`${what}: ${maxItems} of ${items.length} shown`);
    return items.slice(0, maxItems);
  };
  const capDecisions = (decisions: readonly ClusterDecision[], what: string): ClusterDecision[] =>
    cap(decisions, what).map((d) => ({ ...d, addresses: cap(d.addresses, `${what}[${d.cluster}].addresses`), known: cap(d.known, `${what}[${d.cluster}].known`) }));
  const limited: ExplainReport = {
    ...report,
    selections: report.selections.map((s, i) => ({
      ...s,
      clusters: capDecisions(s.clusters, `selections[${i}].clusters`),
      addresses: cap(s.addresses, `selections[${i}].addresses`),
    })),
    headless:
      report.headless === null
        ? null
        : {
            ...report.headless,
            clusters: capDecisions(report.headless.clusters, 'headless.clusters'),
            endpoints: cap(report.headless.endpoints, 'headless.endpoints').map((e) =>
              e.addresses.length <= maxItems ? e : { ...e, addresses: e.addresses.slice(0, maxItems) },
            ),
          },
    result: {
      ...report.result,
      answer: cap(report.result.answer, 'result.answer'),
      additional: cap(report.result.additional, 'result.additional'),
    },
  };
  if (truncated.length > 0) limited.truncated = [...(report.truncated ?? []), ...truncated];
  return limited;
}

function policyOf(service: ServiceEntry, opts: DnsOptions): { policy: string; policySource: PolicySource } {
  const p = effectivePolicy(service, opts);
  return { policy: p.policy, policySource: p.source };
}

/** Each included cluster's share of first positions, in percent with one decimal. */
function firstShares(decisions: readonly ClusterDecision[]): Record<string, number> {
  const included = decisions.filter((d) => d.included && d.addresses.length > 0);
  const drainedAll = included.every((d) => d.weight === 0);
  const total = included.reduce((sum, d) => sum + (drainedAll ? 1 : d.weight), 0);
  const shares: Record<string, number> = {};
  for (const d of included) shares[d.cluster] = total === 0 ? 0 : Math.round(((drainedAll ? 1 : d.weight) / total) * 1000) / 10;
  return shares;
}

function pickHealth(h: { healthy: boolean; reason: string }): { healthy: boolean; reason: string } {
  return { healthy: h.healthy, reason: h.reason };
}

/** Presentation (dig-like) of one record. */
export function formatRecord(rr: ResourceRecord): string {
  const head = `${rr.name}.\t${rr.ttl}\tIN\t${rr.type}\t`;
  switch (rr.type) {
    case 'A':
    case 'AAAA':
      return head + rr.address;
    case 'SRV':
      return `${head}${rr.priority} ${rr.weight} ${rr.port} ${rr.target}.`;
    case 'TXT':
      return `${head}"${rr.text}"`;
    case 'NS':
      return `${head}${rr.ns}.`;
    case 'SOA':
      return `${head}${rr.mname}. ${rr.rname}. ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expire} ${rr.minimum}`;
  }
}

function decisionLine(mark: boolean, who: string, addresses: readonly string[], reason: string): string {
  return `    ${mark ? '+' : '-'} ${who.padEnd(24)} ${(addresses.join(',') || '-').padEnd(20)} ${mark ? 'included' : 'excluded'}: ${reason}`;
}

function placeText(p: { region?: string; zone?: string }): string {
  return [p.region === undefined ? undefined : `region ${p.region}`, p.zone === undefined ? undefined : `zone ${p.zone}`].filter((x) => x !== undefined).join(', ');
}

/** Readable multi-line rendering for the CLI. */
export function formatExplain(report: ExplainReport): string {
  const lines: string[] = [];
  const snap = report.snapshot;
  lines.push(`${report.name}. ${report.qtype}`);
  for (const cut of report.truncated ?? []) lines.push(`  truncated: ${cut}`);
  lines.push(`  zone:      ${report.zone ?? '(outside every served zone)'}`);
  if (report.shape !== null) lines.push(`  name:      ${report.shape.description}`);
  lines.push(
    `  snapshot:  version ${snap.version}, ${snap.synced ? 'synced' : 'NOT synced yet'}, local cluster ${snap.localCluster}, built ${snap.builtAt}`,
  );
  if (snap.localPlace.region !== undefined || snap.localPlace.zone !== undefined) lines.push(`  local at:  ${placeText(snap.localPlace)}`);
  if (snap.staleSource !== undefined) lines.push(`  stale:     ${snap.staleSource.reason} (since ${snap.staleSource.since})`);
  lines.push(
    `  options:   policy ${report.options.policy}, panic ${report.options.panicMode}, cluster names ${report.options.clusterNames ? 'on' : 'off'}, EDE ${report.options.ede ? 'on' : 'off'}`,
  );
  const svc = report.service;
  if (svc !== null) {
    const ports = svc.ports.map((p) => `${p.name || '(unnamed)'}/${p.protocol}/${p.port}`).join(' ') || 'none';
    lines.push(`  service:   ${svc.namespace}/${svc.name} ${svc.type}, VIPs ${svc.vips.join(',') || 'none'}, ports ${ports}`);
    lines.push(`  policy:    ${svc.policy} (${svc.policySource === 'annotation' ? 'from its clusterset-dns.io/policy annotation' : 'global --policy'})`);
    lines.push('  cluster health:');
    if (svc.clusters.length === 0) lines.push('    (no cluster backs this service)');
    for (const c of svc.clusters) {
      const place = c.region === undefined && c.zone === undefined ? '' : `, ${placeText(c)}`;
      lines.push(`    ${c.healthy ? 'healthy  ' : 'unhealthy'} ${c.cluster}: ${c.reason} (weight ${c.weight}${place})`);
      if (c.refusedAddresses !== undefined) lines.push(`              refused addresses (never served): ${c.refusedAddresses}`);
      if (c.reachabilityNote !== undefined) lines.push(`              reachability: ${c.reachabilityNote}`);
    }
  }
  for (const s of report.selections) {
    lines.push(`  selection ${s.family} (policy ${s.policy} from ${s.policySource}, outcome ${s.outcome}${s.mode === 'pick-one' ? ', one record per answer' : ''}):`);
    for (const c of s.clusters) {
      const share = s.firstShares[c.cluster];
      lines.push(decisionLine(c.included, c.cluster, c.known, `${c.reason} [weight ${c.weight}${share === undefined ? '' : `, first ${share}%`}]`));
    }
    if (s.note !== undefined) lines.push(`    note: ${s.note}`);
  }
  if (report.vipAnswered) lines.push('  answered the clusterset VIP (selections above only report health)');
  if (report.headless !== null) {
    lines.push(`  headless endpoints (${report.headless.served} served):`);
    for (const e of report.headless.endpoints) lines.push(decisionLine(e.included, `${e.label}.${e.cluster}`, e.addresses, e.reason));
    if (report.headless.note !== undefined) lines.push(`    note: ${report.headless.note}`);
  }
  const r = report.result;
  lines.push(`  result:    ${r.rcode}${r.authoritative ? ' aa' : ''}${r.rotation === 'none' ? '' : `, order ${r.rotation === 'rotate' ? 'rotated per query' : 'one record per query'}`}`);
  for (const [title, records] of [
    ['answer', r.answer],
    ['authority', r.authority],
    ['additional', r.additional],
  ] as const) {
    if (records.length === 0) continue;
    lines.push(`  ${title}:`);
    for (const rr of records) lines.push(`    ${formatRecord(rr)}`);
  }
  for (const n of report.notes) lines.push(`  EDE ${n.code}: ${n.text}${r.ede.length === 0 ? ' (not sent: EDE off)' : ''}`);
  return lines.join('\n');
}
