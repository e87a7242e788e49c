import { describe, expect, it } from 'vitest';
import { formatFieldError, translateObject } from '../../src/kube/translate.ts';
import { parseYamlDocuments } from '../../src/kube/yaml.ts';

const opts = { defaultCreatedAt: () => 1_000 };

function svc(spec: Record<string, unknown>, meta: Record<string, unknown> = {}): unknown {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', ...meta }, spec };
}

function slice(extra: Record<string, unknown>, labels: Record<string, unknown> = { 'kubernetes.io/service-name': 'web' }): unknown {
  return { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: 'shop', labels }, addressType: 'IPv4', ...extra };
}

function errorsOf(input: unknown): string[] {
  const r = translateObject(input, opts);
  if (r.status !== 'invalid') throw new Error(`expected invalid, got ${r.status}`);
  return r.errors.map(formatFieldError);
}

describe('translation errors name the exact field', () => {
  const cases: { name: string; input: unknown; error: string }[] = [
    {
      name: 'port out of range',
      input: svc({ clusterIP: '10.0.0.1', ports: [{ name: 'http', port: 80 }, { name: 'grpc', port: 70000 }] }),
      error: 'spec.ports[1].port: must be 1-65535, got 70000',
    },
    {
      name: 'port as a string',
      input: svc({ clusterIP: '10.0.0.1', ports: [{ name: 'http', port: '80' }] }),
      error: 'spec.ports[0].port: must be 1-65535, got "80"',
    },
    {
      name: 'unknown protocol',
      input: svc({ clusterIP: '10.0.0.1', ports: [{ name: 'http', port: 80, protocol: 'HTTP' }] }),
      error: 'spec.ports[0].protocol: must be one of TCP, UDP, SCTP, got "HTTP"',
    },
    {
      name: 'unnamed port among several',
      input: svc({ clusterIP: '10.0.0.1', ports: [{ port: 80 }, { name: 'b', port: 81 }] }),
      error: 'spec.ports[0].name: required when a service has more than one port',
    },
    {
      name: 'bad cluster IP',
      input: svc({ clusterIP: '10.0.0.300', ports: [{ port: 80 }] }),
      error: 'spec.clusterIP: must be an IP address or "None", got "10.0.0.300"',
    },
    {
      name: 'cluster IP with a zone ID',
      input: svc({ clusterIP: 'fe80::1%eth0', ports: [{ port: 80 }] }),
      error: 'spec.clusterIP: must be an IP address or "None", got "fe80::1%eth0" (IPv6 zone IDs (%…) are not allowed in a service address)',
    },
    {
      name: 'ipFamilies disagree with clusterIPs',
      input: svc({ clusterIPs: ['10.0.0.1'], ipFamilies: ['IPv6'], ports: [{ port: 80 }] }),
      error: 'spec.ipFamilies[0]: must match the family of spec.clusterIPs (IPv4), got "IPv6"',
    },
    {
      name: 'ClusterIP service without ports',
      input: svc({ clusterIP: '10.0.0.1' }),
      error: 'spec.ports: required for a ClusterIP service',
    },
    {
      name: 'service name with capitals',
      input: svc({ clusterIP: '10.0.0.1', ports: [{ port: 80 }] }, { name: 'Web' }),
      error: 'metadata.name: must be a DNS-1035 label (lowercase letters, digits and "-", starting with a letter, at most 63 characters), got "Web"',
    },
    {
      name: 'bad namespace',
      input: svc({ clusterIP: '10.0.0.1', ports: [{ port: 80 }] }, { namespace: 'Shop_1' }),
      error: 'metadata.namespace: must be a DNS label, got "Shop_1"',
    },
    {
      name: 'unknown session affinity',
      input: svc({ clusterIP: '10.0.0.1', ports: [{ port: 80 }], sessionAffinity: 'Cookie' }),
      error: 'spec.sessionAffinity: must be one of None, ClientIP, got "Cookie"',
    },
    {
      name: 'slice without the service-name label',
      input: slice({ endpoints: [] }, {}),
      error: 'metadata.labels["kubernetes.io/service-name"]: required',
    },
    {
      name: 'slice address of the wrong family',
      input: slice({ endpoints: [{ addresses: ['fd00::1'] }] }),
      error: 'endpoints[0].addresses[0]: must be an IPv4 address (addressType IPv4), got "fd00::1"',
    },
    {
      name: 'slice endpoint without addresses',
      input: slice({ endpoints: [{ addresses: [] }] }),
      error: 'endpoints[0].addresses: must list at least one address',
    },
    {
      name: 'slice ready that is not a boolean',
      input: slice({ endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: 'yes' } }] }),
      error: 'endpoints[0].conditions.ready: must be true or false, got "yes"',
    },
    {
      name: 'slice hostname that is not a DNS label',
      input: slice({ endpoints: [{ addresses: ['10.0.0.1'], hostname: 'db_0' }] }),
      error: 'endpoints[0].hostname: must be a DNS label, got "db_0"',
    },
    {
      name: 'slice of the wrong API version',
      input: { ...(slice({ endpoints: [] }) as object), apiVersion: 'discovery.k8s.io/v1beta1' },
      error: 'apiVersion: must be discovery.k8s.io/v1, got "discovery.k8s.io/v1beta1"',
    },
    {
      name: 'export with a bad timestamp',
      input: { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'web', namespace: 'shop', creationTimestamp: 'yesterday' } },
      error: 'metadata.creationTimestamp: must be an RFC 3339 time like 2024-05-01T10:00:00Z, got "yesterday"',
    },
    {
      name: 'export of an unknown group',
      input: { apiVersion: 'example.com/v1', kind: 'ServiceExport', metadata: { name: 'web' } },
      error: 'apiVersion: must be multicluster.x-k8s.io/v1alpha1 or multicluster.x-k8s.io/v1alpha2 or multicluster.x-k8s.io/v1beta1, got "example.com/v1"',
    },
    {
      name: 'ServiceImport with a bad VIP',
      input: { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceImport', metadata: { name: 'web', namespace: 'shop' }, spec: { ips: ['not-an-ip'] } },
      error: 'spec.ips[0]: must be an IP address, got "not-an-ip"',
    },
    {
      name: 'object without metadata',
      input: { apiVersion: 'v1', kind: 'Service', spec: { clusterIP: '10.0.0.1', ports: [{ port: 80 }] } },
      error: 'metadata: required',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(errorsOf(c.input)).toContain(c.error);
    });
  }

  it('a document that is not an object is invalid, not a crash', () => {
    for (const input of ['text', 42, [1, 2], true]) {
      expect(translateObject(input, opts).status).toBe('invalid');
    }
  });

  it('other kinds are ignored with a reason', () => {
    const r = translateObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } }, opts);
    expect(r).toEqual({ status: 'ignored', description: 'Deployment default/x', reason: 'kind Deployment is not used by clusterset-dns' });
  });
});

