/**
 * Answer building under huge or odd input (issue 9): linear de-duplication, the records-per-answer
 * cap, canonical-form de-duplication, and cluster-specific SRV names answering with that cluster's
 * own ports only.
 */
import { describe, expect, it } from 'vitest';
import { answer } from '../../src/dns/answer.ts';
import { QClass, QType, Rcode, type ResourceRecord } from '../../src/dns/types.ts';
import { buildSnapshot } from '../../src/model/snapshot-build.ts';
import type { Endpoint } from '../../src/model/types.ts';
import { LOCAL, OPTIONS, ep, imported, port } from '../helpers/dns-fixture.ts';

const Z = 'clusterset.local';
const q = (name: string, qtype: number) => ({ labels: name.split('.'), qtype, qclass: QClass.IN });

function snapshotOf(parts: ReturnType<typeof imported>[]) {
  return buildSnapshot({ synced: true, services: parts.map((p) => p.service), slices: parts.flatMap((p) => p.slices) }, LOCAL, 1, 0);
}

/** 1,000 endpoints × 100 addresses, as one EndpointSlice may legally carry. */
function hugeEndpoints(): Endpoint[] {
  return Array.from({ length: 1000 }, (_, i) =>
    ep(Array.from({ length: 100 }, (_, j) => `10.${Math.floor(i / 250) + 10}.${i % 250}.${j + 1}`)),
  );
}

const addressesOf = (records: readonly ResourceRecord[]): string[] =>
  records.map((r) => (r.type === 'A' || r.type === 'AAAA' ? r.address : `${r.type}?`));

describe('answers for huge services', () => {
  it('builds a headless answer over 100,000 addresses in one pass, capped at maxRecords', () => {
    const snapshot = snapshotOf([imported('big', 'flood', 'Headless', [port('http', 80)], { east: { endpoints: hugeEndpoints() } })]);
    const result = answer(snapshot, q(`flood.big.svc.${Z}`, QType.A), { ...OPTIONS, maxRecords: 4000 });
    expect(result.rcode).toBe(Rcode.NOERROR);
    expect(result.answer).toHaveLength(4000);
    const addresses = addressesOf(result.answer);
    expect(new Set(addresses).size).toBe(4000);
    // The first records are the first endpoints' addresses, in slice order.
    expect(addresses.slice(0, 2)).toEqual(['10.10.0.1', '10.10.0.2']);
    expect(result.ede.some((e) => e.text.includes('capped at 4000'))).toBe(true);
  });

  it('answers every address when 100,000 addresses are mostly duplicates', () => {
    // Each endpoint repeats the same 10 addresses: a quadratic de-dup would compare 10^10 pairs.
    const endpoints = Array.from({ length: 10_000 }, () => ep(Array.from({ length: 10 }, (_, j) => `10.0.0.${j + 1}`)));
    const snapshot = snapshotOf([imported('big', 'dup', 'Headless', [port('http', 80)], { east: { endpoints } })]);
    const result = answer(snapshot, q(`dup.big.svc.${Z}`, QType.A), OPTIONS);
    expect(addressesOf(result.answer).sort()).toEqual(Array.from({ length: 10 }, (_, j) => `10.0.0.${j + 1}`).sort());
  });

  it('caps SRV targets and their additional records of a huge headless service', () => {
    const snapshot = snapshotOf([imported('big', 'flood', 'Headless', [port('http', 80)], { east: { endpoints: hugeEndpoints() } })]);
    const result = answer(snapshot, q(`_http._tcp.flood.big.svc.${Z}`, QType.SRV), { ...OPTIONS, maxRecords: 500 });
    expect(result.answer).toHaveLength(500);
    expect(result.additional).toHaveLength(500);
  });

  it('de-duplicates addresses by canonical form and answers the canonical text', () => {
    const snapshot = snapshotOf([
      imported('shop', 'six', 'Headless', [port('http', 80)], {
        east: { endpoints: [ep(['2001:DB8::1', '2001:db8:0:0::1', '2001:db8::0.0.0.1']), ep(['2001:db8::2'])] },
      }),
    ]);
    const result = answer(snapshot, q(`six.shop.svc.${Z}`, QType.AAAA), OPTIONS);
    expect(addressesOf(result.answer)).toEqual(['2001:db8::1', '2001:db8::2']);
  });
});

describe('cluster-specific SRV names answer with that cluster only', () => {
  // Merged ports: http (both clusters) and metrics (east only); west serves http on 8080.
  const snapshot = snapshotOf([
    imported('shop', 'api', 'ClusterSetIP', [port('http', 80), port('metrics', 9090)], {
      east: { endpoints: [ep(['10.1.0.1'])], ports: [port('http', 80), port('metrics', 9090)] },
      west: { endpoints: [ep(['10.2.0.1'])], ports: [port('http', 8080)] },
    }),
    imported('shop', 'db', 'Headless', [port('pg', 5432), port('metrics', 9187)], {
      east: { endpoints: [ep(['10.1.1.1'], true, 'db-0')], ports: [port('pg', 5432), port('metrics', 9187)] },
      west: { endpoints: [ep(['10.2.1.1'], true, 'db-0')], ports: [port('pg', 5432)] },
    }),
  ]);
  const srv = (name: string) => {
    const result = answer(snapshot, q(name, QType.SRV), OPTIONS);
    return { rcode: result.rcode, records: result.answer.map((r) => (r.type === 'SRV' ? `${r.port} ${r.target}` : r.type)) };
  };

  it('bare cluster-specific SRV lists only that cluster’s ports, with its port numbers', () => {
    expect(srv(`west.api.shop.svc.${Z}`)).toEqual({ rcode: Rcode.NOERROR, records: [`8080 west.api.shop.svc.${Z}`] });
    expect(srv(`east.api.shop.svc.${Z}`).records.sort()).toEqual([`80 east.api.shop.svc.${Z}`, `9090 east.api.shop.svc.${Z}`]);
  });

  it('a named port the cluster exposes gets that cluster’s number', () => {
    expect(srv(`_http._tcp.west.api.shop.svc.${Z}`)).toEqual({ rcode: Rcode.NOERROR, records: [`8080 west.api.shop.svc.${Z}`] });
  });

  it('a named port the cluster lacks is NXDOMAIN', () => {
    const result = answer(snapshot, q(`_metrics._tcp.west.api.shop.svc.${Z}`, QType.SRV), OPTIONS);
    expect(result.rcode).toBe(Rcode.NXDOMAIN);
    expect(result.ede.map((e) => e.text).join(' ')).toContain('cluster west does not expose port metrics/TCP');
    expect(answer(snapshot, q(`_metrics._tcp.west.db.shop.svc.${Z}`, QType.SRV), OPTIONS).rcode).toBe(Rcode.NXDOMAIN);
  });

  it('a service-wide headless SRV lists only targets whose cluster exposes the port', () => {
    expect(srv(`_metrics._tcp.db.shop.svc.${Z}`)).toEqual({ rcode: Rcode.NOERROR, records: [`9187 db-0.east.db.shop.svc.${Z}`] });
    expect(srv(`_pg._tcp.db.shop.svc.${Z}`).records).toHaveLength(2);
    expect(srv(`west.db.shop.svc.${Z}`).records).toEqual([`5432 db-0.west.db.shop.svc.${Z}`]);
  });
});
