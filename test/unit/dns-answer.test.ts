/**
 * DESIGN.md's DNS table, row by row, against the pure answer() (CoreDNS lookup_test style:
 * {qname, qtype, rcode, answer, ns, extra, ede}). The same rows run through real sockets with
 * `dig` in test/e2e/dns-table.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { DnsOptions } from '../../src/config/options.ts';
import { answer } from '../../src/dns/answer.ts';
import { EdeCode, QClass, QType, Rcode, type ResourceRecord, type Rotation } from '../../src/dns/types.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { BIG_HEADLESS_SIZE, OPTIONS, STALE_WEST, fixtureSnapshot } from '../helpers/dns-fixture.ts';

const Z = 'clusterset.local';
const NEG = `${Z}. 7 SOA ns.dns.${Z}. hostmaster.${Z}. 42 7200 1800 86400 7`;
const NEG2 = `mcs.example. 7 SOA ns.dns.mcs.example. hostmaster.mcs.example. 42 7200 1800 86400 7`;

/** Test-local presentation, independent of the explain renderer. */
function show(rr: ResourceRecord): string {
  const head = `${rr.name}. ${rr.ttl} ${rr.type}`;
  switch (rr.type) {
    case 'A':
    case 'AAAA':
      return `${head} ${rr.address}`;
    case 'SRV':
      return `${head} ${rr.priority} ${rr.weight} ${rr.port} ${rr.target}.`;
    case 'TXT':
      return `${head} "${rr.text}"`;
    case 'NS':
      return `${head} ${rr.ns}.`;
    case 'SOA':
      return `${head} ${rr.mname}. ${rr.rname}. ${rr.serial} ${rr.refresh} ${rr.retry} ${rr.expire} ${rr.minimum}`;
  }
}

interface Row {
  qname: string;
  qtype: number;
  rcode: number;
  answer?: string[];
  ns?: string[];
  extra?: string[];
  /** Substrings that must each appear in an EDE text; omitted = no EDE at all. */
  ede?: string[];
  rotation?: Rotation;
  /** Each answer record's share of first positions; omitted = the answer carries none (equal). */
  weights?: number[];
  opts?: Partial<DnsOptions>;
  snapshot?: Snapshot;
}

const base = fixtureSnapshot();

function run(rows: Row[]): void {
  it.each(rows.map((r) => [`${r.qname} ${typeName(r.qtype)}${r.opts ? ` ${JSON.stringify(r.opts)}` : ''}`, r] as const))('%s', (_title, row) => {
    const a = answer(row.snapshot ?? base, { labels: row.qname.split('.'), qtype: row.qtype, qclass: QClass.IN }, { ...OPTIONS, ...row.opts });
    expect({ rcode: a.rcode, answer: a.answer.map(show), ns: a.authority.map(show), extra: a.additional.map(show) }).toEqual({
      rcode: row.rcode,
      answer: row.answer ?? [],
      ns: row.ns ?? [],
      extra: row.extra ?? [],
    });
    expect(a.authoritative).toBe(true);
    if (row.ede === undefined) expect(a.ede).toEqual([]);
    for (const text of row.ede ?? []) expect(a.ede.map((e) => e.text).join(' | ')).toContain(text);
    if (row.rotation !== undefined) expect(a.rotation).toBe(row.rotation);
    expect(a.weights).toEqual(row.weights);
  });
}

function typeName(qtype: number): string {
  return Object.entries(QType).find(([, v]) => v === qtype)?.[0] ?? String(qtype);
}

