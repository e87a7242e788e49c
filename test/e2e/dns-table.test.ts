/**
 * DESIGN.md's DNS table through the real server sockets, asked with the real `dig` over UDP and
 * over TCP: rcode, AA, records, SOA in authority, EDE text, TC over UDP, 0x20 case echo, OPT echo,
 * NOTIMP, REFUSED, FORMERR, SERVFAIL before the first sync.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsOptions } from '../../src/config/options.ts';
import { createLogger, createMetrics } from '../../src/observability/index.ts';
import { createDnsServer, type DnsServer } from '../../src/server/index.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { BIG_HEADLESS_SIZE, OPTIONS, STALE_WEST, fixtureSnapshot } from '../helpers/dns-fixture.ts';
import { runDig, showRecord, type DigResult } from '../helpers/dig.ts';

const Z = 'clusterset.local';
const SOA = `${Z}. 7 SOA ns.dns.${Z}. hostmaster.${Z}. 42 7200 1800 86400 7`;

function digAvailable(): void {
  try {
    execFileSync('dig', ['-v'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    throw new Error('the `dig` binary is missing: install it with `apt-get install -y bind9-dnsutils` (.ci/run does)');
  }
}

async function startServer(snapshot: Snapshot, dns: DnsOptions = OPTIONS): Promise<{ server: DnsServer; port: number }> {
  const server = createDnsServer(
    { dns, listen: { host: '127.0.0.1', port: 0 }, workers: 0, tcpIdleTimeoutMs: 5_000, tcpMaxConnections: 64 },
    { logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }) },
  );
  server.setSnapshot(snapshot);
  const { port } = await server.start();
  return { server, port };
}

const servers: DnsServer[] = [];
let port = 0;

beforeAll(async () => {
  digAvailable();
  const started = await startServer(fixtureSnapshot());
  servers.push(started.server);
  port = started.port;
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

interface Row {
  /** What the row of DESIGN.md's table is. */
  row: string;
  qname: string;
  qtype: string;
  status: string;
  /** Compared as a set: many answers are rotated per query. */
  answer?: string[];
  ns?: string[];
  extra?: string[];
  ede?: string;
}

