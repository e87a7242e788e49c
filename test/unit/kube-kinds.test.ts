/**
 * The Kubernetes shapes of what the agent writes, one kind at a time (src/kube/kinds/): every model
 * value survives the trip through its object (so the agent never rewrites what is already right),
 * names are valid, bounded and collision-free, and objects another cluster could forge are
 * rejected with a reason.
 */
import { describe, expect, it } from 'vitest';
import { validateExport } from '../../src/model/broker-validation.ts';
import { isDnsSubdomain } from '../../src/model/names.ts';
import type { ExportEndpoints, ExportRecord, ImportedSlice } from '../../src/model/types.ts';
import { assembleBrokerExport, brokerSliceName, buildBrokerSlices, exportsOfSlices, parseBrokerSlice, type BrokerSlicePart } from '../../src/kube/kinds/broker-slice.ts';
import { ANNOTATION_PROBE_TARGETS, ANNOTATION_REGION, buildLease, leaseName, parseLease } from '../../src/kube/kinds/lease.ts';
import { buildClusterProperty, parseClusterProperty } from '../../src/kube/kinds/cluster-property.ts';
import { parseSubmarinerGateway } from '../../src/kube/kinds/submariner-gateway.ts';
import { pickAboutVersion } from '../../src/kube/objects.ts';
import { parseProbeTargets } from '../../src/model/cluster-properties.ts';
import { assembleSlices, buildImportedSlices, importedSliceObjectName, parseImportedSlice, type ParsedSlice } from '../../src/kube/kinds/mcs-endpoint-slice.ts';
import { clusterLabelValue, type Parsed } from '../../src/kube/kinds/object-meta.ts';
import { buildExportStatus, readExportConditions } from '../../src/kube/kinds/service-export-status.ts';
import { buildImportedServiceImport, parseImportedServiceImport } from '../../src/kube/kinds/service-import.ts';
import { sameContent } from '../../src/kube/same-content.ts';

const record: ExportRecord = {
  namespace: 'shop',
  name: 'web',
  cluster: 'east',
  type: 'ClusterSetIP',
  ports: [
    { name: 'http', protocol: 'TCP', port: 80, appProtocol: 'http' },
    { name: 'dns', protocol: 'UDP', port: 53 },
  ],
  serviceIPs: ['10.96.0.10', 'fd00::10'],
  ipFamilies: ['IPv4', 'IPv6'],
  sessionAffinity: 'ClientIP',
  exportCreatedAt: Date.parse('2024-05-01T10:00:00.123Z'),
};

function parseAll<T>(objects: unknown[], parse: (o: unknown) => Parsed<T>): T[] {
  return objects.map((o) => {
    const p = parse(o);
    if (!p.ok) throw new Error(p.problems.join('; '));
    return p.value;
  });
}

/** What the API server adds on the way back: defaults, metadata we never set, list order kept. */
function asServed<T>(obj: T): T {
  const copy = JSON.parse(JSON.stringify(obj)) as { metadata: Record<string, unknown> };
  copy.metadata['uid'] = '9a1c';
  copy.metadata['resourceVersion'] = '42';
  copy.metadata['managedFields'] = [{ manager: 'clusterset-dns' }];
  return copy as T;
}

const ENDPOINTS: ExportEndpoints = { namespace: 'shop', name: 'web', cluster: 'east', endpoints: [{ addresses: ['10.96.0.10', 'fd00::10'], ready: true }], ports: record.ports };

/** The export read back from its slices as the API server serves them. */
function roundTrip(r: ExportRecord, e: ExportEndpoints): ReturnType<typeof assembleBrokerExport> {
  return assembleBrokerExport(parseAll(buildBrokerSlices(r, e, 'clusterset-broker').map(asServed), parseBrokerSlice));
}

