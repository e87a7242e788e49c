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
 * - SRV records: priority 0; the weight is that of the cluster the target is in (its
 *   `clusterset-dns.io/weight`, default 100). A service-wide ClusterSetIP SRV answer has one
 *   target, the service name (weight 100), unless the clusters its policy serves weigh differently:
 *   then one target per serving cluster (`<cluster>.<svc>…`, with its weight and own ports), so SRV
 *   clients can split by weight too (not with --no-cluster-names or a clusterset VIP).
 * - A/AAAA answers carry each record's share of first positions (`Answer.weights`: a cluster's
 *   weight split evenly among its records) when the shares differ; the server rotates by them.
 * - Work is linear and bounded: addresses are de-duplicated with Sets by their canonical form, and
 *   each section stops at `maxRecords` records (the rest is left out before encoding, with a note).
 * - A cluster-specific SRV name answers with that cluster's own ports (KEP-1645: traffic to a port
 *   goes only to clusters that expose it); a service-wide headless SRV skips targets whose cluster
 *   lacks the port.
 */
import { addressFamily } from '../model/endpoint-name.ts';
import { canonicalIp } from '../model/ip.ts';
import { summarizeClusters } from '../model/reasons.ts';
import {
  clusterHealth,
  selectClusterSetIPs,
  selectExplicitCluster,
  weightOf,
  type ClusterDecision,
  type ClusterSetSelection,
  type HeadlessSelection,
} from '../model/selection.ts';
import { serviceKey } from '../model/service-key.ts';
import type { ServiceEntry, Snapshot } from '../model/snapshot.ts';
import { DEFAULT_WEIGHT } from '../model/traffic-policy.ts';
import type { ClusterId, IPFamily, ServicePort } from '../model/types.ts';
import { DEFAULT_MAX_RECORDS, type DnsOptions } from '../config/options.ts';
import { classifyName, matchZone, type NameShape } from './name.ts';
import { EdeCode, QClass, QType, Rcode, type Answer, type Ede, type RcodeValue, type ResourceRecord, type Question, type Rotation } from './types.ts';

export const DNS_VERSION_TEXT = '1.0.0';
export const DNS_VERSION_TTL = 28800;
export const SRV_PRIORITY = 0;
/** The SRV weight of a target that spans clusters (a ClusterSetIP service name). */
export const SRV_WEIGHT = DEFAULT_WEIGHT;
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

/**
 * Addresses seen so far, by canonical form: `2001:DB8::1` and `2001:db8:0::1` are one address. The
 * snapshot normally holds canonical text already; this keeps answers right if it ever does not.
 */
class AddressSet {
  private readonly seen = new Set<string>();
  /** Texts already looked at: a repeated text costs one Set lookup, not a parse. */
  private readonly texts = new Set<string>();

  /** The canonical text when the address is new, undefined when it was seen already. */
  add(address: string): string | undefined {
    if (this.texts.has(address)) return undefined;
    this.texts.add(address);
    const canonical = canonicalIp(address) ?? address;
    if (this.seen.has(canonical)) return undefined;
    this.seen.add(canonical);
    return canonical;
  }
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
  /**
   * Each answer record's share of first positions, parallel to `records`, while every record added
   * came with one; undefined once one came without (then all records weigh the same).
   */
  weights: number[] | undefined = [];
  readonly snapshot: Snapshot;
  readonly question: Question;
  readonly opts: DnsOptions;
  /** Records per section at most. */
  readonly maxRecords: number;
  /** Notes that only matter if the answer ends up empty (a missing family on a dual-stack ANY). */
  private readonly softNotes = new Set<string>();
  private readonly noteKeys = new Set<string>();
  private capNoted = false;

  constructor(snapshot: Snapshot, question: Question, opts: DnsOptions) {
    this.snapshot = snapshot;
    this.question = question;
    this.opts = opts;
    this.maxRecords = opts.maxRecords ?? DEFAULT_MAX_RECORDS;
  }

  note(text: string, code: number = EdeCode.OTHER): void {
    const key = `${code} ${text}`;
    if (this.noteKeys.has(key)) return;
    this.noteKeys.add(key);
    this.trace.notes.push({ code, text });
  }

  softNote(text: string): void {
    this.softNotes.add(text);
  }

  /** Room left in the answer section. */
  answerRoom(): number {
    return this.maxRecords - this.records.length;
  }