describe('zone apex, dns-version and structural names', () => {
  run([
    { qname: Z, qtype: QType.SOA, rcode: Rcode.NOERROR, answer: [`${Z}. 5 SOA ns.dns.${Z}. hostmaster.${Z}. 42 7200 1800 86400 7`] },
    { qname: Z, qtype: QType.NS, rcode: Rcode.NOERROR, answer: [`${Z}. 5 NS ns.dns.${Z}.`] },
    { qname: Z, qtype: QType.ANY, rcode: Rcode.NOERROR, answer: [`${Z}. 5 SOA ns.dns.${Z}. hostmaster.${Z}. 42 7200 1800 86400 7`, `${Z}. 5 NS ns.dns.${Z}.`] },
    { qname: Z, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: 'mcs.example', qtype: QType.NS, rcode: Rcode.NOERROR, answer: ['mcs.example. 5 NS ns.dns.mcs.example.'] },
    { qname: `dns-version.${Z}`, qtype: QType.TXT, rcode: Rcode.NOERROR, answer: [`dns-version.${Z}. 28800 TXT "1.0.0"`] },
    { qname: `dns-version.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `x.dns-version.${Z}`, qtype: QType.TXT, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no such name'] },
    { qname: `ns.dns.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `dns.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `foo.dns.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no such name under dns'] },
    { qname: `svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `billing.svc.${Z}`, qtype: QType.SRV, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `nope.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['namespace nope has no exported service'] },
    { qname: `other.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no such name'] },
  ]);
});

describe('ClusterSetIP without VIP: local-first (default)', () => {
  run([
    { qname: `web.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`web.shop.svc.${Z}. 5 A 10.1.0.10`] },
    { qname: `web.shop.svc.mcs.example`, qtype: QType.A, rcode: Rcode.NOERROR, answer: ['web.shop.svc.mcs.example. 5 A 10.1.0.10'] },
    { qname: `web.shop.svc.${Z}`, qtype: QType.AAAA, rcode: Rcode.NOERROR, ns: [NEG], ede: ['shop/web has no IPv6 address'] },
    { qname: `web.shop.svc.${Z}`, qtype: QType.TXT, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `web.shop.svc.${Z}`, qtype: QType.MX, rcode: Rcode.NOERROR, ns: [NEG] },
    {
      qname: `remote.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      answer: [`remote.shop.svc.${Z}. 5 A 10.4.0.30`, `remote.shop.svc.${Z}. 5 A 10.2.0.30`],
      rotation: 'rotate',
    },
    {
      qname: `failover.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      answer: [`failover.shop.svc.${Z}. 5 A 10.4.0.40`],
      ede: ['local cluster east unavailable (unhealthy: no ready endpoints (0 of 1 ready)), answering remote clusters'],
    },
    {
      qname: `down.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      ns: [NEG],
      ede: [`no healthy cluster: east: no ready endpoints (0 of 1 ready); west: ${STALE_WEST}`],
    },
    { qname: `nope.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['service shop/nope is not exported by any cluster'] },
    { qname: `web.nope.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['service nope/web is not exported by any cluster (namespace nope has none)'] },
    { qname: `pay.billing.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`pay.billing.svc.${Z}. 5 A 10.2.0.90`] },
  ]);
});

