// The real CoreDNS built by test/peers/build.sh: names resolve THROUGH it with `dig` — forwarded to
// a small upstream server (as a cluster's CoreDNS forwards clusterset.local to our DNS server),
// from a zone file, and from a real kube-apiserver with the kubernetes plugin.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dns2 from 'dns2';
import { CoreV1Api, DiscoveryV1Api } from '@kubernetes/client-node';
import { ensureBinary, freeDnsPort, startCoreDNS, type CoreDNSInstance } from '../harness/index.ts';
import { HARNESS_SETUP_TIMEOUT_MS, useClusterSet } from '../harness/vitest.ts';
import { httpGet } from '../harness/net.ts';

const run = promisify(execFile);

interface DigResult {
  status: string;
  flags: string[];
  answers: string[];
}

/** `dig` against 127.0.0.1:port; parses status, header flags and the answer section. */
async function dig(port: number, name: string, type = 'A', extra: string[] = []): Promise<DigResult> {
  let stdout: string;
  try {
    ({ stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), name, type, '+time=2', '+tries=2', '+nocmd', '+nostats', '+noquestion', ...extra]));
  } catch (err) {
    const e = err as { code?: string; stdout?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('dig not found: install it (Debian: apt-get install -y bind9-dnsutils)');
    throw new Error(`dig failed: ${e.message}\n${e.stdout ?? ''}`);
  }
  const status = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? 'NONE';
  const flags = (/;; flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const answerSection = /;; ANSWER SECTION:\n([\s\S]*?)(\n\n|$)/.exec(stdout)?.[1] ?? '';
  const answers = answerSection.split('\n').filter((l) => l.trim() !== '').map((l) => l.split(/\s+/).slice(3).join(' '));
  return { status, flags, answers };
}

describe('CoreDNS forwarding clusterset.local to an upstream DNS server', () => {
  const queries: string[] = [];
  let upstream: ReturnType<typeof dns2.createServer>;
  let upstreamPort: number;
  let coredns: CoreDNSInstance;

  beforeAll(async () => {
    const binary = await ensureBinary('coredns', { log: (l) => process.stderr.write(`${l}\n`) });
    upstreamPort = await freeDnsPort();
    upstream = dns2.createServer({
      udp: true,
      tcp: true,
      handle: (request, send) => {
        const response = dns2.Packet.createResponseFromRequest(request);
        const question = request.questions[0];
        if (question !== undefined) {
          queries.push(question.name.toLowerCase());
          if (question.name.toLowerCase() === 'web.demo.svc.clusterset.local' && question.type === dns2.Packet.TYPE.A) {
            const answer = { name: question.name, type: dns2.Packet.TYPE.A, class: dns2.Packet.CLASS.IN, ttl: 5, address: '192.0.2.10' };
            // dns2's typings want toBuffer() on resources; its encoder takes plain records.
            response.answers.push(answer as unknown as (typeof response.answers)[number]);
          } else if (!question.name.toLowerCase().startsWith('web.')) {
            response.header.rcode = 3; // NXDOMAIN
          }
        }
        send(response);
      },
    });
    await upstream.listen({ udp: { port: upstreamPort, address: '127.0.0.1' }, tcp: { port: upstreamPort, address: '127.0.0.1' } });
    coredns = await startCoreDNS({
      binary,
      files: {
        'db.bench.test': [
          '$ORIGIN bench.test.',
          '@ 3600 IN SOA ns.bench.test. admin.bench.test. 1 7200 3600 1209600 5',
          '@ 3600 IN NS ns.bench.test.',
          'ns 3600 IN A 192.0.2.53',
          'www 30 IN A 192.0.2.80',
          '',
        ].join('\n'),
      },
      corefile: (p) => `
clusterset.local:${p.dns} {
    bind 127.0.0.1
    errors
    log
    prometheus 127.0.0.1:${p.metrics}
    forward . 127.0.0.1:${upstreamPort}
}
bench.test:${p.dns} {
    bind 127.0.0.1
    file db.bench.test
}
.:${p.dns} {
    bind 127.0.0.1
    errors
    health 127.0.0.1:${p.health}
    ready 127.0.0.1:${p.ready}
    prometheus 127.0.0.1:${p.metrics}
    cache 5
    whoami
}
`,
    });
  }, HARNESS_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await coredns?.stop();
    await upstream?.close();
  });

  it('resolves a clusterset.local name through CoreDNS over UDP and TCP', async () => {
    const udp = await dig(coredns.ports.dns, 'web.demo.svc.clusterset.local');
    expect(udp.status).toBe('NOERROR');
    expect(udp.answers).toEqual(['A 192.0.2.10']);
    const tcp = await dig(coredns.ports.dns, 'WEB.demo.svc.clusterset.local', 'A', ['+tcp']);
    expect(tcp.status).toBe('NOERROR');
    expect(tcp.answers).toEqual(['A 192.0.2.10']);
    expect(queries).toContain('web.demo.svc.clusterset.local');
  });

  it('passes the upstream NXDOMAIN through', async () => {
    const result = await dig(coredns.ports.dns, 'missing.demo.svc.clusterset.local');
    expect(result.status).toBe('NXDOMAIN');
    expect(queries).toContain('missing.demo.svc.clusterset.local');
  });

  it('serves a zone file with the file plugin (authoritative)', async () => {
    const result = await dig(coredns.ports.dns, 'www.bench.test');
    expect(result.status).toBe('NOERROR');
    expect(result.flags).toContain('aa');
    expect(result.answers).toEqual(['A 192.0.2.80']);
  });

  it('answers other names with whoami, and never forwards them upstream', async () => {
    const before = queries.length;
    const result = await dig(coredns.ports.dns, 'example.org');
    expect(result.status).toBe('NOERROR');
    expect(queries.length).toBe(before);
  });

  it('reports health, readiness and forward metrics', async () => {
    expect((await httpGet(`http://127.0.0.1:${coredns.ports.health}/health`)).status).toBe(200);
    expect((await httpGet(`http://127.0.0.1:${coredns.ports.ready}/ready`)).status).toBe(200);
    const metrics = await httpGet(`http://127.0.0.1:${coredns.ports.metrics}/metrics`);
    expect(metrics.body).toMatch(/coredns_dns_requests_total\{[^}]*zone="clusterset\.local\."[^}]*\} [1-9]/);
    const forwarded = new RegExp(`coredns_proxy_request_duration_seconds_count\\{[^}]*proxy_name="forward"[^}]*to="127\\.0\\.0\\.1:${upstreamPort}"[^}]*\\} [1-9]`);
    expect(metrics.body).toMatch(forwarded);
    expect(coredns.log()).toMatch(/"A IN web\.demo\.svc\.clusterset\.local\. udp/);
  });
});

