/**
 * Answer building: a pure function from (snapshot, question, options) to rcode + sections + EDE,
 * implementing DESIGN.md's DNS table. The server only encodes what this returns.
 *
 * Choices the design left open (documented in the README's DNS section too):
 * - qtype ANY answers what exists at the name: SOA+NS at the apex, TXT at dns-version, A+AAAA at
 *   address names, SRV at SRV names. Bare-name SRV records are not part of ANY.
 * - qclass other than IN (or ANY) inside a zone: REFUSED, like common authoritative servers that
 *   hold no data in that class. AXFR/IXFR: REFUSED (no zone transfers). A question of type OPT:
 *   FORMERR (RFC 6891).
 * - Services with a clusterset VIP answer the VIP whenever the service exists, healthy backends or
 *   not, because the dataplane behind the VIP does the routing; an EDE says when none is healthy.
 * - SRV records: priority 0, weight 1 for every record (equal weights).
 */
import { addressFamily } from '../model/endpoint-name.ts';
import { summarizeClusters } from '../model/reasons.ts';
import {
  clusterHealth,
  selectClusterSetIPs,
  selectExplicitCluster,
  type ClusterSetSelection,
  type HeadlessSelection,
} from '../model/selection.ts';
import type { ServiceEntry, Snapshot } from '../model/snapshot.ts';
import type { ClusterId, IPFamily, ServicePort } from '../model/types.ts';
import type { DnsOptions } from '../config/options.ts';
import { classifyName, matchZone, type NameShape } from './name.ts';
import { EdeCode, QClass, QType, Rcode, type Answer, type Ede, type RcodeValue, type ResourceRecord, type Question, type Rotation } from './types.ts';

export const DNS_VERSION_TEXT = '1.0.0';
export const DNS_VERSION_TTL = 28800;
export const SRV_PRIORITY = 0;
export const SRV_WEIGHT = 1;
export const SOA_TIMERS = { refresh: 7200, retry: 1800, expire: 86400 } as const;

const QTYPE_AXFR = 252;
const QTYPE_IXFR = 251;

/** Everything answer() decided and why: `explain` renders this instead of deciding again. */
export interface Trace {
  zone?: string;
  shape?: NameShape;
  /** The ClusterSetIP selections that produced answer or additional addresses. */
  selections: ClusterSetSelection[];
  /** The headless selection, when the service is headless. */
  headless?: HeadlessSelection;
  /** True when a clusterset VIP was answered (selections then only report health). */
  vipAnswered: boolean;
  /** Every explanation, whether or not EDE is enabled on the wire. */
  notes: Ede[];
}

export interface Resolution {
  answer: Answer;
  trace: Trace;
}

export function answer(snapshot: Snapshot, question: Question, opts: DnsOptions): Answer {
  return resolve(snapshot, question, opts).answer;
}

/** The owner name for records at the question's name (labels are plain when we answer data). */
function ownerOf(question: Question): string {
  return question.labels.join('.');
}

function soaRecord(zone: string, serial: number, opts: DnsOptions, ttl: number): ResourceRecord {
  return {
    name: zone,
    ttl,
    type: 'SOA',
    mname: `ns.dns.${zone}`,
    rname: `hostmaster.${zone}`,
    serial: serial >>> 0,
    ...SOA_TIMERS,
    minimum: opts.negativeTtl,
  };
}

function addressRecord(name: string, address: string, ttl: number): ResourceRecord {
  return addressFamily(address) === 'IPv6' ? { name, ttl, type: 'AAAA', address } : { name, ttl, type: 'A', address };
}

/** Accumulates one answer; `finish` applies the EDE switch and the stale-source marker. */
class Builder {
  readonly trace: Trace = { selections: [], vipAnswered: false, notes: [] };
  readonly records: ResourceRecord[] = [];
  readonly additional: ResourceRecord[] = [];
  rotation: Rotation = 'none';
  readonly snapshot: Snapshot;
  readonly question: Question;
  readonly opts: DnsOptions;
  /** Notes that only matter if the answer ends up empty (a missing family on a dual-stack ANY). */
  private readonly softNotes: string[] = [];

  constructor(snapshot: Snapshot, question: Question, opts: DnsOptions) {
    this.snapshot = snapshot;
    this.question = question;
    this.opts = opts;
  }

  note(text: string, code: number = EdeCode.OTHER): void {
    if (!this.trace.notes.some((n) => n.code === code && n.text === text)) this.trace.notes.push({ code, text });
  }

  softNote(text: string): void {
    if (!this.softNotes.includes(text)) this.softNotes.push(text);
  }

  finish(rcode: RcodeValue, authoritative: boolean, authority: ResourceRecord[] = []): Resolution {
    const stale = this.snapshot.staleSource;
    if (stale !== undefined && this.trace.zone !== undefined) {
      this.note(`stale: ${stale.reason} (since ${new Date(stale.since).toISOString()})`, EdeCode.STALE_ANSWER);
    }
    return {
      answer: {
        rcode,
        authoritative,
        answer: this.records,
        authority,
        additional: this.additional,
        ede: this.opts.ede ? this.trace.notes.map((n) => ({ ...n })) : [],
        rotation: this.records.length > 1 ? this.rotation : 'none',
      },
      trace: this.trace,
    };
  }