const rows: Row[] = [
  { row: 'ClusterSetIP with VIP: A', qname: `api.shop.svc.${Z}`, qtype: 'A', status: 'NOERROR', answer: [`api.shop.svc.${Z}. 5 A 242.0.0.1`] },
  { row: 'ClusterSetIP with VIP: AAAA', qname: `api.shop.svc.${Z}`, qtype: 'AAAA', status: 'NOERROR', answer: [`api.shop.svc.${Z}. 5 AAAA fd00:242::1`] },
  { row: 'ClusterSetIP without VIP: local-first, local healthy', qname: `web.shop.svc.${Z}`, qtype: 'A', status: 'NOERROR', answer: [`web.shop.svc.${Z}. 5 A 10.1.0.10`] },
  {
    row: 'ClusterSetIP without VIP: local not exporting, every healthy remote',
    qname: `remote.shop.svc.${Z}`,
    qtype: 'A',
    status: 'NOERROR',
    answer: [`remote.shop.svc.${Z}. 5 A 10.2.0.30`, `remote.shop.svc.${Z}. 5 A 10.4.0.30`],
  },
  {
    row: 'ClusterSetIP without VIP: local unhealthy, failover with EDE',
    qname: `failover.shop.svc.${Z}`,
    qtype: 'A',
    status: 'NOERROR',
    answer: [`failover.shop.svc.${Z}. 5 A 10.4.0.40`],
    ede: 'local cluster east unavailable',
  },
  {
    row: 'ClusterSetIP without VIP: every cluster unhealthy → NODATA with EDE',
    qname: `down.shop.svc.${Z}`,
    qtype: 'A',
    status: 'NOERROR',
    ns: [SOA],
    ede: `no healthy cluster: east: no ready endpoints (0 of 1 ready); west: ${STALE_WEST}`,
  },
  { row: 'dual stack: AAAA', qname: `dual.shop.svc.${Z}`, qtype: 'AAAA', status: 'NOERROR', answer: [`dual.shop.svc.${Z}. 5 AAAA fd00:1::60`] },
  { row: '<cluster>.<svc>: healthy cluster', qname: `east.web.shop.svc.${Z}`, qtype: 'A', status: 'NOERROR', answer: [`east.web.shop.svc.${Z}. 5 A 10.1.0.10`] },
  {
    row: '<cluster>.<svc>: unhealthy cluster still answered',
    qname: `west.web.shop.svc.${Z}`,
    qtype: 'A',
    status: 'NOERROR',
    answer: [`west.web.shop.svc.${Z}. 5 A 10.2.0.10`],
    ede: 'cluster west is unhealthy',
  },
  { row: '<cluster>.<svc>: two-label cluster ID', qname: `eu.prod.web.shop.svc.${Z}`, qtype: 'A', status: 'NOERROR', answer: [`eu.prod.web.shop.svc.${Z}. 5 A 10.3.0.10`] },
  { row: '<cluster>.<svc>: cluster not exporting', qname: `north.web.shop.svc.${Z}`, qtype: 'A', status: 'NXDOMAIN', ns: [SOA], ede: 'no cluster north exports shop/web' },
  {
    row: 'headless: every ready endpoint of every healthy cluster',
    qname: `db.shop.svc.${Z}`,
    qtype: 'A',
    status: 'NOERROR',
    answer: [`db.shop.svc.${Z}. 5 A 10.1.1.1`, `db.shop.svc.${Z}. 5 A 10.1.1.2`],
  },
  { row: 'headless: none ready → NXDOMAIN', qname: `cold.shop.svc.${Z}`, qtype: 'A', status: 'NXDOMAIN', ns: [SOA], ede: 'no ready endpoint for shop/cold' },
  { row: '<host>.<cluster>.<svc>', qname: `db-0.east.db.shop.svc.${Z}`, qtype: 'A', status: 'NOERROR', answer: [`db-0.east.db.shop.svc.${Z}. 5 A 10.1.1.1`] },
  { row: '<host>.<cluster>.<svc>: hostname-less endpoint', qname: `10-1-1-2.east.db.shop.svc.${Z}`, qtype: 'A', status: 'NOERROR', answer: [`10-1-1-2.east.db.shop.svc.${Z}. 5 A 10.1.1.2`] },
  { row: '<host>.<cluster>.<svc>: not ready', qname: `db-2.east.db.shop.svc.${Z}`, qtype: 'A', status: 'NXDOMAIN', ns: [SOA], ede: 'endpoint db-2 in cluster east: not ready' },
  {
    row: 'SRV _<port>._<proto>.<svc> (ClusterSetIP) with Additional',
    qname: `_http._tcp.web.shop.svc.${Z}`,
    qtype: 'SRV',
    status: 'NOERROR',
    answer: [`_http._tcp.web.shop.svc.${Z}. 5 SRV 0 100 80 web.shop.svc.${Z}.`],
    extra: [`web.shop.svc.${Z}. 5 A 10.1.0.10`],
  },
  {
    row: 'SRV (headless): one record per endpoint target',
    qname: `_postgres._tcp.db.shop.svc.${Z}`,
    qtype: 'SRV',
    status: 'NOERROR',
    answer: [
      `_postgres._tcp.db.shop.svc.${Z}. 5 SRV 0 100 15432 db-0.east.db.shop.svc.${Z}.`,
      `_postgres._tcp.db.shop.svc.${Z}. 5 SRV 0 100 15432 10-1-1-2.east.db.shop.svc.${Z}.`,
      `_postgres._tcp.db.shop.svc.${Z}. 5 SRV 0 100 5432 db-5.eu.prod.db.shop.svc.${Z}.`,
    ],
    extra: [`db-0.east.db.shop.svc.${Z}. 5 A 10.1.1.1`, `10-1-1-2.east.db.shop.svc.${Z}. 5 A 10.1.1.2`, `db-5.eu.prod.db.shop.svc.${Z}. 5 AAAA fd00:3::1`],
  },
  {
    row: 'SRV cluster-specific form',
    qname: `_http._tcp.east.web.shop.svc.${Z}`,
    qtype: 'SRV',
    status: 'NOERROR',
    answer: [`_http._tcp.east.web.shop.svc.${Z}. 5 SRV 0 100 80 east.web.shop.svc.${Z}.`],
    extra: [`east.web.shop.svc.${Z}. 5 A 10.1.0.10`],
  },
  {
    row: 'bare-name SRV: every port, de-duplicated by (target, port)',
    qname: `dns.shop.svc.${Z}`,
    qtype: 'SRV',
    status: 'NOERROR',
    answer: [`dns.shop.svc.${Z}. 5 SRV 0 100 53 dns.shop.svc.${Z}.`],
    extra: [`dns.shop.svc.${Z}. 5 A 10.1.0.80`],
  },
  { row: 'SRV: unknown port', qname: `_nope._tcp.web.shop.svc.${Z}`, qtype: 'SRV', status: 'NXDOMAIN', ns: [SOA], ede: 'has no port named nope' },
  { row: 'dns-version TXT', qname: `dns-version.${Z}`, qtype: 'TXT', status: 'NOERROR', answer: [`dns-version.${Z}. 28800 TXT "1.0.0"`] },
  { row: 'SOA at the apex', qname: Z, qtype: 'SOA', status: 'NOERROR', answer: [`${Z}. 5 SOA ns.dns.${Z}. hostmaster.${Z}. 42 7200 1800 86400 7`] },
  { row: 'NS at the apex', qname: Z, qtype: 'NS', status: 'NOERROR', answer: [`${Z}. 5 NS ns.dns.${Z}.`] },
  { row: 'SOA of a second zone', qname: 'mcs.example', qtype: 'SOA', status: 'NOERROR', answer: ['mcs.example. 5 SOA ns.dns.mcs.example. hostmaster.mcs.example. 42 7200 1800 86400 7'] },
  { row: 'name exists, other type → NODATA', qname: `web.shop.svc.${Z}`, qtype: 'TXT', status: 'NOERROR', ns: [SOA] },
  { row: 'dual stack: no address of that family → NODATA', qname: `v6only.shop.svc.${Z}`, qtype: 'A', status: 'NOERROR', ns: [SOA], ede: 'shop/v6only has no IPv4 address' },
  { row: 'unknown service → NXDOMAIN', qname: `nope.shop.svc.${Z}`, qtype: 'A', status: 'NXDOMAIN', ns: [SOA], ede: 'service shop/nope is not exported by any cluster' },
  { row: 'unknown namespace → NXDOMAIN', qname: `nope.svc.${Z}`, qtype: 'A', status: 'NXDOMAIN', ns: [SOA], ede: 'namespace nope has no exported service' },
  { row: 'unknown host → NXDOMAIN', qname: `nobody.east.db.shop.svc.${Z}`, qtype: 'A', status: 'NXDOMAIN', ns: [SOA], ede: 'no endpoint named nobody' },
  { row: 'empty non-terminal svc.Z → NODATA', qname: `svc.${Z}`, qtype: 'A', status: 'NOERROR', ns: [SOA] },
  { row: 'empty non-terminal <ns>.svc.Z → NODATA', qname: `shop.svc.${Z}`, qtype: 'A', status: 'NOERROR', ns: [SOA] },
];