describe('CoreDNS kubernetes plugin against a harness apiserver', () => {
  const clusters = useClusterSet();
  let coredns: CoreDNSInstance;
  const namespace = 'coredns-smoke';

  beforeAll(async () => {
    const east = clusters().get('east');
    const core = east.kubeConfig.makeApiClient(CoreV1Api);
    const discovery = east.kubeConfig.makeApiClient(DiscoveryV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const svc = await core.createNamespacedService({
      namespace,
      body: { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }], selector: { app: 'web' } } },
    });
    expect(svc.spec?.clusterIP).toMatch(/^10\.96\./);
    // No controllers run: the test writes the EndpointSlice the endpointslice controller would.
    await discovery.createNamespacedEndpointSlice({
      namespace,
      body: {
        metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['192.0.2.21'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    });
    coredns = await startCoreDNS({
      corefile: (p) => `
cluster.local:${p.dns} {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:${p.ready}
    kubernetes cluster.local {
        kubeconfig ${east.kubeconfigPath} ${east.name}
    }
}
`,
    });
  }, HARNESS_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await coredns?.stop();
  });

  it('resolves a Service and its endpoints from the real apiserver', async () => {
    const core = clusters().get('east').kubeConfig.makeApiClient(CoreV1Api);
    const svc = await core.readNamespacedService({ namespace, name: 'web' });
    const clusterIP = await dig(coredns.ports.dns, `web.${namespace}.svc.cluster.local`);
    expect(clusterIP.status).toBe('NOERROR');
    expect(clusterIP.answers).toEqual([`A ${svc.spec?.clusterIP}`]);
    const srv = await dig(coredns.ports.dns, `_http._tcp.web.${namespace}.svc.cluster.local`, 'SRV');
    expect(srv.answers).toEqual([`SRV 0 100 80 web.${namespace}.svc.cluster.local.`]);
    const missing = await dig(coredns.ports.dns, `nope.${namespace}.svc.cluster.local`);
    expect(missing.status).toBe('NXDOMAIN');
  });
});