describe('ClusterSetIP without VIP: policies and panic modes', () => {
  run([
    {
      qname: `web.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      answer: [`web.shop.svc.${Z}. 5 A 10.1.0.10`, `web.shop.svc.${Z}. 5 A 10.3.0.10`],
      rotation: 'rotate',
      opts: { policy: 'all' },
    },
    {
      qname: `web.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      answer: [`web.shop.svc.${Z}. 5 A 10.1.0.10`, `web.shop.svc.${Z}. 5 A 10.3.0.10`],
      rotation: 'pick-one',
      opts: { policy: 'round-robin' },
    },
    {
      qname: `failover.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      answer: [`failover.shop.svc.${Z}. 5 A 10.4.0.40`],
      opts: { policy: 'all' },
    },
    {
      qname: `down.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      answer: [`down.shop.svc.${Z}. 5 A 10.1.0.50`, `down.shop.svc.${Z}. 5 A 10.2.0.50`],
      ede: ['degraded, no healthy cluster, answering all: east: no ready endpoints'],
      opts: { panicMode: 'all' },
    },
    { qname: `down.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG], opts: { ede: false } },
  ]);
});

describe('ClusterSetIP with VIP, and dual stack', () => {
  run([
    { qname: `api.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`api.shop.svc.${Z}. 5 A 242.0.0.1`] },
    { qname: `api.shop.svc.${Z}`, qtype: QType.AAAA, rcode: Rcode.NOERROR, answer: [`api.shop.svc.${Z}. 5 AAAA fd00:242::1`] },
    {
      qname: `api.shop.svc.${Z}`,
      qtype: QType.ANY,
      rcode: Rcode.NOERROR,
      answer: [`api.shop.svc.${Z}. 5 A 242.0.0.1`, `api.shop.svc.${Z}. 5 AAAA fd00:242::1`],
    },
    {
      qname: `vipdown.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      answer: [`vipdown.shop.svc.${Z}. 5 A 242.0.0.2`],
      ede: ['degraded, answered the clusterset VIP but no healthy cluster: east: no ready endpoints (0 of 1 ready)'],
    },
    { qname: `vipdown.shop.svc.${Z}`, qtype: QType.AAAA, rcode: Rcode.NOERROR, ns: [NEG], ede: ['shop/vipdown has no IPv6 clusterset VIP'] },
    {
      qname: `_grpc._tcp.api.shop.svc.${Z}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [`_grpc._tcp.api.shop.svc.${Z}. 5 SRV 0 100 8080 api.shop.svc.${Z}.`],
      extra: [`api.shop.svc.${Z}. 5 A 242.0.0.1`, `api.shop.svc.${Z}. 5 AAAA fd00:242::1`],
    },
    { qname: `east.api.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`east.api.shop.svc.${Z}. 5 A 10.1.0.20`] },
    { qname: `dual.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`dual.shop.svc.${Z}. 5 A 10.1.0.60`] },
    { qname: `dual.shop.svc.${Z}`, qtype: QType.AAAA, rcode: Rcode.NOERROR, answer: [`dual.shop.svc.${Z}. 5 AAAA fd00:1::60`] },
    {
      qname: `dual.shop.svc.${Z}`,
      qtype: QType.ANY,
      rcode: Rcode.NOERROR,
      answer: [`dual.shop.svc.${Z}. 5 A 10.1.0.60`, `dual.shop.svc.${Z}. 5 AAAA fd00:1::60`],
    },
    { qname: `v6only.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG], ede: ['shop/v6only has no IPv4 address'] },
    { qname: `v6only.shop.svc.${Z}`, qtype: QType.AAAA, rcode: Rcode.NOERROR, answer: [`v6only.shop.svc.${Z}. 5 AAAA fd00:1::70`] },
  ]);
});

describe('cluster-specific names <cluster>.<svc> (one- and two-label cluster IDs)', () => {
  run([
    { qname: `east.web.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`east.web.shop.svc.${Z}. 5 A 10.1.0.10`] },
    {
      qname: `west.web.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      answer: [`west.web.shop.svc.${Z}. 5 A 10.2.0.10`],
      ede: [`degraded, cluster west is unhealthy (${STALE_WEST}), answered because it was asked for by name`],
    },
    { qname: `eu.prod.web.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`eu.prod.web.shop.svc.${Z}. 5 A 10.3.0.10`] },
    // `prod.web` is an empty non-terminal above cluster `eu.prod`.
    { qname: `prod.web.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `north.web.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no cluster north exports shop/web'] },
    { qname: `x.east.web.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['shop/web is a ClusterSetIP service: it has no per-endpoint names'] },
    { qname: `east.web.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['cluster-specific names are disabled'], opts: { clusterNames: false } },
    { qname: `east.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`east.db.shop.svc.${Z}. 5 A 10.1.1.1`, `east.db.shop.svc.${Z}. 5 A 10.1.1.2`] },
    { qname: `west.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: [`cluster west serves no endpoint: unhealthy: ${STALE_WEST}`] },
    // With cluster names off, `<cluster>.<headless svc>` is only the parent of endpoint names.
    { qname: `east.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG], opts: { clusterNames: false } },
    // `eu.prod` is a cluster (wins) and also `eu` is a host in cluster `prod`.
    { qname: `eu.prod.amb.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`eu.prod.amb.shop.svc.${Z}. 5 A 10.6.0.1`] },
    { qname: `eu.prod.amb.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`eu.prod.amb.shop.svc.${Z}. 5 A 10.5.0.1`], opts: { clusterNames: false } },
    { qname: `x.eu.prod.amb.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`x.eu.prod.amb.shop.svc.${Z}. 5 A 10.6.0.1`] },
    { qname: `prod.amb.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`prod.amb.shop.svc.${Z}. 5 A 10.5.0.1`] },
    { qname: `prod.amb.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG], opts: { clusterNames: false } },
  ]);
});

