/**
 * The embedded default's broker runs the same validator as the Kube broker store on what arrives:
 * refused content is reported and not visible, and it replaces what was there (as a rejected
 * object on a Kube broker does), so nothing invalid is ever served.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/standalone/memory-broker.ts';
import type { ExportEndpoints, ExportRecord } from '../../src/model/types.ts';

const ref = { namespace: 'shop', name: 'web' };
const record: ExportRecord = { ...ref, cluster: 'west', type: 'ClusterSetIP', ports: [{ name: 'http', protocol: 'TCP', port: 80 }], serviceIPs: ['10.2.0.10'], ipFamilies: ['IPv4'], sessionAffinity: 'None', exportCreatedAt: 1 };
const endpoints: ExportEndpoints = { ...ref, cluster: 'west', endpoints: [{ addresses: ['10.2.0.10'], ready: true }], ports: record.ports };

function broker(): { broker: MemoryBroker; rejected: Array<[string, string, string[]]> } {
  const rejected: Array<[string, string, string[]]> = [];
  return { broker: new MemoryBroker(() => 0, { onRejected: (kind, object, problems) => rejected.push([kind, object, problems]) }), rejected };
}

describe('in-memory broker: one validator on arrival', () => {
  it('a valid export is stored whole and seen by every connection', () => {
    const { broker: b, rejected } = broker();
    b.putExport(record, endpoints);
    const conn = b.connect();
    expect(conn.getRecord('west', ref)).toEqual(record);
    expect(conn.getEndpoints('west', ref)).toEqual(endpoints);
    expect(rejected).toEqual([]);
  });

  it('an invalid record is refused with the reason and takes the previous one away', () => {
    const { broker: b, rejected } = broker();
    b.putExport(record, endpoints);
    b.putRecord({ ...record, ports: [{ name: 'http', protocol: 'TCP', port: 99_999 }] });
    expect(b.getRecord('west', ref)).toBeUndefined();
    expect(rejected).toEqual([['record', 'record/west/shop/web', ['ports[0].port 99999 is not 1-65535']]]);
  });

  it('invalid endpoints and leases are refused alike', () => {
    const { broker: b, rejected } = broker();
    b.putEndpoints({ ...endpoints, endpoints: [{ addresses: ['not-an-ip'], ready: true }] });
    b.putLease({ cluster: 'west', renewedAt: 1, durationMs: 1e12 });
    expect(b.getEndpoints('west', ref)).toBeUndefined();
    expect(b.getLease('west')).toBeUndefined();
    expect(rejected.map(([kind, , problems]) => [kind, problems])).toEqual([
      ['endpoints', ['endpoints[0] has an address that is not an IP']],
      ['lease', ['durationMs must be 1-3600000']],
    ]);
  });

  it('withdrawing says whether there was an export', async () => {
    const { broker: b } = broker();
    const conn = b.connect();
    await conn.publishExport(record, { ...endpoints, cluster: 'west' });
    expect(await conn.withdrawExport('west', ref)).toBe(true);
    expect(await conn.withdrawExport('west', ref)).toBe(false);
    expect(conn.listRecords()).toEqual([]);
  });
});

describe('in-memory broker: published properties on a lease', () => {
  it('a bad one is left out and reported; the lease and the good ones still count', () => {
    const { broker: b, rejected } = broker();
    const good = { scheme: 'tcp' as const, host: '10.0.0.5', port: 4500, path: '', text: 'tcp://10.0.0.5:4500' };
    const metadata = { scheme: 'http' as const, host: '169.254.169.254', port: 80, path: '/', text: 'http://169.254.169.254:80/' };
    b.putLease({ cluster: 'west', renewedAt: 1, durationMs: 10_000, properties: { probeTargets: [metadata, good], region: 'eu-1' } });
    expect(b.getLease('west')).toEqual({ cluster: 'west', renewedAt: 1, durationMs: 10_000, properties: { probeTargets: [good], region: 'eu-1' } });
    expect(rejected).toEqual([['lease', 'lease/west', ['published properties: probe target "http://169.254.169.254:80/": host 169.254.169.254 is link-local']]]);
  });
});

describe('in-memory broker: an export is refused whole', () => {
  it('invalid endpoints take the valid record with them (one object on a Kube broker)', () => {
    const { broker: b, rejected } = broker();
    b.putExport(record, endpoints);
    b.putExport(record, { ...endpoints, endpoints: [{ addresses: ['10.2.0.10'], hostname: 'a.b', ready: true }] });
    expect(b.getRecord('west', ref)).toBeUndefined();
    expect(b.getEndpoints('west', ref)).toBeUndefined();
    expect(rejected).toEqual([['endpoints', 'endpoints/west/shop/web', ['endpoints[0].hostname is not a DNS label']]]);
  });
});