describe('broker slices carry the export record (one object kind per export)', () => {
  it('an ExportRecord and its endpoints come back exactly from the slices', () => {
    expect(roundTrip(record, ENDPOINTS)).toEqual({ whole: true, record, endpoints: ENDPOINTS });
    expect(validateExport(record, ENDPOINTS)).toEqual([]);
  });

  it('a headless record carries no IPs', () => {
    const headless: ExportRecord = { ...record, type: 'Headless', serviceIPs: [], ports: [], sessionAffinity: 'None' };
    const endpoints: ExportEndpoints = { ...ENDPOINTS, endpoints: [{ addresses: ['10.1.0.1'], hostname: 'db-0', ready: true }], ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }] };
    const [obj] = buildBrokerSlices(headless, endpoints, 'clusterset-broker');
    expect(JSON.parse(obj!.metadata.annotations!['clusterset-dns.io/export']!)['ips']).toBeUndefined();
    expect(obj!.apiVersion).toBe('discovery.k8s.io/v1');
    expect(roundTrip(headless, endpoints)).toEqual({ whole: true, record: headless, endpoints });
  });

  it('a service with no endpoints still exports: one empty slice carries its record', () => {
    const empty: ExportEndpoints = { ...ENDPOINTS, endpoints: [] };
    const objects = buildBrokerSlices(record, empty, 'clusterset-broker');
    expect(objects.map((o) => o.metadata.name)).toEqual(['web.shop.east.ipv4']);
    expect(roundTrip(record, empty)).toEqual({ whole: true, record, endpoints: empty });
  });

  it('carries the labels importers select and the admission policies check, and the record once per slice', () => {
    const objects = buildBrokerSlices(record, ENDPOINTS, 'clusterset-broker');
    expect(objects).toHaveLength(2);
    for (const o of objects) {
      expect(o.metadata).toMatchObject({
        namespace: 'clusterset-broker',
        labels: {
          'app.kubernetes.io/managed-by': 'clusterset-dns',
          'endpointslice.kubernetes.io/managed-by': 'clusterset-dns',
          'multicluster.kubernetes.io/service-name': 'web',
          'multicluster.kubernetes.io/source-cluster': 'east',
          'clusterset-dns.io/source-namespace': 'shop',
        },
      });
      expect(JSON.parse(o.metadata.annotations!['clusterset-dns.io/export']!)).toEqual({
        type: 'ClusterSetIP',
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, appProtocol: 'http' },
          { name: 'dns', protocol: 'UDP', port: 53 },
        ],
        ips: ['10.96.0.10', 'fd00::10'],
        ipFamilies: ['IPv4', 'IPv6'],
        sessionAffinity: 'ClientIP',
        exportCreatedAt: '2024-05-01T10:00:00.123Z',
        slices: 2,
      });
    }
  });

  it('a set is read only when whole: a missing slice, or slices from two versions of the record, are not', () => {
    const before = parseAll(buildBrokerSlices(record, ENDPOINTS, 'b').map(asServed), parseBrokerSlice);
    expect(assembleBrokerExport(before.slice(0, 1))).toEqual({ whole: false, reason: '1 of 2 slices present' });
    const changed = parseAll(buildBrokerSlices({ ...record, sessionAffinity: 'None' }, ENDPOINTS, 'b').map(asServed), parseBrokerSlice);
    expect(assembleBrokerExport([changed[0]!, before[1]!])).toEqual({ whole: false, reason: 'slices carry different records' });
    // Shrinking from two slices to one: the new slice declares one, the old one is still there.
    const shrunk = parseAll(buildBrokerSlices(record, { ...ENDPOINTS, endpoints: [{ addresses: ['10.96.0.10'], ready: true }] }, 'b').map(asServed), parseBrokerSlice);
    expect(assembleBrokerExport([...shrunk, before[1]!]).whole).toBe(false);
    expect(assembleBrokerExport(shrunk).whole).toBe(true);
  });

  it('one-shot readers take every whole export of a list and count the rest', () => {
    const objects = [...buildBrokerSlices(record, ENDPOINTS, 'b'), ...buildBrokerSlices({ ...record, cluster: 'west' }, { ...ENDPOINTS, cluster: 'west' }, 'b').slice(1)];
    const { exports, invalid } = exportsOfSlices(objects.map(asServed));
    expect(exports.map((e) => e.record.cluster)).toEqual(['east']);
    expect(invalid).toBe(1);
  });
});