  /** NOERROR with data, or NODATA (NOERROR, empty answer, SOA in authority) when nothing was added. */
  finishInZone(zone: string): Resolution {
    if (this.records.length === 0) {
      for (const text of this.softNotes) this.note(text);
      return this.finishNegative(zone, Rcode.NOERROR);
    }
    return this.finish(Rcode.NOERROR, true);
  }

  finishNegative(zone: string, rcode: RcodeValue): Resolution {
    this.additional.length = 0;
    return this.finish(rcode, true, [soaRecord(zone, this.snapshot.version, this.opts, this.opts.negativeTtl)]);
  }
}

export function resolve(snapshot: Snapshot, question: Question, opts: DnsOptions): Resolution {
  const b = new Builder(snapshot, question, opts);
  const match = matchZone(question.labels, opts.zones);
  if (match === null) {
    b.note('not authoritative: the name is outside the served zones', EdeCode.NOT_AUTHORITATIVE);
    return b.finish(Rcode.REFUSED, false);
  }
  b.trace.zone = match.zone;
  if (question.qclass !== QClass.IN && question.qclass !== QClass.ANY) {
    b.note(`class ${question.qclass} is not served, only IN`, EdeCode.NOT_SUPPORTED);
    return b.finish(Rcode.REFUSED, false);
  }
  if (question.qtype === QType.OPT) return b.finish(Rcode.FORMERR, false);
  if (question.qtype === QTYPE_AXFR || question.qtype === QTYPE_IXFR) {
    b.note('zone transfers are not supported', EdeCode.NOT_SUPPORTED);
    return b.finish(Rcode.REFUSED, false);
  }
  if (!snapshot.synced) {
    b.note('not ready: the imported services have not been fully synced yet', EdeCode.NOT_READY);
    return b.finish(Rcode.SERVFAIL, true);
  }

  const shape = classifyName(match.relative, snapshot, { clusterNames: opts.clusterNames });
  b.trace.shape = shape;
  if ('headless' in shape && shape.headless !== undefined) b.trace.headless = shape.headless;
  const zone = match.zone;
  const qtype = question.qtype;
  const owner = ownerOf(question);
  const wants = (type: number): boolean => qtype === type || qtype === QType.ANY;

  switch (shape.kind) {
    case 'nxdomain':
      b.note(shape.reason);
      return b.finishNegative(zone, Rcode.NXDOMAIN);
    case 'apex':
      if (wants(QType.SOA)) b.records.push(soaRecord(zone, snapshot.version, opts, opts.ttl));
      if (wants(QType.NS)) b.records.push({ name: zone, ttl: opts.ttl, type: 'NS', ns: `ns.dns.${zone}` });
      return b.finishInZone(zone);
    case 'dns-version':
      if (wants(QType.TXT)) b.records.push({ name: owner, ttl: DNS_VERSION_TTL, type: 'TXT', text: DNS_VERSION_TEXT });
      return b.finishInZone(zone);
    case 'nameserver':
    case 'empty-non-terminal':
      return b.finishInZone(zone);
    case 'service':
    case 'cluster':
      if (wants(QType.A)) addAddresses(b, shape, 'IPv4', owner);
      if (wants(QType.AAAA)) addAddresses(b, shape, 'IPv6', owner);
      if (qtype === QType.SRV) addSrv(b, zone, shape.service, undefined, shape.kind === 'cluster' ? shape.cluster : undefined);
      return b.finishInZone(zone);
    case 'host':
      for (const family of ['IPv4', 'IPv6'] as const) {
        if (!wants(family === 'IPv4' ? QType.A : QType.AAAA)) continue;
        for (const address of hostAddresses(shape.headless, shape.cluster, shape.host)) {
          if (addressFamily(address) === family) b.records.push(addressRecord(owner, address, opts.ttl));
        }
      }
      b.rotation = 'rotate';
      return b.finishInZone(zone);
    case 'srv':
      if (wants(QType.SRV)) addSrv(b, zone, shape.service, shape.port, shape.cluster);
      return b.finishInZone(zone);
  }
}

function hostAddresses(headless: HeadlessSelection, cluster: ClusterId, host: string): string[] {
  const out: string[] = [];
  for (const e of headless.endpoints) {
    if (e.included && e.cluster === cluster && e.label === host) {
      for (const a of e.addresses) if (!out.includes(a)) out.push(a);
    }
  }
  return out;
}