describe('headless services and <host>.<cluster>.<svc>', () => {
  run([
    {
      qname: `db.shop.svc.${Z}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      answer: [`db.shop.svc.${Z}. 5 A 10.1.1.1`, `db.shop.svc.${Z}. 5 A 10.1.1.2`],
      rotation: 'rotate',
    },
    { qname: `db.shop.svc.${Z}`, qtype: QType.AAAA, rcode: Rcode.NOERROR, answer: [`db.shop.svc.${Z}. 5 AAAA fd00:3::1`] },
    { qname: `cold.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no ready endpoint for shop/cold: east: no ready endpoints (0 of 1 ready)'] },
    { qname: `cold.shop.svc.${Z}`, qtype: QType.AAAA, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no ready endpoint for shop/cold'] },
    { qname: `cold-0.east.cold.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no ready endpoint for shop/cold'] },
    { qname: `db-0.east.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`db-0.east.db.shop.svc.${Z}. 5 A 10.1.1.1`] },
    { qname: `db-0.east.db.shop.svc.${Z}`, qtype: QType.AAAA, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `10-1-1-2.east.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`10-1-1-2.east.db.shop.svc.${Z}. 5 A 10.1.1.2`] },
    { qname: `db-5.eu.prod.db.shop.svc.${Z}`, qtype: QType.AAAA, rcode: Rcode.NOERROR, answer: [`db-5.eu.prod.db.shop.svc.${Z}. 5 AAAA fd00:3::1`] },
    { qname: `db-0.east.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`db-0.east.db.shop.svc.${Z}. 5 A 10.1.1.1`], opts: { clusterNames: false } },
    { qname: `db-2.east.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['endpoint db-2 in cluster east: not ready'] },
    { qname: `db-0.west.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: [`endpoint db-0 in cluster west: cluster excluded: ${STALE_WEST}`] },
    { qname: `nobody.east.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no endpoint named nobody in cluster east for shop/db'] },
    { qname: `db-0.north.db.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no cluster db-0.north or north exports shop/db'] },
  ]);
  it(`answers all ${BIG_HEADLESS_SIZE} ready endpoints of a big headless service (the server trims for UDP)`, () => {
    const a = answer(base, { labels: `big.shop.svc.${Z}`.split('.'), qtype: QType.A, qclass: QClass.IN }, OPTIONS);
    expect(a.answer).toHaveLength(BIG_HEADLESS_SIZE);
    expect(a.rotation).toBe('rotate');
  });
});

const srvWeb = (target: string, port: number): string => `${target}. 5 SRV 0 100 ${port} ${target}.`;
describe('SRV', () => {
  const web = `web.shop.svc.${Z}`;
  run([
    {
      qname: `_http._tcp.${web}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [`_http._tcp.${web}. 5 SRV 0 100 80 ${web}.`],
      extra: [`${web}. 5 A 10.1.0.10`],
    },
    {
      qname: `_http._tcp.east.${web}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [`_http._tcp.east.${web}. 5 SRV 0 100 80 east.${web}.`],
      extra: [`east.${web}. 5 A 10.1.0.10`],
    },
    {
      qname: `_metrics._tcp.eu.prod.${web}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [`_metrics._tcp.eu.prod.${web}. 5 SRV 0 100 9090 eu.prod.${web}.`],
      extra: [`eu.prod.${web}. 5 A 10.3.0.10`],
    },
    {
      qname: web,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [`${web}. 5 SRV 0 100 80 ${web}.`, `${web}. 5 SRV 0 100 9090 ${web}.`],
      extra: [`${web}. 5 A 10.1.0.10`],
    },
    {
      qname: `dns.shop.svc.${Z}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [srvWeb(`dns.shop.svc.${Z}`, 53)],
      extra: [`dns.shop.svc.${Z}. 5 A 10.1.0.80`],
    },
    {
      qname: `_postgres._tcp.db.shop.svc.${Z}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [
        `_postgres._tcp.db.shop.svc.${Z}. 5 SRV 0 100 15432 db-0.east.db.shop.svc.${Z}.`,
        `_postgres._tcp.db.shop.svc.${Z}. 5 SRV 0 100 15432 10-1-1-2.east.db.shop.svc.${Z}.`,
        `_postgres._tcp.db.shop.svc.${Z}. 5 SRV 0 100 5432 db-5.eu.prod.db.shop.svc.${Z}.`,
      ],
      extra: [
        `db-0.east.db.shop.svc.${Z}. 5 A 10.1.1.1`,
        `10-1-1-2.east.db.shop.svc.${Z}. 5 A 10.1.1.2`,
        `db-5.eu.prod.db.shop.svc.${Z}. 5 AAAA fd00:3::1`,
      ],
      rotation: 'rotate',
    },
    {
      qname: `_postgres._tcp.east.db.shop.svc.${Z}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [
        `_postgres._tcp.east.db.shop.svc.${Z}. 5 SRV 0 100 15432 db-0.east.db.shop.svc.${Z}.`,
        `_postgres._tcp.east.db.shop.svc.${Z}. 5 SRV 0 100 15432 10-1-1-2.east.db.shop.svc.${Z}.`,
      ],
      extra: [`db-0.east.db.shop.svc.${Z}. 5 A 10.1.1.1`, `10-1-1-2.east.db.shop.svc.${Z}. 5 A 10.1.1.2`],
    },
    {
      qname: `db.shop.svc.${Z}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [
        `db.shop.svc.${Z}. 5 SRV 0 100 15432 db-0.east.db.shop.svc.${Z}.`,
        `db.shop.svc.${Z}. 5 SRV 0 100 15432 10-1-1-2.east.db.shop.svc.${Z}.`,
        `db.shop.svc.${Z}. 5 SRV 0 100 5432 db-5.eu.prod.db.shop.svc.${Z}.`,
      ],
      extra: [
        `db-0.east.db.shop.svc.${Z}. 5 A 10.1.1.1`,
        `10-1-1-2.east.db.shop.svc.${Z}. 5 A 10.1.1.2`,
        `db-5.eu.prod.db.shop.svc.${Z}. 5 AAAA fd00:3::1`,
      ],
    },
    { qname: `_http._tcp.${web}`, qtype: QType.A, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `_tcp.${web}`, qtype: QType.SRV, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `_tcp.east.${web}`, qtype: QType.SRV, rcode: Rcode.NOERROR, ns: [NEG] },
    { qname: `_udp.${web}`, qtype: QType.SRV, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['shop/web has no named UDP port'] },
    { qname: `_http._udp.${web}`, qtype: QType.SRV, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['shop/web has no port named http with protocol UDP'] },
    { qname: `_nope._tcp.${web}`, qtype: QType.SRV, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['has no port named nope'] },
    { qname: `_http._xyz.${web}`, qtype: QType.SRV, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['unknown protocol label _xyz'] },
    { qname: `_http._tcp.north.${web}`, qtype: QType.SRV, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no cluster north exports shop/web'] },
    { qname: `_http._tcp.east.${web}`, qtype: QType.SRV, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['cluster-specific names are disabled'], opts: { clusterNames: false } },
    { qname: `_postgres._tcp.west.db.shop.svc.${Z}`, qtype: QType.SRV, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['cluster west serves no endpoint'] },
    { qname: `_http._tcp.cold.shop.svc.${Z}`, qtype: QType.SRV, rcode: Rcode.NXDOMAIN, ns: [NEG], ede: ['no ready endpoint for shop/cold'] },
    {
      qname: `_http._tcp.down.shop.svc.${Z}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [`_http._tcp.down.shop.svc.${Z}. 5 SRV 0 100 80 down.shop.svc.${Z}.`],
      ede: ['no healthy cluster'],
    },
  ]);
});

describe('traffic policy per service: annotations, weights, topology (issue 14)', () => {
  const T = `traffic.svc.${Z}`;
  run([
    // Its own `all` overrides the global local-first; east (300) is first 3x as often as north (100);
    // eu.prod is drained (weight 0): left out service-wide, still answered by its own name.
    { qname: `split.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`split.${T}. 5 A 10.1.7.1`, `split.${T}. 5 A 10.4.7.1`], rotation: 'rotate', weights: [300, 100] },
    { qname: `split.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, opts: { policy: 'round-robin' }, answer: [`split.${T}. 5 A 10.1.7.1`, `split.${T}. 5 A 10.4.7.1`], rotation: 'rotate', weights: [300, 100] },
    { qname: `eu.prod.split.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`eu.prod.split.${T}. 5 A 10.3.7.1`] },
    // SRV: clusters that weigh differently are named one by one with their weights (RFC 2782), the
    // drained one left out; a cluster-specific target carries its cluster's weight (0 when drained).
    {
      qname: `_http._tcp.split.${T}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [`_http._tcp.split.${T}. 5 SRV 0 300 80 east.split.${T}.`, `_http._tcp.split.${T}. 5 SRV 0 100 80 north.split.${T}.`],
      extra: [`east.split.${T}. 5 A 10.1.7.1`, `north.split.${T}. 5 A 10.4.7.1`],
    },
    // Without cluster-specific names there is nothing to point at: the one service-name target.
    { qname: `_http._tcp.split.${T}`, qtype: QType.SRV, rcode: Rcode.NOERROR, opts: { clusterNames: false }, answer: [`_http._tcp.split.${T}. 5 SRV 0 100 80 split.${T}.`], extra: [`split.${T}. 5 A 10.1.7.1`, `split.${T}. 5 A 10.4.7.1`] },
    // Equal weights keep the one service-name target.
    { qname: `_http._tcp.drained.${T}`, qtype: QType.SRV, rcode: Rcode.NOERROR, answer: [`_http._tcp.drained.${T}. 5 SRV 0 100 80 drained.${T}.`], extra: [`drained.${T}. 5 A 10.4.7.2`, `drained.${T}. 5 A 10.5.7.2`], ede: ['every usable cluster is drained'] },
    { qname: `_http._tcp.east.split.${T}`, qtype: QType.SRV, rcode: Rcode.NOERROR, answer: [`_http._tcp.east.split.${T}. 5 SRV 0 300 80 east.split.${T}.`], extra: [`east.split.${T}. 5 A 10.1.7.1`] },
    { qname: `_http._tcp.eu.prod.split.${T}`, qtype: QType.SRV, rcode: Rcode.NOERROR, answer: [`_http._tcp.eu.prod.split.${T}. 5 SRV 0 0 80 eu.prod.split.${T}.`], extra: [`eu.prod.split.${T}. 5 A 10.3.7.1`] },
    // Every usable cluster drained: all answer (equal shares), and an EDE says so.
    { qname: `drained.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`drained.${T}. 5 A 10.4.7.2`, `drained.${T}. 5 A 10.5.7.2`], rotation: 'rotate', ede: ['every usable cluster is drained (weight 0)'] },
    // remote-first: the healthy remote only; the local cluster only when no remote is usable.
    { qname: `away.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`away.${T}. 5 A 10.4.7.3`] },
    { qname: `homebound.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`homebound.${T}. 5 A 10.1.7.4`], ede: ['no remote cluster available, answering local cluster east'] },
    // nearest: local down → the same zone; same zone down → the same region; place unknown → all.
    { qname: `near.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`near.${T}. 5 A 10.4.7.5`], ede: ['answering the nearest clusters (zone eu-west-1a)'] },
    { qname: `region.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`region.${T}. 5 A 10.5.7.6`] },
    {
      qname: `region.${T}`,
      qtype: QType.A,
      rcode: Rcode.NOERROR,
      snapshot: fixtureSnapshot({ localPlace: {} }),
      answer: [`region.${T}. 5 A 10.8.7.6`, `region.${T}. 5 A 10.5.7.6`],
      rotation: 'rotate',
    },
    // The global --policy nearest applies to services without their own policy.
    { qname: `remote.shop.svc.${Z}`, qtype: QType.A, rcode: Rcode.NOERROR, opts: { policy: 'nearest' }, answer: [`remote.shop.svc.${Z}. 5 A 10.4.0.30`, `remote.shop.svc.${Z}. 5 A 10.2.0.30`], rotation: 'rotate' },
    // Headless: the drained cluster's pods leave service-wide answers, keep their own names; SRV
    // targets carry their cluster's weight.
    { qname: `pods.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`pods.${T}. 5 A 10.1.8.1`, `pods.${T}. 5 A 10.1.8.2`], rotation: 'rotate' },
    { qname: `mixed.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`mixed.${T}. 5 A 10.1.9.1`, `mixed.${T}. 5 A 10.4.9.1`, `mixed.${T}. 5 A 10.4.9.2`], rotation: 'rotate', weights: [300, 50, 50] },
    { qname: `p-0.north.pods.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`p-0.north.pods.${T}. 5 A 10.4.8.1`] },
    { qname: `north.pods.${T}`, qtype: QType.A, rcode: Rcode.NOERROR, answer: [`north.pods.${T}. 5 A 10.4.8.1`] },
    {
      qname: `_http._tcp.pods.${T}`,
      qtype: QType.SRV,
      rcode: Rcode.NOERROR,
      answer: [`_http._tcp.pods.${T}. 5 SRV 0 200 80 p-0.east.pods.${T}.`, `_http._tcp.pods.${T}. 5 SRV 0 200 80 p-1.east.pods.${T}.`],
      extra: [`p-0.east.pods.${T}. 5 A 10.1.8.1`, `p-1.east.pods.${T}. 5 A 10.1.8.2`],
    },
  ]);
});