describe('endpoints round-trip through per-family, 1,000-endpoint slices', () => {
  const cases: Array<{ name: string; endpoints: ExportEndpoints['endpoints']; slices: string[] }> = [
    { name: 'dual-stack service IP: one endpoint, two slices', endpoints: [{ addresses: ['10.96.0.10', 'fd00::10'], ready: true }], slices: ['web.shop.east.ipv4', 'web.shop.east.ipv6'] },
    { name: 'IPv6-first service IP keeps its order', endpoints: [{ addresses: ['fd00::10', '10.96.0.10'], ready: false }], slices: ['web.shop.east.ipv4', 'web.shop.east.ipv6'] },
    { name: 'no endpoints: one empty slice (exported, nothing ready)', endpoints: [], slices: ['web.shop.east.ipv4'] },
    {
      name: 'headless pods with hostnames',
      endpoints: [
        { addresses: ['10.1.0.1'], hostname: 'db-0', ready: true },
        { addresses: ['10.1.0.2'], hostname: 'db-1', ready: false },
      ],
      slices: ['web.shop.east.ipv4'],
    },
    {
      name: '2,500 pods: three chunks',
      endpoints: Array.from({ length: 2500 }, (_, i) => ({ addresses: [`10.2.${i >> 8}.${i & 255}`], ready: i % 3 !== 0 })),
      slices: ['web.shop.east.ipv4', 'web.shop.east.ipv4-1', 'web.shop.east.ipv4-2'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const endpoints: ExportEndpoints = { namespace: 'shop', name: 'web', cluster: 'east', endpoints: c.endpoints, ports: record.ports };
      const objects = buildBrokerSlices(record, endpoints, 'clusterset-broker').map(asServed);
      expect(objects.map((o) => o.metadata.name)).toEqual(c.slices);
      for (const o of objects) expect((o['endpoints'] as unknown[]).length).toBeLessThanOrEqual(1000);
      const parts: BrokerSlicePart[] = parseAll(objects.reverse(), parseBrokerSlice);
      expect(assembleBrokerExport(parts)).toEqual({ whole: true, record, endpoints });
    });
  }

  it('imported MCS slices keep the exclusion reason and never claim the local Service', () => {
    const slice: ImportedSlice = {
      namespace: 'shop',
      name: 'web',
      sourceCluster: 'west',
      sliceName: 'web-west',
      endpoints: [{ addresses: ['10.97.0.5'], ready: false }],
      ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
      excludedReason: 'lease expired at 2024-05-01T10:00:00.000Z',
    };
    const [obj] = buildImportedSlices(slice);
    expect(obj!.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'clusterset-dns',
      'endpointslice.kubernetes.io/managed-by': 'clusterset-dns',
      'multicluster.kubernetes.io/service-name': 'web',
      'multicluster.kubernetes.io/source-cluster': 'west',
    });
    // kube-proxy would route the local Service "web" to these addresses if it carried this label.
    expect(obj!.metadata.labels?.['kubernetes.io/service-name']).toBeUndefined();
    const parts: ParsedSlice[] = parseAll([asServed(obj)], (o) => parseImportedSlice(o, true));
    expect(assembleSlices(parts)).toEqual({ endpoints: slice.endpoints, ports: slice.ports, excludedReason: slice.excludedReason });
  });

  it('imported MCS slices keep the refused addresses (for explain), so an unchanged import is not rewritten', () => {
    const slice: ImportedSlice = {
      namespace: 'shop',
      name: 'db',
      sourceCluster: 'north',
      sliceName: 'db-north',
      endpoints: [{ addresses: ['10.97.0.5'], ready: true }],
      ports: [],
      rejectedAddresses: '169.254.169.254: link-local address (169.254.0.0/16, cloud metadata lives here)',
    };
    const [obj] = buildImportedSlices(slice);
    expect(obj!.metadata.annotations?.['clusterset-dns.io/rejected-addresses']).toBe(slice.rejectedAddresses);
    const parts = parseAll([asServed(obj)], (o) => parseImportedSlice(o, true));
    expect(assembleSlices(parts)).toEqual({ endpoints: slice.endpoints, ports: [], rejectedAddresses: slice.rejectedAddresses });
  });

  it('addresses are canonicalised on arrival; zone IDs are refused', () => {
    const [obj] = buildImportedSlices({ namespace: 'shop', name: 'db', sourceCluster: 'north', sliceName: 'db-north', endpoints: [{ addresses: ['fd00::5'], ready: true }], ports: [] });
    const served = asServed(obj) as Record<string, any>;
    served['endpoints'] = [{ addresses: ['FD00:0:0::5'] }];
    const parsed = parseImportedSlice(served, true);
    expect(parsed.ok && parsed.value.endpoints[0]!.addresses).toEqual(['fd00::5']);
    served['endpoints'] = [{ addresses: ['fe80::5%eth0'] }];
    expect(parseImportedSlice(served, true)).toMatchObject({ ok: false, problems: ['endpoints[0] has an address that is not IPv6'] });
  });
});