  /** Adds an answer record unless the section is full; false (and a note, once) when it is. */
  addAnswer(record: ResourceRecord, weight?: number): boolean {
    if (this.records.length >= this.maxRecords) return this.capped('answer');
    this.records.push(record);
    if (weight === undefined) this.weights = undefined;
    else this.weights?.push(weight);
    return true;
  }

  addAdditional(record: ResourceRecord): boolean {
    if (this.additional.length >= this.maxRecords) return this.capped('additional');
    this.additional.push(record);
    return true;
  }

  private capped(section: string): false {
    if (!this.capNoted) this.note(`${section} section capped at ${this.maxRecords} records; the rest is left out`);
    this.capNoted = true;
    return false;
  }

  finish(rcode: RcodeValue, authoritative: boolean, authority: ResourceRecord[] = []): Resolution {
    const stale = this.snapshot.staleSource;
    if (stale !== undefined && this.trace.zone !== undefined) {
      this.note(`stale: ${stale.reason} (since ${new Date(stale.since).toISOString()})`, EdeCode.STALE_ANSWER);
    }
    const answer: Answer = {
      rcode,
      authoritative,
      answer: this.records,
      authority,
      additional: this.additional,
      ede: this.opts.ede ? this.trace.notes.map((n) => ({ ...n })) : [],
      rotation: this.records.length > 1 ? this.rotation : 'none',
    };
    const shape = this.trace.shape;
    if (shape !== undefined && 'service' in shape && shape.service !== undefined) answer.serviceKey = serviceKey(shape.service);
    const weights = this.weights;
    if (answer.rotation !== 'none' && weights !== undefined && weights.length === this.records.length && !allEqual(weights)) answer.weights = weights;
    return { answer, trace: this.trace };
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
          if (addressFamily(address) === family && !b.addAnswer(addressRecord(owner, address, opts.ttl))) break;
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
  const seen = new AddressSet();
  for (const e of headless.endpoints) {
    if (e.included && e.cluster === cluster && e.label === host) {
      for (const a of e.addresses) {
        const canonical = seen.add(a);
        if (canonical !== undefined) out.push(canonical);
      }
    }
  }
  return out;
}

/**
 * Served addresses of one family (and cluster) of a headless selection: unique, canonical, at
 * most `room + 1` (one more than fits, so the cap is noted), with each one's share of first
 * positions (its cluster's weight split among that cluster's addresses here). Service-wide, the
 * endpoints of drained clusters are left out. One pass, stopping once full, so the cost is bounded
 * by the cap, not by how many endpoints the service has; and memoised per selection (selections
 * live as long as their snapshot entry), so A, AAAA, ANY and SRV questions with or without EDNS
 * share it instead of each scanning 100,000 addresses again.
 */
interface ServedAddresses {
  addresses: string[];
  weights: number[];
}

const servedAddressMemo = new WeakMap<HeadlessSelection, Map<string, ServedAddresses>>();

function servedAddresses(headless: HeadlessSelection, cluster: ClusterId | undefined, family: IPFamily, room: number): ServedAddresses {
  let memo = servedAddressMemo.get(headless);
  if (memo === undefined) {
    memo = new Map();
    servedAddressMemo.set(headless, memo);
  }
  const key = `${family} ${cluster ?? ''} ${room}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  const addresses: string[] = [];
  const owners: ClusterId[] = [];
  const seen = new AddressSet();
  scan: for (const e of headless.endpoints) {
    if (!e.included || (cluster !== undefined ? e.cluster !== cluster : e.drained)) continue;
    for (const a of e.addresses) {
      if (addressFamily(a) !== family) continue;
      const canonical = seen.add(a);
      if (canonical === undefined) continue;
      addresses.push(canonical);
      owners.push(e.cluster);
      if (addresses.length > room) break scan;
    }
  }
  const served = { addresses, weights: headlessShares(headless, owners) };
  memo.set(key, served);
  return served;
}

/** Per address (by its cluster): the cluster's weight split evenly among its addresses in the list. */
function headlessShares(headless: HeadlessSelection, owners: readonly ClusterId[]): number[] {
  const counts = new Map<ClusterId, number>();
  for (const c of owners) counts.set(c, (counts.get(c) ?? 0) + 1);
  const weightOf = new Map(headless.clusters.map((d) => [d.cluster, d.weight]));
  const drainedAll = [...counts.keys()].every((c) => weightOf.get(c) === 0);
  return owners.map((c) => (drainedAll ? 1 : (weightOf.get(c) ?? DEFAULT_WEIGHT)) / counts.get(c)!);
}

/** Each address once, by canonical form, in canonical text. */
function uniqueCanonical(addresses: readonly string[]): string[] {
  const seen = new AddressSet();
  const out: string[] = [];
  for (const a of addresses) {
    const canonical = seen.add(a);
    if (canonical !== undefined) out.push(canonical);
  }
  return out;
}

function allEqual(values: readonly number[]): boolean {
  for (const v of values) if (v !== values[0]) return false;
  return true;
}

/**
 * The included clusters' addresses (unique, canonical) with each one's share of first positions:
 * the cluster's weight split evenly among its addresses, so a cluster's share does not grow with
 * the number of its IPs. When every included cluster weighs 0 (all drained, answered anyway) they
 * share alike.
 */
function sharedByCluster(decisions: readonly ClusterDecision[]): { addresses: string[]; weights: number[] } {
  const seen = new AddressSet();
  const addresses: string[] = [];
  const weights: number[] = [];
  const drainedAll = decisions.every((d) => !d.included || d.weight === 0);
  for (const d of decisions) {
    if (!d.included) continue;
    const start = addresses.length;
    for (const a of d.addresses) {
      const canonical = seen.add(a);
      if (canonical !== undefined) addresses.push(canonical);
    }
    const share = (drainedAll ? 1 : d.weight) / Math.max(1, addresses.length - start);
    for (let i = start; i < addresses.length; i++) weights.push(share);
  }
  return { addresses, weights };
}

/** Addresses of the family (unique, canonical) for a service name or a cluster-specific name. */
function familyAddresses(
  b: Builder,
  service: ServiceEntry,
  cluster: ClusterId | undefined,
  headless: HeadlessSelection | undefined,
  family: IPFamily,
): { addresses: string[]; rotation: Rotation; weights?: number[] } {
  if (headless !== undefined) {
    const served = servedAddresses(headless, cluster, family, b.answerRoom());
    if (served.addresses.length === 0) {
      b.softNote(`no ready ${family} endpoint for ${service.namespace}/${service.name}${cluster === undefined ? '' : ` in cluster ${cluster}`}`);
    }
    return cluster === undefined ? { ...served, rotation: 'rotate' } : { addresses: served.addresses, rotation: 'rotate' };
  }
  if (cluster !== undefined) {
    const selection = selectExplicitCluster(service, cluster, family);
    b.trace.selections.push(selection);
    noteSelection(b, selection);
    return { addresses: uniqueCanonical(selection.addresses), rotation: 'rotate' };
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
    return { addresses: uniqueCanonical(vips), rotation: 'rotate' };
  }
  const selection = selectClusterSetIPs(service, b.snapshot.localCluster, family, b.opts, b.snapshot.localPlace);
  b.trace.selections.push(selection);
  noteSelection(b, selection);
  return { ...sharedByCluster(selection.clusters), rotation: selection.mode === 'pick-one' ? 'pick-one' : 'rotate' };
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
  const { addresses, rotation, weights } = familyAddresses(b, shape.service, cluster, shape.headless, family);
  for (let i = 0; i < addresses.length; i++) if (!b.addAnswer(addressRecord(owner, addresses[i]!, b.opts.ttl), weights?.[i])) break;
  // ANY mixes A and AAAA: never pick a single record out of that mix.
  if (addresses.length > 0) b.rotation = b.question.qtype === QType.ANY ? 'rotate' : rotation;
}

/** The ports one cluster exposes, keyed by name and protocol (how merged ports are matched). */
function clusterPorts(service: ServiceEntry, cluster: ClusterId): Map<string, ServicePort> {
  const ports = new Map<string, ServicePort>();
  const backend = service.backends.find((x) => x.cluster === cluster);
  for (const p of backend?.ports ?? []) ports.set(`${p.name}/${p.protocol}`, p);
  return ports;
}

/**
 * SRV records for one named port (`port` set) or for every port (bare-name SRV), service-wide or
 * for one cluster, de-duplicated by (target, port); Additional carries each target's addresses.
 * A cluster-specific name lists that cluster's own ports; a headless target is listed only for the
 * ports its cluster exposes, with that cluster's port number.
 */
function addSrv(b: Builder, zone: string, service: ServiceEntry, port: ServicePort | undefined, cluster: ClusterId | undefined): void {
  const base = `${service.name}.${service.namespace}.svc.${zone}`;
  const ttl = b.opts.ttl;
  const portsByCluster = new Map<ClusterId, Map<string, ServicePort>>();
  const portsOf = (id: ClusterId): Map<string, ServicePort> => {
    let ports = portsByCluster.get(id);
    if (ports === undefined) {
      ports = clusterPorts(service, id);
      portsByCluster.set(id, ports);
    }
    return ports;
  };
  /** The ports a target in `id` serves: the asked one (if that cluster has it) or all of its own. */
  const servedPorts = (id: ClusterId): ServicePort[] => {
    const own = portsOf(id);
    if (port === undefined) return [...own.values()];
    const match = own.get(`${port.name}/${port.protocol}`);
    return match === undefined ? [] : [match];
  };
  const seen = new Set<string>();
  let full = false;
  const push = (target: string, number: number, weight: number): void => {
    const key = `${target} ${number}`;
    if (seen.has(key)) return;
    seen.add(key);
    full = !b.addAnswer({ name: ownerOf(b.question), ttl, type: 'SRV', priority: SRV_PRIORITY, weight, port: number, target });
  };
  const weights = new Map(service.backends.map((x) => [x.cluster, weightOf(x)]));
  const additionalSeen = new Map<string, AddressSet>();
  const addAdditional = (target: string, addresses: readonly string[]): void => {
    let targetSeen = additionalSeen.get(target);
    if (targetSeen === undefined) {
      targetSeen = new AddressSet();
      additionalSeen.set(target, targetSeen);
    }
    for (const address of addresses) {
      const canonical = targetSeen.add(address);
      if (canonical !== undefined && !b.addAdditional(addressRecord(target, canonical, ttl))) return;
    }
  };

  const headless = b.trace.headless;
  if (service.type === 'Headless' && headless !== undefined) {
    for (const e of headless.endpoints) {
      if (full) break;
      if (!e.included || (cluster !== undefined ? e.cluster !== cluster : e.drained)) continue;
      const ports = servedPorts(e.cluster);
      if (ports.length === 0) continue;
      const target = `${e.label}.${e.cluster}.${base}`;
      // RFC 2782 weights are per target: each pod carries its cluster's weight.
      for (const p of ports) if (!full) push(target, p.port, weights.get(e.cluster) ?? DEFAULT_WEIGHT);
      addAdditional(target, e.addresses);
    }
  } else {
    const weighted = cluster === undefined ? weightedTargets(b, service) : undefined;
    if (weighted !== undefined) {
      // Each serving cluster's own name, with its weight, so SRV clients split by weight themselves.
      for (const id of weighted) {
        if (full) break;
        const target = `${id}.${base}`;
        const ports = servedPorts(id);
        for (const p of ports) if (!full) push(target, p.port, weights.get(id) ?? DEFAULT_WEIGHT);
        if (ports.length === 0) continue;
        for (const family of ['IPv4', 'IPv6'] as const) addAdditional(target, familyAddresses(b, service, id, undefined, family).addresses);
      }
    } else {
      const target = cluster === undefined ? base : `${cluster}.${base}`;
      const ports = cluster !== undefined ? servedPorts(cluster) : port === undefined ? service.ports : [port];
      const weight = cluster === undefined ? SRV_WEIGHT : (weights.get(cluster) ?? DEFAULT_WEIGHT);
      for (const p of ports) if (!full) push(target, p.port, weight);
      if (b.records.length > 0) {
        for (const family of ['IPv4', 'IPv6'] as const) {
          addAdditional(target, familyAddresses(b, service, cluster, undefined, family).addresses);
        }
      }
    }
  }
  if (b.records.length > 0) b.rotation = 'rotate';
}

/**
 * The clusters a service-wide ClusterSetIP SRV answer names one by one: those its policy serves
 * (either family), when they weigh differently and cluster-specific names exist to point at.
 * Undefined otherwise (equal weights, a clusterset VIP, or --no-cluster-names): the one
 * service-name target then stands for them all.
 */
function weightedTargets(b: Builder, service: ServiceEntry): ClusterId[] | undefined {
  if (!b.opts.clusterNames || service.vips.length > 0) return undefined;
  const serving = new Map<ClusterId, number>();
  for (const family of ['IPv4', 'IPv6'] as const) {
    const selection = selectClusterSetIPs(service, b.snapshot.localCluster, family, b.opts, b.snapshot.localPlace);
    for (const d of selection.clusters) if (d.included) serving.set(d.cluster, d.weight);
  }
  const weights = [...serving.values()];
  if (weights.length < 2 || allEqual(weights)) return undefined;
  return [...serving.keys()].sort();
}
