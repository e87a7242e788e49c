/**
 * `clusterset-dns dns` on a real kube-apiserver, with the manifests' read-only DNS-server role:
 * SERVFAIL and /readyz 503 until the imports are synced, answers from any MCS implementation's
 * ServiceImports and EndpointSlices, and the last state served (marked stale) while the API
 * server is down, then new changes once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusters, type ClusterSet } from '../harness/index.ts';
import { httpGet } from '../harness/net.ts';
import { HARNESS_SETUP_TIMEOUT_MS } from '../harness/vitest.ts';
import { startDns, type RunningDns } from '../../src/runtime/dns.ts';
import { DEFAULT_DNS_OPTIONS } from '../../src/config/options.ts';
import { createLogger } from '../../src/observability/index.ts';
import { RestartableApiserver, apply, ask, dnsServerConfig, eventually, expectAnswer } from './agent-helpers.ts';

const Z = 'svc.clusterset.local';
let set: ClusterSet;
let apiserver: RestartableApiserver;
let dns: RunningDns | undefined;

/** What some other MCS implementation would write: no clusterset-dns labels at all. */
function foreignImport(ns: string, name: string) {
  return {
    apiVersion: 'multicluster.x-k8s.io/v1alpha1',
    kind: 'ServiceImport',
    metadata: { name, namespace: ns },
    spec: { type: 'ClusterSetIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  };
}
function foreignSlice(ns: string, service: string, cluster: string, ip: string, ready: boolean) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${service}-${cluster}-x1`,
      namespace: ns,
      labels: { 'multicluster.kubernetes.io/service-name': service, 'multicluster.kubernetes.io/source-cluster': cluster, 'endpointslice.kubernetes.io/managed-by': 'other-mcs-controller' },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [ip], conditions: { ready } }],
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
  };
}

async function readyz(): Promise<number> {
  return (await httpGet(`http://127.0.0.1:${dns!.httpPort}/readyz`, { timeoutMs: 2000 })).status;
}

beforeAll(async () => {
  set = await startClusters({ names: ['solo'], broker: false, log: (l) => process.stderr.write(`[harness] ${l}\n`) });
  apiserver = new RestartableApiserver(set.dir, set.get('solo'));
}, HARNESS_SETUP_TIMEOUT_MS);

afterAll(async () => {
  await dns?.stop();
  if (apiserver?.running) await apiserver.stop();
  await set?.stop();
}, 120_000);

describe('dns command on a real apiserver', () => {
  it('answers SERVFAIL (never NXDOMAIN) and /readyz 503 until synced, then answers', async () => {
    const solo = set.get('solo');
    const kubeConfig = await dnsServerConfig(solo);
    await apply(solo.kubeConfig, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }, foreignImport('shop', 'web'), foreignSlice('shop', 'web', 'east', '10.96.0.10', true), foreignSlice('shop', 'web', 'west', '10.97.0.10', true));
    // The API server is down when the DNS server starts: it must not claim any name is missing.
    await apiserver.stop();
    dns = await startDns({
      clusterId: 'east',
      kubeConfig,
      server: { dns: DEFAULT_DNS_OPTIONS, listen: { host: '127.0.0.1', port: 0 }, httpListen: { host: '127.0.0.1', port: 0 }, workers: 0, tcpIdleTimeoutMs: 10_000, tcpMaxConnections: 64, logLevel: 'silent' },
      logger: createLogger({ level: 'silent' }),
      initialBackoffMs: 200,
      maxBackoffMs: 1_000,
    });
    for (const name of [`web.shop.${Z}`, `nope.shop.${Z}`]) expect((await ask(dns.dnsPort, name)).status).toBe('SERVFAIL');
    expect(await readyz()).toBe(503);
    await apiserver.start();
    await expectAnswer(dns.dnsPort, `web.shop.${Z}`, 'A', ['10.96.0.10'], 30_000);
    await expectAnswer(dns.dnsPort, `west.web.shop.${Z}`, 'A', ['10.97.0.10']);
    expect((await ask(dns.dnsPort, `nope.shop.${Z}`)).status).toBe('NXDOMAIN');
    expect(await readyz()).toBe(200);
  });

  it('keeps answering from the last state while the API server is gone, and says so', async () => {
    await apiserver.stop();
    await eventually('source marked stale', 20_000, async () => expect(dns!.source.current().staleSource?.reason).toMatch(/unreachable/));
    await expectAnswer(dns!.dnsPort, `web.shop.${Z}`, 'A', ['10.96.0.10']);
    await expectAnswer(dns!.dnsPort, `west.web.shop.${Z}`, 'A', ['10.97.0.10']);
    const explain = await httpGet(`http://127.0.0.1:${dns!.httpPort}/debug/explain?name=web.shop.${Z}&type=A`, { timeoutMs: 2000 });
    expect(JSON.parse(explain.body).snapshot.staleSource.reason).toMatch(/unreachable/);
    expect(await readyz()).toBe(200);
  });

  it('picks up changes made once the API server is back (east not ready: west answers)', async () => {
    await apiserver.start();
    await eventually('apply accepted', 30_000, () => apply(set.get('solo').kubeConfig, foreignSlice('shop', 'web', 'east', '10.96.0.10', false)));
    await expectAnswer(dns!.dnsPort, `web.shop.${Z}`, 'A', ['10.97.0.10'], 30_000);
    await eventually('stale mark cleared', 20_000, async () => expect(dns!.source.current().staleSource).toBeUndefined());
  });
});