describe('names', () => {
  it('are distinct where hyphen-joining would collide', () => {
    const a = brokerSliceName({ name: 'a-b', namespace: 'c' }, 'east', 'IPv4', 0);
    const b = brokerSliceName({ name: 'a', namespace: 'b-c' }, 'east', 'IPv4', 0);
    expect(a).not.toBe(b);
    expect(importedSliceObjectName({ name: 'web', namespace: 'x' }, 'east-1', 'IPv4', 0)).not.toBe(importedSliceObjectName({ name: 'web-east', namespace: 'x' }, '1', 'IPv4', 0));
  });

  it('stay valid and unique at the longest inputs', () => {
    const long63 = `a${'b'.repeat(61)}c`;
    const cluster = `${long63}.${long63}`;
    const names = [
      brokerSliceName({ name: long63, namespace: long63 }, cluster, 'IPv4', 0),
      brokerSliceName({ name: long63, namespace: long63 }, cluster, 'IPv4', 1),
      brokerSliceName({ name: long63, namespace: long63 }, cluster, 'IPv6', 0),
      importedSliceObjectName({ name: long63, namespace: 'x' }, cluster, 'IPv4', 9),
      leaseName(cluster),
    ];
    for (const n of names) expect(isDnsSubdomain(n), n).toBe(true);
    expect(new Set(names).size).toBe(names.length);
    const label = clusterLabelValue(cluster);
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).toMatch(/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/);
    expect(clusterLabelValue('east.prod')).toBe('east.prod');
  });

  it('a long cluster ID survives through the annotation', () => {
    const cluster = `${'e'.repeat(60)}.${'p'.repeat(60)}`;
    const assembled = roundTrip({ ...record, cluster }, { ...ENDPOINTS, cluster });
    expect(assembled.whole && assembled.record.cluster).toBe(cluster);
    expect(assembled.whole && assembled.endpoints.cluster).toBe(cluster);
  });
});

describe('broker objects another cluster could forge are rejected', () => {
  const [good] = buildBrokerSlices(record, { ...ENDPOINTS, endpoints: [{ addresses: ['10.96.0.10'], ready: true }] }, 'clusterset-broker');
  const with_ = (edit: (o: Record<string, any>, rec: Record<string, any>) => void): unknown => {
    const o = JSON.parse(JSON.stringify(good)) as Record<string, any>;
    const text = o.metadata.annotations['clusterset-dns.io/export'] as string;
    const rec = JSON.parse(text) as Record<string, any>;
    edit(o, rec);
    // Edits of the record go back into its annotation; edits of the annotation itself stay.
    if (o.metadata.annotations['clusterset-dns.io/export'] === text) o.metadata.annotations['clusterset-dns.io/export'] = JSON.stringify(rec);
    return o;
  };
  /** Problems of the object itself (parse), or of the export it belongs to (the broker validator). */
  const problemsOf = (obj: unknown): string => {
    const parsed = parseBrokerSlice(obj);
    if (!parsed.ok) return parsed.problems.join('; ');
    const assembled = assembleBrokerExport([parsed.value]);
    return assembled.whole ? validateExport(assembled.record, assembled.endpoints).join('; ') : assembled.reason;
  };
  const cases: Array<{ name: string; obj: unknown; problem: RegExp }> = [
    { name: 'not ours', obj: with_((o) => delete o.metadata.labels['app.kubernetes.io/managed-by']), problem: /managed-by/ },
    { name: 'name does not match its labels', obj: with_((o) => (o.metadata.name = 'web.shop.west.ipv4')), problem: /does not match "?web.shop.east.ipv4/ },
    { name: 'claims another cluster through the label', obj: with_((o) => (o.metadata.labels['multicluster.kubernetes.io/source-cluster'] = 'West_1')), problem: /not one or two DNS labels/ },
    { name: 'bad namespace label', obj: with_((o) => (o.metadata.labels['clusterset-dns.io/source-namespace'] = 'Shop')), problem: /namespace name/ },
    { name: 'too many ports', obj: with_((_, r) => (r['ports'] = Array.from({ length: 101 }, (_, i) => ({ port: i + 1 })))), problem: /at most 100/ },
    { name: 'an IP that is not one', obj: with_((_, r) => (r['ips'] = ['10.0.0.300'])), problem: /IP addresses/ },
    { name: 'unknown type', obj: with_((_, r) => (r['type'] = 'ExternalName')), problem: /ClusterSetIP or Headless/ },
    { name: 'no creation time', obj: with_((_, r) => delete r['exportCreatedAt']), problem: /not a time/ },
    { name: 'a record that is not JSON', obj: with_((o) => (o.metadata.annotations['clusterset-dns.io/export'] = '{')), problem: /is not JSON/ },
    { name: 'a record of absurd size', obj: with_((_, r) => (r['padding'] = 'x'.repeat(40_000))), problem: /at most 32768/ },
    { name: 'a slice of an older agent (no record on it)', obj: with_((o) => delete o.metadata.annotations['clusterset-dns.io/export']), problem: /older agent/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(problemsOf(c.obj)).toMatch(c.problem);
    });
  }

  it('the unmodified object passes (the cases above fail for their edit alone)', () => {
    expect(problemsOf(with_(() => undefined))).toBe('');
  });

  it('a slice with addresses of the wrong family', () => {
    const [slice] = buildBrokerSlices(record, { namespace: 'shop', name: 'web', cluster: 'east', endpoints: [{ addresses: ['10.0.0.1'], ready: true }], ports: [] }, 'b');
    (slice!['endpoints'] as Array<{ addresses: string[] }>)[0]!.addresses = ['fd00::1'];
    const parsed = parseBrokerSlice(slice);
    expect(parsed.ok).toBe(false);
  });
});