/** Addresses of the family for a service name or a cluster-specific name. */
function familyAddresses(
  b: Builder,
  service: ServiceEntry,
  cluster: ClusterId | undefined,
  headless: HeadlessSelection | undefined,
  family: IPFamily,
): { addresses: string[]; rotation: Rotation } {
  if (headless !== undefined) {
    const addresses: string[] = [];
    for (const e of headless.endpoints) {
      if (!e.included || (cluster !== undefined && e.cluster !== cluster)) continue;
      for (const a of e.addresses) if (addressFamily(a) === family && !addresses.includes(a)) addresses.push(a);
    }
    if (addresses.length === 0) {
      b.softNote(`no ready ${family} endpoint for ${service.namespace}/${service.name}${cluster === undefined ? '' : ` in cluster ${cluster}`}`);
    }
    return { addresses, rotation: 'rotate' };
  }
  if (cluster !== undefined) {
    const selection = selectExplicitCluster(service, cluster, family);
    b.trace.selections.push(selection);
    noteSelection(b, selection);
    return { addresses: selection.addresses, rotation: 'rotate' };
  }
  if (service.vips.length > 0) {
    // The dataplane behind a VIP routes to healthy backends itself: answer it whatever the health,
    // and say so when no cluster is healthy (family-independent: the VIP maps to any family).
    const vips = service.vips.filter((v) => addressFamily(v) === family);
    b.trace.vipAnswered ||= vips.length > 0;
    if (vips.length === 0) b.softNote(`${service.namespace}/${service.name} has no ${family} clusterset VIP`);
    else {
      const health = service.backends.map((backend) => ({ cluster: backend.cluster, ...clusterHealth(backend) }));
      if (!health.some((h) => h.healthy)) {
        const why = health.length === 0 ? 'no cluster has endpoints' : `no healthy cluster: ${summarizeClusters(health)}`;
        b.note(`degraded, answered the clusterset VIP but ${why}`);
      }
    }
    return { addresses: vips, rotation: 'rotate' };
  }
  const selection = selectClusterSetIPs(service, b.snapshot.localCluster, family, b.opts);
  b.trace.selections.push(selection);
  noteSelection(b, selection);
  return { addresses: selection.addresses, rotation: selection.mode === 'pick-one' ? 'pick-one' : 'rotate' };
}

/** A family the service simply lacks is only worth saying when the whole answer is empty. */
function noteSelection(b: Builder, selection: ClusterSetSelection): void {
  if (selection.note === undefined) return;
  if (selection.outcome === 'no-candidate') b.softNote(selection.note);
  else b.note(selection.note);
}

function addAddresses(
  b: Builder,
  shape: Extract<NameShape, { kind: 'service' | 'cluster' }>,
  family: IPFamily,
  owner: string,
): void {
  const cluster = shape.kind === 'cluster' ? shape.cluster : undefined;
  const { addresses, rotation } = familyAddresses(b, shape.service, cluster, shape.headless, family);
  for (const address of addresses) b.records.push(addressRecord(owner, address, b.opts.ttl));
  // ANY mixes A and AAAA: never pick a single record out of that mix.
  if (addresses.length > 0) b.rotation = b.question.qtype === QType.ANY ? 'rotate' : rotation;
}

/** The port number a target serves a port on: headless endpoints use their slice's port. */
function targetPort(service: ServiceEntry, cluster: ClusterId | undefined, port: ServicePort): number {
  if (service.type !== 'Headless' || cluster === undefined) return port.port;
  const backend = service.backends.find((x) => x.cluster === cluster);
  const own = backend?.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
  return own?.port ?? port.port;
}

/**
 * SRV records for one named port (`port` set) or for every port (bare-name SRV), service-wide or
 * for one cluster, de-duplicated by (target, port); Additional carries each target's addresses.
 */
function addSrv(b: Builder, zone: string, service: ServiceEntry, port: ServicePort | undefined, cluster: ClusterId | undefined): void {
  const base = `${service.name}.${service.namespace}.svc.${zone}`;
  const ports = port === undefined ? service.ports : [port];
  const ttl = b.opts.ttl;
  const seen = new Set<string>();
  const push = (target: string, number: number): void => {
    const key = `${target} ${number}`;
    if (seen.has(key)) return;
    seen.add(key);
    b.records.push({ name: ownerOf(b.question), ttl, type: 'SRV', priority: SRV_PRIORITY, weight: SRV_WEIGHT, port: number, target });
  };
  const additionalSeen = new Set<string>();
  const addAdditional = (target: string, addresses: readonly string[]): void => {
    for (const address of addresses) {
      const key = `${target} ${address}`;
      if (additionalSeen.has(key)) continue;
      additionalSeen.add(key);
      b.additional.push(addressRecord(target, address, ttl));
    }
  };

  const headless = b.trace.headless;
  if (service.type === 'Headless' && headless !== undefined) {
    for (const e of headless.endpoints) {
      if (!e.included || (cluster !== undefined && e.cluster !== cluster)) continue;
      const target = `${e.label}.${e.cluster}.${base}`;
      for (const p of ports) push(target, targetPort(service, e.cluster, p));
      addAdditional(target, e.addresses);
    }
  } else {
    const target = cluster === undefined ? base : `${cluster}.${base}`;
    for (const p of ports) push(target, p.port);
    if (b.records.length > 0) {
      for (const family of ['IPv4', 'IPv6'] as const) {
        addAdditional(target, familyAddresses(b, service, cluster, undefined, family).addresses);
      }
    }
  }
  if (b.records.length > 0) b.rotation = 'rotate';
}