function sorted(values: string[]): string[] {
  return [...values].sort();
}

function checkRow(res: DigResult, row: Row): void {
  expect(res.status).toBe(row.status);
  expect(res.flags).toContain('qr');
  expect(res.flags).toContain('aa');
  expect(res.flags).not.toContain('ra');
  expect(res.flags).not.toContain('tc');
  expect(sorted(res.answer.map(showRecord))).toEqual(sorted(row.answer ?? []));
  expect(res.authority.map(showRecord)).toEqual(row.ns ?? []);
  expect(sorted(res.additional.map(showRecord))).toEqual(sorted(row.extra ?? []));
  expect(res.opt).toBe(true);
  if (row.ede === undefined) expect(res.ede).toEqual([]);
  else expect(res.ede.map((e) => e.text).join(' | ')).toContain(row.ede);
}

describe.each([
  ['UDP', false],
  ['TCP', true],
] as const)('DESIGN.md DNS table over %s with dig', (_transport, tcp) => {
  it.each(rows.map((r) => [r.row, r] as const))('%s', async (_row, row) => {
    checkRow(await runDig(port, row.qname, row.qtype, { tcp }), row);
  });

  it('echoes the question as sent (0x20 mixed case) and still answers', async () => {
    const res = await runDig(port, `WeB.sHoP.SVC.ClusterSet.LOCAL`, 'A', { tcp });
    expect(res.status).toBe('NOERROR');
    expect(res.question).toEqual(['WeB.sHoP.SVC.ClusterSet.LOCAL. IN A']);
    expect(res.answer.map((r) => `${r.type} ${r.data}`)).toEqual(['A 10.1.0.10']);
  });

  it('refuses names outside every zone: REFUSED, no AA, no RA, no records', async () => {
    const res = await runDig(port, 'example.com', 'A', { tcp });
    expect(res.status).toBe('REFUSED');
    expect(res.flags).not.toContain('aa');
    expect(res.flags).not.toContain('ra');
    expect([res.answer, res.authority]).toEqual([[], []]);
  });

  it('answers NOTIMP for an opcode other than QUERY', async () => {
    const res = await runDig(port, `web.shop.svc.${Z}`, 'A', { tcp, args: ['+opcode=2'] });
    expect(res.status).toBe('NOTIMP');
    expect(res.answer).toEqual([]);
  });

  it('answers FORMERR for a query without a question', async () => {
    const res = await runDig(port, `web.shop.svc.${Z}`, 'A', { tcp, args: ['+header-only'] });
    expect(res.status).toBe('FORMERR');
  });

  it('answers without OPT when the query has none, and without EDE', async () => {
    const res = await runDig(port, `nope.shop.svc.${Z}`, 'A', { tcp, args: ['+noedns'] });
    expect(res.status).toBe('NXDOMAIN');
    expect(res.opt).toBe(false);
    expect(res.ede).toEqual([]);
    expect(res.authority.map(showRecord)).toEqual([SOA]);
  });
});