describe('leases, ServiceExport status and ServiceImports', () => {
  it('a lease round-trips through MicroTime and whole seconds', () => {
    const lease = { cluster: 'east.prod', renewedAt: Date.parse('2024-05-01T10:00:00.123Z'), durationMs: 30_000 };
    const obj = buildLease(lease, 'clusterset-broker');
    expect((obj['spec'] as Record<string, unknown>)['renewTime']).toBe('2024-05-01T10:00:00.123000Z');
    expect(parseLease(obj)).toEqual({ ok: true, value: lease });
  });

  it('a lease carries the published properties as annotations, and reads them back', () => {
    const properties = { probeTargets: parseProbeTargets('tcp://10.0.0.5:4500,http://[fd00::5]:8080/healthz').targets, region: 'eu-west-1', zone: 'eu-west-1a' };
    const lease = { cluster: 'east', renewedAt: Date.parse('2024-05-01T10:00:00.123Z'), durationMs: 30_000, properties };
    const obj = buildLease(lease, 'clusterset-broker');
    expect(obj.metadata.annotations).toEqual({
      [ANNOTATION_PROBE_TARGETS]: 'tcp://10.0.0.5:4500,http://[fd00::5]:8080/healthz',
      [ANNOTATION_REGION]: 'eu-west-1',
      'clusterset-dns.io/zone': 'eu-west-1a',
    });
    expect(parseLease(obj)).toEqual({ ok: true, value: lease });
    // Without properties: no annotations at all (an older agent's lease reads the same).
    expect(buildLease({ cluster: 'east', renewedAt: 0, durationMs: 1000 }, 'b').metadata.annotations).toBeUndefined();
  });

  it('reads about.k8s.io v1 where the API serves it, v1alpha1 otherwise', () => {
    expect(pickAboutVersion(['v1alpha1', 'v1'])).toBe('v1');
    expect(pickAboutVersion(['v1alpha1'])).toBe('v1alpha1');
    expect(pickAboutVersion(['v2alpha1'])).toBeUndefined();
  });

  it('a ClusterProperty round-trips in both versions', () => {
    for (const version of ['v1alpha1', 'v1'] as const) {
      const obj = buildClusterProperty({ name: 'probe.clusterset-dns.io', value: 'tcp://10.0.0.5:4500' }, version);
      expect(obj.apiVersion).toBe(`about.k8s.io/${version}`);
      expect(parseClusterProperty(obj)).toEqual({ ok: true, value: { name: 'probe.clusterset-dns.io', value: 'tcp://10.0.0.5:4500' } });
    }
  });

  it('export conditions carry observedGeneration and second-precision times', () => {
    const status = buildExportStatus(
      { namespace: 'shop', name: 'web' },
      [{ type: 'Ready', status: 'True', reason: 'Exported', message: 'exported to the broker', lastTransitionTime: Date.parse('2024-05-01T10:00:00.999Z') }],
      3,
      'v1beta1',
    );
    const served = { ...status, metadata: { ...status.metadata, generation: 3 } };
    expect(readExportConditions(served)).toEqual({
      conditions: [{ type: 'Ready', status: 'True', reason: 'Exported', message: 'exported to the broker', lastTransitionTime: Date.parse('2024-05-01T10:00:00Z') }],
      observedGeneration: 3,
      generation: 3,
    });
  });

  it('an imported ServiceImport reads back with its status clusters', () => {
    const service = { namespace: 'shop', name: 'web', type: 'ClusterSetIP' as const, ips: [], ports: record.ports, sessionAffinity: 'None' as const, ipFamilies: ['IPv4' as const], clusters: ['east', 'west'] };
    const { object, status } = buildImportedServiceImport(service, 'v1beta1');
    expect(parseImportedServiceImport({ ...object, status: status['status'] })).toEqual({ ok: true, value: service });
  });
});