describe('translation of valid objects', () => {
  it('a dual-stack ClusterIP service keeps both IPs and derives families', () => {
    const r = translateObject(svc({ clusterIPs: ['10.0.0.1', 'fd00::1'], ports: [{ name: 'http', port: 80, appProtocol: 'http' }], sessionAffinity: 'ClientIP' }), opts);
    expect(r).toEqual({
      status: 'ok',
      description: 'Service shop/web',
      object: {
        kind: 'Service',
        service: {
          namespace: 'shop',
          name: 'web',
          type: 'ClusterIP',
          clusterIPs: ['10.0.0.1', 'fd00::1'],
          headless: false,
          ipFamilies: ['IPv4', 'IPv6'],
          ports: [{ name: 'http', protocol: 'TCP', port: 80, appProtocol: 'http' }],
          sessionAffinity: 'ClientIP',
          publishNotReadyAddresses: false,
        },
      },
    });
  });

  it('clusterIP None is headless and needs no ports; namespace defaults to default', () => {
    const r = translateObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { clusterIP: 'None', publishNotReadyAddresses: true } }, opts);
    expect(r.status === 'ok' && r.object.kind === 'Service' && r.object.service).toMatchObject({
      namespace: 'default',
      headless: true,
      clusterIPs: [],
      ipFamilies: [],
      publishNotReadyAddresses: true,
    });
  });

  it('an EndpointSlice: nil ready is ready, hostnames kept, port-less entries dropped', () => {
    const r = translateObject(
      slice({
        endpoints: [{ addresses: ['10.0.0.1'], hostname: 'db-0' }, { addresses: ['10.0.0.2'], conditions: { ready: false } }, { addresses: ['10.0.0.3'], conditions: {} }],
        ports: [{ name: 'postgres', port: 5432 }, { name: 'all' }],
      }),
      opts,
    );
    expect(r.status === 'ok' && r.object.kind === 'EndpointSlice' && r.object.slice).toEqual({
      namespace: 'shop',
      name: 'web',
      sliceName: 'web-1',
      addressType: 'IPv4',
      endpoints: [
        { addresses: ['10.0.0.1'], hostname: 'db-0', ready: true },
        { addresses: ['10.0.0.2'], ready: false },
        { addresses: ['10.0.0.3'], ready: true },
      ],
      ports: [{ name: 'postgres', protocol: 'TCP', port: 5432 }],
    });
  });

  it('ServiceExport creationTimestamp is honoured, missing one gets the load time (v1alpha1 and v1beta1)', () => {
    const withTime = translateObject(
      { apiVersion: 'multicluster.x-k8s.io/v1beta1', kind: 'ServiceExport', metadata: { name: 'web', namespace: 'shop', creationTimestamp: '2024-05-01T10:00:00Z', generation: 3 } },
      opts,
    );
    expect(withTime.status === 'ok' && withTime.object).toEqual({
      kind: 'ServiceExport',
      serviceExport: { namespace: 'shop', name: 'web', createdAt: Date.parse('2024-05-01T10:00:00Z'), generation: 3 },
    });
    const calls: string[] = [];
    const without = translateObject(
      { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'web', namespace: 'shop' } },
      { defaultCreatedAt: (ns, name) => (calls.push(`${ns}/${name}`), 777) },
    );
    expect(without.status === 'ok' && without.object.kind === 'ServiceExport' && without.object.serviceExport.createdAt).toBe(777);
    expect(calls).toEqual(['shop/web']);
  });

  it('a Date creationTimestamp (some YAML loaders) is accepted', () => {
    const r = translateObject(
      { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'web', namespace: 'shop', creationTimestamp: new Date(5_000) } },
      opts,
    );
    expect(r.status === 'ok' && r.object.kind === 'ServiceExport' && r.object.serviceExport.createdAt).toBe(5_000);
  });

  it('a ServiceImport gives the service its VIPs', () => {
    const r = translateObject({ apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceImport', metadata: { name: 'web', namespace: 'shop' }, spec: { ips: ['10.255.0.1', 'fd00::ff'] } }, opts);
    expect(r.status === 'ok' && r.object).toEqual({ kind: 'ServiceImport', vip: { namespace: 'shop', name: 'web', ips: ['10.255.0.1', 'fd00::ff'] } });
  });
});

describe('YAML documents', () => {
  it('keeps the index of each document, skipping empty ones', () => {
    const r = parseYamlDocuments('a: 1\n---\n---\nb: 2\n');
    expect(r).toEqual({ ok: true, documents: [{ index: 1, value: { a: 1 } }, { index: 3, value: { b: 2 } }] });
  });

  it('reports a syntax error with its line', () => {
    const r = parseYamlDocuments('a: 1\nb: [1\nc: 2\n');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(/^YAML syntax error at line 3, column 1: /);
  });
});
