import { describe, expect, it } from 'vitest';
import { computeConditions, mergeConditions } from '../../src/agent/conditions.ts';
import { buildExport } from '../../src/agent/export-build.ts';
import type { ExportCondition } from '../../src/agent/stores.ts';
import type { LocalEndpointSlice, LocalService, LocalServiceExport } from '../../src/model/types.ts';

const exp: LocalServiceExport = { namespace: 'shop', name: 'web', createdAt: 1000, generation: 1 };

function service(over: Partial<LocalService> = {}): LocalService {
  return {
    namespace: 'shop',
    name: 'web',
    type: 'ClusterIP',
    clusterIPs: ['10.0.0.10'],
    headless: false,
    ipFamilies: ['IPv4'],
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    sessionAffinity: 'None',
    publishNotReadyAddresses: false,
    ...over,
  };
}

function slice(name: string, endpoints: LocalEndpointSlice['endpoints'], over: Partial<LocalEndpointSlice> = {}): LocalEndpointSlice {
  return { namespace: 'shop', name: 'web', sliceName: name, addressType: 'IPv4', endpoints, ports: [], ...over };
}

describe('buildExport', () => {
  it('no Service: invalid with NoService', () => {
    expect(buildExport('east', exp, undefined, [])).toEqual({ status: 'invalid', reason: 'NoService', message: 'Service shop/web does not exist' });
  });

  it('ExternalName: invalid with InvalidServiceType', () => {
    expect(buildExport('east', exp, service({ type: 'ExternalName', clusterIPs: [] }), [])).toMatchObject({ status: 'invalid', reason: 'InvalidServiceType' });
  });

  it('ClusterIP without an IP yet: pending', () => {
    expect(buildExport('east', exp, service({ clusterIPs: [] }), []).status).toBe('pending');
  });

  const readiness: { name: string; slices: LocalEndpointSlice[]; ready: boolean }[] = [
    { name: 'no slices', slices: [], ready: false },
    { name: 'all backends not ready', slices: [slice('a', [{ addresses: ['10.1.0.1'], ready: false }])], ready: false },
    { name: 'one ready backend in a second slice', slices: [slice('a', [{ addresses: ['10.1.0.1'], ready: false }]), slice('b', [{ addresses: ['10.1.0.2'], ready: true }])], ready: true },
  ];
  for (const c of readiness) {
    it(`ClusterIP: one endpoint with the service IPs, ready iff a backend is ready (${c.name})`, () => {
      const b = buildExport('east', exp, service(), c.slices);
      expect(b.status === 'ready' && b.endpoints.endpoints).toEqual([{ addresses: ['10.0.0.10'], ready: c.ready }]);
    });
  }

  it('ClusterIP dual-stack: the record and endpoint keep both IPs and families', () => {
    const b = buildExport('west', exp, service({ clusterIPs: ['10.0.0.10', 'fd00::10'], ipFamilies: ['IPv4', 'IPv6'] }), [slice('a', [{ addresses: ['10.1.0.1'], ready: true }])]);
    expect(b).toMatchObject({
      status: 'ready',
      record: { cluster: 'west', type: 'ClusterSetIP', serviceIPs: ['10.0.0.10', 'fd00::10'], ipFamilies: ['IPv4', 'IPv6'], exportCreatedAt: 1000 },
      endpoints: { cluster: 'west', endpoints: [{ addresses: ['10.0.0.10', 'fd00::10'], ready: true }] },
    });
  });

  it('headless: every pod with hostnames, not-ready ones kept as not ready, slice ports used', () => {
    const b = buildExport('north', exp, service({ headless: true, clusterIPs: [], ports: [{ name: 'postgres', protocol: 'TCP', port: 5432, appProtocol: 'postgresql' }] }), [
      slice('v4', [
        { addresses: ['10.1.0.2'], hostname: 'db-1', ready: false },
        { addresses: ['10.1.0.1'], hostname: 'db-0', ready: true },
      ], { ports: [{ name: 'postgres', protocol: 'TCP', port: 5432 }] }),
      slice('v6', [{ addresses: ['fd00::1'], hostname: 'db-0', ready: true }], { addressType: 'IPv6' }),
      slice('fqdn', [{ addresses: ['db.example.com'], ready: true }], { addressType: 'FQDN' }),
    ]);
    expect(b.status === 'ready' && b.record.type).toBe('Headless');
    expect(b.status === 'ready' && b.record.serviceIPs).toEqual([]);
    expect(b.status === 'ready' && b.endpoints.endpoints).toEqual([
      { addresses: ['10.1.0.1'], hostname: 'db-0', ready: true },
      { addresses: ['fd00::1'], hostname: 'db-0', ready: true },
      { addresses: ['10.1.0.2'], hostname: 'db-1', ready: false },
    ]);
    expect(b.status === 'ready' && b.endpoints.ports).toEqual([{ name: 'postgres', protocol: 'TCP', port: 5432, appProtocol: 'postgresql' }]);
  });

  it('headless with publishNotReadyAddresses: not-ready pods are published as ready', () => {
    const b = buildExport('north', exp, service({ headless: true, clusterIPs: [], publishNotReadyAddresses: true }), [slice('a', [{ addresses: ['10.1.0.1'], ready: false }])]);
    expect(b.status === 'ready' && b.endpoints.endpoints).toEqual([{ addresses: ['10.1.0.1'], ready: true }]);
  });
});