describe('traffic annotations travel on every object between the ServiceExport and the DNS server (issue 14)', () => {
  it('a broker record carries its export\'s policy and weight and reads them back', () => {
    const annotated: ExportRecord = { ...record, policy: 'nearest', weight: 0 };
    expect(roundTrip(annotated, ENDPOINTS)).toEqual({ whole: true, record: annotated, endpoints: ENDPOINTS });
    expect(validateExport(annotated, ENDPOINTS)).toEqual([]);
  });

  it('the broker validator refuses a forged policy or weight', () => {
    expect(validateExport({ ...record, policy: 'closest' as 'all' }, ENDPOINTS)).toEqual(['policy "closest" is unknown']);
    expect(validateExport({ ...record, weight: 1001 }, ENDPOINTS)).toEqual(['weight 1001 is not a whole number 0-1000']);
    expect(validateExport({ ...record, weight: 2.5 }, ENDPOINTS)).toEqual(['weight 2.5 is not a whole number 0-1000']);
  });

  it('the imported ServiceImport carries the service\'s policy; removing it differs from the served object', () => {
    const service = { namespace: 'shop', name: 'web', type: 'ClusterSetIP' as const, ips: [], ports: record.ports, sessionAffinity: 'None' as const, ipFamilies: ['IPv4' as const], clusters: ['east'], policy: 'remote-first' as const };
    const { object, status } = buildImportedServiceImport(service, 'v1beta1');
    expect(object.metadata.annotations).toEqual({ 'clusterset-dns.io/policy': 'remote-first' });
    expect(parseImportedServiceImport(asServed({ ...object, status: status['status'] }))).toEqual({ ok: true, value: service });
    const { policy: _dropped, ...withoutPolicy } = service;
    const plain = buildImportedServiceImport(withoutPolicy, 'v1beta1');
    expect(sameContent(plain.object, asServed(object))).toBe(false);
    // The status subresource writes no metadata: our annotation on the object is not its business.
    expect(sameContent(status, asServed({ ...object, status: status['status'] }), false)).toBe(true);
    expect(parseImportedServiceImport({ ...object, metadata: { ...object.metadata, annotations: { 'clusterset-dns.io/policy': 'fastest' } } })).toEqual({
      ok: false,
      problems: ['annotation clusterset-dns.io/policy: policy "fastest" is not one of local-first, all, round-robin, remote-first, nearest'],
    });
  });

  it('imported MCS slices carry the source cluster\'s weight, region and zone and read them back', () => {
    const slice: ImportedSlice = { namespace: 'shop', name: 'web', sourceCluster: 'west', sliceName: 'web-west', endpoints: [{ addresses: ['10.97.0.5'], ready: true }], ports: [], weight: 0, region: 'eu-west', zone: 'eu-west-1a' };
    const [obj] = buildImportedSlices(slice);
    expect(obj!.metadata.annotations).toMatchObject({ 'clusterset-dns.io/weight': '0', 'clusterset-dns.io/region': 'eu-west', 'clusterset-dns.io/zone': 'eu-west-1a' });
    const parts = parseAll([asServed(obj)], (o) => parseImportedSlice(o, true));
    expect(assembleSlices(parts)).toEqual({ endpoints: slice.endpoints, ports: [], weight: 0, region: 'eu-west', zone: 'eu-west-1a' });
    const bad = asServed(obj) as Record<string, any>;
    bad.metadata.annotations['clusterset-dns.io/weight'] = '-1';
    bad.metadata.annotations['clusterset-dns.io/zone'] = 'no spaces';
    const parsed = parseImportedSlice(bad, false);
    expect(parsed.ok ? [] : parsed.problems).toEqual([
      'annotation clusterset-dns.io/weight: weight "-1" is not a whole number from 0 to 1000',
      'annotation zone: "no spaces" is not a label value (letters, digits, \'-\', \'_\', \'.\')',
    ]);
  });
});