describe('names that cannot be ours', () => {
  it('labels containing a dot are never re-split: inside the zone NXDOMAIN, as a zone label REFUSED', () => {
    const inZone = answer(base, { labels: ['web.shop', 'svc', 'clusterset', 'local'], qtype: QType.A, qclass: QClass.IN }, OPTIONS);
    expect(inZone.rcode).toBe(Rcode.NXDOMAIN);
    expect(inZone.ede[0]?.text).toContain('not a plain DNS label');
    const zoneLabel = answer(base, { labels: ['web', 'shop', 'svc', 'clusterset.local'], qtype: QType.A, qclass: QClass.IN }, OPTIONS);
    expect(zoneLabel.rcode).toBe(Rcode.REFUSED);
    const binary = answer(base, { labels: ['w\x00b', 'shop', 'svc', 'clusterset', 'local'], qtype: QType.A, qclass: QClass.IN }, OPTIONS);
    expect(binary.rcode).toBe(Rcode.NXDOMAIN);
  });

  it('names outside every zone are REFUSED, not authoritative, with no records', () => {
    for (const name of ['example.com', 'local', 'svc.cluster.local', 'web.shop.svc.clusterset.local.evil']) {
      const a = answer(base, { labels: name.split('.'), qtype: QType.A, qclass: QClass.IN }, OPTIONS);
      expect({ rcode: a.rcode, aa: a.authoritative, answer: a.answer, ns: a.authority }).toEqual({ rcode: Rcode.REFUSED, aa: false, answer: [], ns: [] });
      expect(a.ede).toEqual([{ code: EdeCode.NOT_AUTHORITATIVE, text: 'not authoritative: the name is outside the served zones' }]);
    }
  });

  it('class other than IN is REFUSED; AXFR REFUSED; a question of type OPT is FORMERR', () => {
    const q = (qtype: number, qclass: number) => answer(base, { labels: `web.shop.svc.${Z}`.split('.'), qtype, qclass }, OPTIONS);
    expect(q(QType.A, QClass.CH).rcode).toBe(Rcode.REFUSED);
    expect(q(QType.A, QClass.ANY).answer).toHaveLength(1);
    expect(q(252, QClass.IN).rcode).toBe(Rcode.REFUSED);
    expect(q(QType.OPT, QClass.IN).rcode).toBe(Rcode.FORMERR);
  });
});