describe('answers that do not fit one UDP message', () => {
  it(`sets TC=1 over UDP and carries all ${BIG_HEADLESS_SIZE} records over TCP`, async () => {
    const udp = await runDig(port, `big.shop.svc.${Z}`, 'A', { args: ['+ignore'] });
    expect(udp.status).toBe('NOERROR');
    expect(udp.flags).toContain('tc');
    expect(udp.answer.length).toBeLessThan(BIG_HEADLESS_SIZE);
    const tcp = await runDig(port, `big.shop.svc.${Z}`, 'A', { tcp: true });
    expect(tcp.flags).not.toContain('tc');
    expect(new Set(tcp.answer.map((r) => r.data)).size).toBe(BIG_HEADLESS_SIZE);
  });

  it("honours the client's EDNS payload size, capped at 1232 bytes", async () => {
    const small = await runDig(port, `big.shop.svc.${Z}`, 'A', { args: ['+ignore', '+bufsize=512'] });
    const large = await runDig(port, `big.shop.svc.${Z}`, 'A', { args: ['+ignore', '+bufsize=4096'] });
    expect(small.flags).toContain('tc');
    expect(small.size).toBeLessThanOrEqual(512);
    expect(large.flags).toContain('tc');
    expect(large.size).toBeGreaterThan(512);
    expect(large.size).toBeLessThanOrEqual(1232);
  });
});

describe('rotation and policies over the wire', () => {
  it('rotates a multi-record answer between queries', async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await runDig(port, `remote.shop.svc.${Z}`, 'A');
      expect(res.answer).toHaveLength(2);
      firsts.add(res.answer[0]?.data ?? '');
    }
    expect(firsts).toEqual(new Set(['10.2.0.30', '10.4.0.30']));
  });

  it('round-robin answers one record per query, cycling through healthy clusters', async () => {
    const started = await startServer(fixtureSnapshot(), { ...OPTIONS, policy: 'round-robin' });
    servers.push(started.server);
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await runDig(started.port, `web.shop.svc.${Z}`, 'A');
      expect(res.answer).toHaveLength(1);
      seen.add(res.answer[0]?.data ?? '');
    }
    expect(seen).toEqual(new Set(['10.1.0.10', '10.3.0.10']));
  }, 60_000);
});

describe('before the first full sync', () => {
  it('answers SERVFAIL with EDE Not Ready inside the zones (never NXDOMAIN) and REFUSED outside', async () => {
    const started = await startServer(fixtureSnapshot({ synced: false }));
    servers.push(started.server);
    for (const tcp of [false, true]) {
      for (const name of [`web.shop.svc.${Z}`, `nope.shop.svc.${Z}`]) {
        const res = await runDig(started.port, name, 'A', { tcp });
        expect(res.status).toBe('SERVFAIL');
        expect(res.ede.map((e) => e.code)).toEqual([14]);
      }
      expect((await runDig(started.port, 'example.com', 'A', { tcp })).status).toBe('REFUSED');
    }
  }, 60_000);
});