describe('sameContent: rewrite only what differs', () => {
  const slice: ImportedSlice = { namespace: 'shop', name: 'web', sourceCluster: 'west', sliceName: 'web-west', endpoints: [{ addresses: ['10.97.0.5'], ready: true }], ports: [{ name: '', protocol: 'TCP', port: 80 }] };
  const desired = buildImportedSlices(slice)[0]!;

  it('an object as the API server returns it is the same', () => {
    const served = asServed(desired) as Record<string, any>;
    served.metadata.labels['team'] = 'payments';
    served.metadata.annotations = { 'kubectl.kubernetes.io/last-applied': '{}' };
    delete served.endpoints[0].conditions; // nil ready means ready
    delete served.ports[0].name;
    expect(sameContent(desired, served)).toBe(true);
  });

  it('a changed readiness, a removed exclusion or a foreign edit of our label differ', () => {
    const notReady = buildImportedSlices({ ...slice, endpoints: [{ addresses: ['10.97.0.5'], ready: false }] })[0]!;
    expect(sameContent(notReady, desired)).toBe(false);
    const excluded = buildImportedSlices({ ...slice, excludedReason: 'stale' })[0]!;
    expect(sameContent(desired, excluded)).toBe(false);
    const edited = asServed(desired) as Record<string, any>;
    edited.metadata.labels['multicluster.kubernetes.io/source-cluster'] = 'north';
    expect(sameContent(desired, edited)).toBe(false);
    expect(sameContent(desired, undefined)).toBe(false);
  });

  it('spec fields we do not own (a VIP set by an allocator) are not ours to compare', () => {
    const { object } = buildImportedServiceImport({ namespace: 'shop', name: 'web', type: 'ClusterSetIP', ips: [], ports: [], sessionAffinity: 'None', ipFamilies: ['IPv4'], clusters: [] }, 'v1beta1');
    const served = asServed(object) as Record<string, any>;
    served.spec.ips = ['242.0.0.1'];
    expect(sameContent(object, served)).toBe(true);
  });
});

describe('each kind refuses what it must', () => {
  it('a lease that is not the cluster heartbeat, or not a lease at all', () => {
    const lease = buildLease({ cluster: 'east', renewedAt: Date.parse('2024-05-01T10:00:00Z'), durationMs: 30_000 }, 'b') as Record<string, any>;
    const renamed = { ...lease, metadata: { ...lease['metadata'], name: 'clusterset-dns.west' } };
    expect(parseLease(renamed)).toMatchObject({ ok: false, problems: ['name "clusterset-dns.west" is not "clusterset-dns.east"'] });
    const otherHolder = { ...lease, spec: { ...lease['spec'], holderIdentity: 'west' } };
    expect(parseLease(otherHolder)).toMatchObject({ ok: false, problems: ['spec.holderIdentity "west" is not east'] });
    expect(parseLease({ ...lease, spec: { ...lease['spec'], renewTime: 'soon' } })).toMatchObject({ ok: false, problems: ['spec.renewTime is not a time'] });
  });

  it('a probe target that does not parse costs only itself, never the lease', () => {
    const lease = buildLease({ cluster: 'east', renewedAt: Date.parse('2024-05-01T10:00:00Z'), durationMs: 30_000 }, 'b');
    lease.metadata.annotations = { [ANNOTATION_PROBE_TARGETS]: 'tcp://0.0.0.0:1,tcp://10.0.0.5:4500' };
    const parsed = parseLease(lease);
    expect(parsed).toMatchObject({
      ok: true,
      value: { cluster: 'east', properties: { probeTargets: [expect.objectContaining({ text: 'tcp://10.0.0.5:4500' })] } },
      propertyProblems: [`annotation ${ANNOTATION_PROBE_TARGETS}: probe.clusterset-dns.io: "tcp://0.0.0.0:1": host 0.0.0.0 is the unspecified address`],
    });
  });

  it('a ClusterProperty of another kind or version, with no string value or a name that is not one', () => {
    const good = buildClusterProperty({ name: 'id.k8s.io', value: 'east' });
    expect(parseClusterProperty({ ...good, apiVersion: 'about.k8s.io/v2' })).toEqual({ ok: false, problems: ['apiVersion "about.k8s.io/v2" is not about.k8s.io/v1 or about.k8s.io/v1alpha1'] });
    expect(parseClusterProperty({ ...good, kind: 'Property' })).toEqual({ ok: false, problems: ['kind "Property" is not ClusterProperty'] });
    expect(parseClusterProperty({ ...good, spec: { value: 5 } })).toEqual({ ok: false, problems: ['spec.value is not a string'] });
    expect(parseClusterProperty({ ...good, metadata: { name: 'Bad_Name' } })).toEqual({ ok: false, problems: ['metadata.name "Bad_Name" is not a DNS subdomain'] });
    expect(parseClusterProperty({ ...good, spec: { value: 'x'.repeat(128_001) } })).toEqual({ ok: false, problems: ['spec.value is longer than 128000 characters'] });
  });

  it('a ServiceImport with a port the validator refuses, or a cluster ID that is not one', () => {
    const { object, status } = buildImportedServiceImport({ namespace: 'shop', name: 'web', type: 'ClusterSetIP', ips: [], ports: [{ name: 'http', protocol: 'TCP', port: 80 }], sessionAffinity: 'None', ipFamilies: ['IPv4'], clusters: ['east'] }, 'v1beta1');
    const bad = JSON.parse(JSON.stringify({ ...object, status: status['status'] })) as Record<string, any>;
    bad['spec'].ports[0].port = 70_000;
    expect(parseImportedServiceImport(bad)).toMatchObject({ ok: false, problems: ['spec.ports[0].port 70000 is not 1-65535'] });
    bad['spec'].ports[0].port = 80;
    bad['status'].clusters = [{ cluster: 'a.b.c' }];
    expect(parseImportedServiceImport(bad)).toMatchObject({ ok: false, problems: ['status.clusters has an invalid cluster "a.b.c"'] });
  });

  it('an MCS slice with a hostname that is not a DNS label (the same validator as broker content)', () => {
    const [obj] = buildImportedSlices({ namespace: 'shop', name: 'db', sourceCluster: 'north', sliceName: 'db-north', endpoints: [{ addresses: ['10.97.0.5'], hostname: 'db-0', ready: true }], ports: [] });
    const served = asServed(obj) as Record<string, any>;
    served['endpoints'][0].hostname = 'db.0';
    expect(parseImportedSlice(served, false)).toMatchObject({ ok: false, problems: ['endpoints[0].hostname is not a DNS label'] });
  });

  it('an imported slice under a name that is not ours is refused only where our naming is required', () => {
    const [obj] = buildImportedSlices({ namespace: 'shop', name: 'db', sourceCluster: 'north', sliceName: 'db-north', endpoints: [], ports: [] });
    const renamed = { ...asServed(obj), metadata: { ...obj!.metadata, name: 'someone-elses' } };
    expect(parseImportedSlice(renamed, true)).toMatchObject({ ok: false, problems: ['name "someone-elses" is not one of ours'] });
    expect(parseImportedSlice(renamed, false).ok).toBe(true);
  });
});