describe('computeConditions', () => {
  const ready = buildExport('east', exp, service(), []);
  const cases: { name: string; input: Parameters<typeof computeConditions>[0]; expected: [string, string, string][] }[] = [
    {
      name: 'exported without conflicts',
      input: { build: ready, publish: { ok: true }, conflicts: [], conflictDetails: [] },
      expected: [['Valid', 'True', 'Valid'], ['Ready', 'True', 'Exported'], ['Conflict', 'False', 'NoConflicts']],
    },
    {
      name: 'no service',
      input: { build: buildExport('east', exp, undefined, []), publish: { ok: true }, conflicts: [], conflictDetails: [] },
      expected: [['Valid', 'False', 'NoService'], ['Ready', 'False', 'Failed'], ['Conflict', 'False', 'NoConflicts']],
    },
    {
      name: 'ExternalName',
      input: { build: buildExport('east', exp, service({ type: 'ExternalName' }), []), publish: { ok: true }, conflicts: [], conflictDetails: [] },
      expected: [['Valid', 'False', 'InvalidServiceType'], ['Ready', 'False', 'Failed'], ['Conflict', 'False', 'NoConflicts']],
    },
    {
      name: 'pending (no cluster IP yet)',
      input: { build: buildExport('east', exp, service({ clusterIPs: [] }), []), publish: { ok: true }, conflicts: [], conflictDetails: [] },
      expected: [['Valid', 'True', 'Valid'], ['Ready', 'False', 'Pending'], ['Conflict', 'False', 'NoConflicts']],
    },
    {
      name: 'broker write failed',
      input: { build: ready, publish: { ok: false, message: 'connection refused' }, conflicts: [], conflictDetails: [] },
      expected: [['Valid', 'True', 'Valid'], ['Ready', 'False', 'Failed'], ['Conflict', 'False', 'NoConflicts']],
    },
    {
      name: 'several conflicts are comma-joined',
      input: { build: ready, publish: { ok: true }, conflicts: ['PortConflict', 'TypeConflict'], conflictDetails: ['x'] },
      expected: [['Valid', 'True', 'Valid'], ['Ready', 'True', 'Exported'], ['Conflict', 'True', 'TypeConflict,PortConflict']],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(computeConditions(c.input).map((x) => [x.type, x.status, x.reason])).toEqual(c.expected);
    });
  }
});

describe('mergeConditions', () => {
  const desired = computeConditions({ build: buildExport('east', exp, service(), []), publish: { ok: true }, conflicts: [], conflictDetails: [] });

  it('first write stamps every condition', () => {
    const m = mergeConditions(undefined, desired, 50);
    expect(m.changed).toBe(true);
    expect(m.conditions.map((c) => c.lastTransitionTime)).toEqual([50, 50, 50]);
  });

  it('identical conditions are not rewritten', () => {
    const first = mergeConditions(undefined, desired, 50).conditions;
    const again = mergeConditions(first, desired, 99);
    expect(again.changed).toBe(false);
    expect(again.conditions).toEqual(first);
  });

  it('a status change moves lastTransitionTime; a message change does not', () => {
    const first = mergeConditions(undefined, desired, 50).conditions;
    const failing = computeConditions({ build: buildExport('east', exp, service(), []), publish: { ok: false, message: 'down' }, conflicts: [], conflictDetails: [] });
    const m = mergeConditions(first, failing, 80);
    expect(m.changed).toBe(true);
    expect(m.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe(80);
    const failing2 = computeConditions({ build: buildExport('east', exp, service(), []), publish: { ok: false, message: 'still down' }, conflicts: [], conflictDetails: [] });
    const m2 = mergeConditions(m.conditions, failing2, 90);
    expect(m2.changed).toBe(true);
    expect(m2.conditions.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe(80);
  });

  it('keeps conditions of other types written by someone else', () => {
    const foreign: ExportCondition = { type: 'Synced' as ExportCondition['type'], status: 'True', reason: 'X', message: '', lastTransitionTime: 1 };
    const m = mergeConditions([foreign], desired, 5);
    expect(m.conditions.map((c) => c.type)).toEqual(['Valid', 'Ready', 'Conflict', 'Synced']);
  });
});
