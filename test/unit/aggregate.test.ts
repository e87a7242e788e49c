import { describe, expect, it } from 'vitest';
import { aggregateService } from '../../src/model/aggregate.ts';
import { conflictConditionReason, mergePorts } from '../../src/model/conflicts.ts';
import type { ExportRecord, ServicePort } from '../../src/model/types.ts';

const http80: ServicePort = { name: 'http', protocol: 'TCP', port: 80 };

function rec(cluster: string, createdAt: number, over: Partial<ExportRecord> = {}): ExportRecord {
  return {
    namespace: 'shop',
    name: 'web',
    cluster,
    type: 'ClusterSetIP',
    ports: [http80],
    serviceIPs: ['10.0.0.1'],
    ipFamilies: ['IPv4'],
    sessionAffinity: 'None',
    exportCreatedAt: createdAt,
    ...over,
  };
}

describe('aggregateService: winner, merged fields and conflicts', () => {
  const cases: {
    name: string;
    records: ExportRecord[];
    winner: string;
    conflicts: string[];
    ports?: ServicePort[];
    excluded?: Record<string, string>;
    type?: string;
  }[] = [
    { name: 'one export, no conflict', records: [rec('east', 5)], winner: 'east', conflicts: [], ports: [http80] },
    { name: 'oldest export wins', records: [rec('east', 5), rec('west', 3)], winner: 'west', conflicts: [] },
    { name: 'equal timestamps: cluster ID ascending', records: [rec('west', 3), rec('east', 3)], winner: 'east', conflicts: [] },
    {
      name: 'same name, different number: PortConflict, winner kept',
      records: [rec('east', 5, { ports: [{ name: 'http', protocol: 'TCP', port: 8080 }] }), rec('west', 3)],
      winner: 'west',
      conflicts: ['PortConflict'],
      ports: [http80],
    },
    {
      name: 'same name, different protocol: PortConflict',
      records: [rec('east', 1), rec('west', 3, { ports: [{ name: 'http', protocol: 'UDP', port: 80 }] })],
      winner: 'east',
      conflicts: ['PortConflict'],
      ports: [http80],
    },
    {
      name: 'same number, different name: PortConflict',
      records: [rec('east', 1), rec('west', 3, { ports: [{ name: 'web', protocol: 'TCP', port: 80 }] })],
      winner: 'east',
      conflicts: ['PortConflict'],
      ports: [http80],
    },
    {
      name: 'different ports are a union, not a conflict',
      records: [rec('east', 1), rec('west', 3, { ports: [{ name: 'grpc', protocol: 'TCP', port: 9000 }] })],
      winner: 'east',
      conflicts: [],
      ports: [http80, { name: 'grpc', protocol: 'TCP', port: 9000 }],
    },
    {
      name: 'unnamed ports merge by protocol and port',
      records: [rec('east', 1, { ports: [{ name: '', protocol: 'TCP', port: 80 }] }), rec('west', 3, { ports: [{ name: '', protocol: 'TCP', port: 80 }] })],
      winner: 'east',
      conflicts: [],
      ports: [{ name: '', protocol: 'TCP', port: 80 }],
    },
    {
      name: 'type conflict: the other type is excluded with a reason',
      records: [rec('east', 1), rec('north', 3, { type: 'Headless', serviceIPs: [], ipFamilies: [] })],
      winner: 'east',
      conflicts: ['TypeConflict'],
      type: 'ClusterSetIP',
      excluded: { north: 'type conflict: exports Headless, service is ClusterSetIP (winner east, oldest export)' },
    },
    {
      name: 'excluded clusters do not add ports',
      records: [rec('east', 1), rec('north', 3, { type: 'Headless', serviceIPs: [], ports: [{ name: 'extra', protocol: 'TCP', port: 1 }] })],
      winner: 'east',
      conflicts: ['TypeConflict'],
      ports: [http80],
      excluded: { north: 'type conflict: exports Headless, service is ClusterSetIP (winner east, oldest export)' },
    },
    {
      name: 'session affinity from the winner',
      records: [rec('east', 1, { sessionAffinity: 'ClientIP' }), rec('west', 3)],
      winner: 'east',
      conflicts: ['SessionAffinityConflict'],
    },
    {
      name: 'dual-stack vs single-stack: IPFamilyConflict',
      records: [rec('west', 1, { ipFamilies: ['IPv4', 'IPv6'], serviceIPs: ['10.0.0.1', 'fd00::1'] }), rec('east', 3)],
      winner: 'west',
      conflicts: ['IPFamilyConflict'],
    },
    {
      name: 'families in another order are the same set',
      records: [rec('west', 1, { ipFamilies: ['IPv4', 'IPv6'] }), rec('east', 3, { ipFamilies: ['IPv6', 'IPv4'] })],
      winner: 'west',
      conflicts: [],
    },
    {
      name: 'several conflicts at once, in canonical order',
      records: [
        rec('east', 1),
        rec('west', 2, { ports: [{ name: 'http', protocol: 'TCP', port: 81 }], sessionAffinity: 'ClientIP' }),
        rec('north', 3, { type: 'Headless' }),
      ],
      winner: 'east',
      conflicts: ['TypeConflict', 'PortConflict', 'SessionAffinityConflict'],
      excluded: { north: 'type conflict: exports Headless, service is ClusterSetIP (winner east, oldest export)' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const a = aggregateService(c.records)!;
      expect(a.winner).toBe(c.winner);
      expect(a.conflicts).toEqual(c.conflicts);
      if (c.ports) expect(a.ports).toEqual(c.ports);
      if (c.type) expect(a.type).toBe(c.type);
      expect(Object.fromEntries(a.excluded)).toEqual(c.excluded ?? {});
      expect(a.clusters).toEqual(c.records.map((r) => r.cluster).sort());
    });
  }

  it('is deterministic: every input order gives the same result', () => {
    const records = [
      rec('east', 2, { ports: [{ name: 'http', protocol: 'TCP', port: 81 }] }),
      rec('west', 2, { ipFamilies: ['IPv4', 'IPv6'] }),
      rec('north', 2, { ports: [{ name: 'grpc', protocol: 'TCP', port: 9 }] }),
    ];
    const first = aggregateService(records);
    const permutations = [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for (const p of permutations) expect(aggregateService(p.map((i) => records[i]!))).toEqual(first);
  });

  it('takes scalar fields from the winner', () => {
    const a = aggregateService([rec('east', 5, { type: 'Headless' }), rec('west', 3, { type: 'Headless', sessionAffinity: 'ClientIP', ipFamilies: ['IPv6'] })])!;
    expect([a.type, a.sessionAffinity, a.ipFamilies]).toEqual(['Headless', 'ClientIP', ['IPv6']]);
  });

  it('no records, no service', () => {
    expect(aggregateService([])).toBeUndefined();
  });
});

describe('conflict condition reasons', () => {
  it('NoConflicts or comma-joined mcs-api reasons', () => {
    expect(conflictConditionReason([])).toBe('NoConflicts');
    expect(conflictConditionReason(['IPFamilyConflict', 'PortConflict', 'PortConflict'])).toBe('PortConflict,IPFamilyConflict');
  });

  it('mergePorts explains every lost definition', () => {
    const r = mergePorts([[http80], [{ name: 'http', protocol: 'TCP', port: 8080 }]]);
    expect(r.conflicts).toEqual(['http 8080/TCP conflicts with http 80/TCP']);
  });
});