describe('sync state, stale source, SOA serial', () => {
  const unsynced = fixtureSnapshot({ synced: false });
  it('answers SERVFAIL (never NXDOMAIN) inside the zones before the first sync, with EDE Not Ready', () => {
    for (const name of [`web.shop.svc.${Z}`, `nope.shop.svc.${Z}`, Z]) {
      const a = answer(unsynced, { labels: name.split('.'), qtype: QType.A, qclass: QClass.IN }, OPTIONS);
      expect(a.rcode).toBe(Rcode.SERVFAIL);
      expect(a.answer).toEqual([]);
      expect(a.ede.map((e) => e.code)).toEqual([EdeCode.NOT_READY]);
    }
    expect(answer(unsynced, { labels: ['example', 'com'], qtype: QType.A, qclass: QClass.IN }, OPTIONS).rcode).toBe(Rcode.REFUSED);
  });

  it('keeps answering from a stale source and says so with EDE Stale Answer', () => {
    const stale = fixtureSnapshot({ staleSource: { reason: 'broker unreachable: ECONNREFUSED', since: Date.UTC(2026, 0, 1) } });
    for (const name of [`web.shop.svc.${Z}`, `nope.shop.svc.${Z}`]) {
      const a = answer(stale, { labels: name.split('.'), qtype: QType.A, qclass: QClass.IN }, OPTIONS);
      expect(a.ede).toContainEqual({ code: EdeCode.STALE_ANSWER, text: 'stale: broker unreachable: ECONNREFUSED (since 2026-01-01T00:00:00.000Z)' });
    }
    expect(answer(stale, { labels: `web.shop.svc.${Z}`.split('.'), qtype: QType.A, qclass: QClass.IN }, OPTIONS).answer).toHaveLength(1);
  });

  it('uses the snapshot version as SOA serial, wrapped to 32 bits', () => {
    const a = answer(fixtureSnapshot({}, 2 ** 32 + 9), { labels: [Z.split('.')].flat(), qtype: QType.SOA, qclass: QClass.IN }, OPTIONS);
    expect(a.answer[0]).toMatchObject({ type: 'SOA', serial: 9 });
  });

  it('carries no EDE when EDE is disabled', () => {
    const a = answer(base, { labels: `nope.shop.svc.${Z}`.split('.'), qtype: QType.A, qclass: QClass.IN }, { ...OPTIONS, ede: false });
    expect(a.rcode).toBe(Rcode.NXDOMAIN);
    expect(a.ede).toEqual([]);
  });
});

describe('all answers inside a zone', () => {
  it('are authoritative and negative ones carry exactly the SOA with TTL = negative TTL', () => {
    const names = [`nope.shop.svc.${Z}`, `web.shop.svc.${Z}`, `db.shop.svc.${Z}`, `svc.${Z}`];
    for (const name of names) {
      for (const qtype of [QType.A, QType.AAAA, QType.TXT, QType.SRV]) {
        const a = answer(base, { labels: name.split('.'), qtype, qclass: QClass.IN }, OPTIONS);
        expect(a.authoritative).toBe(true);
        if (a.answer.length === 0) expect(a.authority.map(show)).toEqual([NEG]);
        else expect(a.authority).toEqual([]);
      }
    }
    expect(NEG2).toContain('mcs.example');
    const other = answer(base, { labels: 'nope.shop.svc.mcs.example'.split('.'), qtype: QType.A, qclass: QClass.IN }, OPTIONS);
    expect(other.authority.map(show)).toEqual([NEG2]);
  });
});