describe('Submariner Gateway (read only)', () => {
  const gw = (status: unknown) => ({ apiVersion: 'submariner.io/v1', kind: 'Gateway', metadata: { name: 'gw-1', namespace: 'submariner-operator' }, status });
  const conn = (cluster: unknown, status: unknown) => ({ endpoint: { cluster_id: cluster, backend: 'libreswan' }, status, statusMessage: `${String(status)} now` });

  it('reads whether it is active and each connection\'s cluster and state', () => {
    expect(parseSubmarinerGateway(gw({ haStatus: 'active', connections: [conn('west', 'connected'), conn('north.prod', 'error'), conn('south', 'connecting')] }))).toEqual({
      ok: true,
      value: {
        name: 'gw-1',
        active: true,
        connections: [
          { cluster: 'west', status: 'connected', message: 'connected now' },
          { cluster: 'north.prod', status: 'error', message: 'error now' },
          { cluster: 'south', status: 'connecting', message: 'connecting now' },
        ],
      },
    });
    expect(parseSubmarinerGateway(gw({ haStatus: 'passive', connections: [] }))).toEqual({ ok: true, value: { name: 'gw-1', active: false, connections: [] } });
  });

  it('refuses what it cannot trust', () => {
    expect(parseSubmarinerGateway({ metadata: { name: 'x' } })).toEqual({ ok: false, problems: ['status is missing'] });
    expect(parseSubmarinerGateway(gw({ haStatus: 'active', connections: [conn('a.b.c', 'connected')] }))).toEqual({ ok: false, problems: ['status.connections[0].endpoint.cluster_id "a.b.c" is not a cluster ID'] });
    expect(parseSubmarinerGateway(gw({ haStatus: 'active', connections: [conn('west', 'up')] }))).toEqual({ ok: false, problems: ['status.connections[0].status "up" is not connected, connecting or error'] });
    expect(parseSubmarinerGateway(gw({ haStatus: 'active', connections: 'west' }))).toEqual({ ok: false, problems: ['status.connections is not a list'] });
  });
});
