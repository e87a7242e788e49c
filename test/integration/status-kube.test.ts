// `clusterset-dns status` against real apiservers: two member clusters running the real agent on a
// real broker, read the way an operator would — one $KUBECONFIG listing two files (merged, as kubectl
// does), --context for the member and --broker-context for the broker. The report must show both
// clusters fresh, the exported service served by both, the port conflict with its winner, and the
// local export's conditions; then a stopped agent's cluster turns stale and --wait exits 1.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/runtime/agent.ts';
import { createAgentHttp } from '../../src/runtime/agent-http.ts';
import { agentStatusReport } from '../../src/runtime/agent-status.ts';
import { httpGet } from '../harness/net.ts';
import { main } from '../../src/cli/main.ts';
import type { StatusReport } from '../../src/model/status-report.ts';
import { createLogger } from '../../src/observability/index.ts';
import { kubeconfigYaml } from '../harness/kubeconfig.ts';
import { HARNESS_SETUP_TIMEOUT_MS, useClusterSet } from '../harness/vitest.ts';
import { apply, eventually } from './agent-helpers.ts';

const id = randomBytes(3).toString('hex');
const APP = `status-app-${id}`;
const BROKER_NS = `status-broker-${id}`;
const logger = createLogger({ level: 'silent' });

async function status(env: Record<string, string>, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = new Writable({ write(c, _e, d) { out += String(c); d(); } });
  const stderr = new Writable({ write(c, _e, d) { err += String(c); d(); } });
  const code = await main(['status', ...argv], env, { stdout, stderr });
  return { code, out, err };
}

describe('status on real apiservers, credentials from a merged $KUBECONFIG', () => {
  const clusters = useClusterSet({ names: ['east', 'west'], broker: true });
  let dir: string;
  let env: Record<string, string>;
  const agents: Partial<Record<'east' | 'west', RunningAgent>> = {};
  let args: string[];

  beforeAll(async () => {
    const set = clusters();
    const broker = set.broker!;
    dir = mkdtempSync(join(tmpdir(), 'csdns-status-kube-'));
    await broker.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: BROKER_NS } } });
    for (const name of ['west', 'east'] as const) {
      const member = set.get(name);
      await member.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: APP } } });
      // west exports first (older, wins); east's port has the same name and another number.
      await apply(member.kubeConfig,
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: APP }, spec: { ports: [{ name: 'http', port: name === 'west' ? 80 : 8080, protocol: 'TCP' }] } },
        { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', namespace: APP, labels: { 'kubernetes.io/service-name': 'web' } },
          addressType: 'IPv4', endpoints: [{ addresses: [name === 'west' ? '10.244.2.10' : '10.244.1.10'], conditions: { ready: true } }], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
        { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'web', namespace: APP } },
      );
      agents[name] = startAgent({
        clusterId: name, local: member.kubeConfig, broker: broker.kubeConfig, brokerNamespace: BROKER_NS, namespaces: [APP],
        leaseDurationMs: 4_000, leaseRenewMs: 1_000, gcGraceMs: 600_000, resyncMs: 0, concurrency: 2, logger, initialBackoffMs: 200, maxBackoffMs: 2_000, retryBaseMs: 200,
      });
      await agents[name]!.started;
      if (name === 'west') await new Promise((r) => setTimeout(r, 1_100)); // creationTimestamps have second resolution
    }
    // One file per API server, as kubectl users keep them; the broker file's context is "broker".
    writeFileSync(join(dir, 'broker.yaml'), kubeconfigYaml({ ...broker, name: 'broker' }, 'admin', broker.adminToken, BROKER_NS), { mode: 0o600 });
    env = { KUBECONFIG: `${set.get('east').kubeconfigPath}:${join(dir, 'broker.yaml')}`, HOME: dir };
    args = ['--context', 'east', '--cluster-id', 'east', '--broker-context', 'broker', '--broker-namespace', BROKER_NS, '-n', APP, '-o', 'json'];
  }, HARNESS_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled(Object.values(agents).map((a) => a!.stop()));
    const set = clusters();
    for (const name of ['east', 'west']) await set.get(name).kubeConfig.makeApiClient(CoreV1Api).deleteNamespace({ name: APP }).catch(() => undefined);
    await set.broker?.kubeConfig.makeApiClient(CoreV1Api).deleteNamespace({ name: BROKER_NS }).catch(() => undefined);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('shows both clusters fresh, who serves web, the conflict and its winner, and east\'s export conditions', async () => {
    const report = await eventually('web imported in east from both clusters', 60_000, async () => {
      const r = await status(env, ...args);
      if (r.code !== 0) throw new Error(r.err);
      const s = JSON.parse(r.out) as StatusReport;
      const web = s.services.find((x) => x.name === 'web');
      if (web?.clusters.length !== 2 || s.exports[0]?.conditions.length !== 3) throw new Error(r.out);
      return s;
    });
    expect(report.source).toBe('cluster');
    expect(report.clusters.map((c) => [c.id, c.state, c.exports])).toEqual([['east', 'fresh', 1], ['west', 'fresh', 1]]);
    const web = report.services.find((x) => x.name === 'web')!;
    expect(web.clusters.map((c) => [c.id, c.serving, c.readyEndpoints])).toEqual([['east', true, 1], ['west', false, 1]]);
    expect(web.clusters[1]!.reason).toBe('not needed: local cluster east is healthy (local-first)');
    expect(web.conflicts.map((c) => [c.reason, c.winner])).toEqual([['PortConflict', 'west']]);
    expect(report.exports[0]!.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`)).toEqual(['Valid=True/Valid', 'Ready=True/Exported', 'Conflict=True/PortConflict']);
    expect(report.ready).toBe(true);
  });

  it('the agent serves the same report at /status and the status page at /', async () => {
    const east = agents.east!;
    const http = createAgentHttp({
      listen: { host: '127.0.0.1', port: 0 },
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      notReady: () => east.notReady(),
      logger,
      status: (filter) => agentStatusReport({ clusterId: 'east', local: east.local, broker: east.broker, gcGraceMs: 600_000, filter }),
    });
    const { port } = await http.start();
    try {
      const served = JSON.parse((await httpGet(`http://127.0.0.1:${port}/status?namespace=${APP}`)).body) as StatusReport;
      const fromCli = JSON.parse((await status(env, ...args)).out) as StatusReport;
      expect(served.clusters.map((c) => [c.id, c.state])).toEqual(fromCli.clusters.map((c) => [c.id, c.state]));
      expect(served.services).toEqual(fromCli.services);
      expect(served.exports.map((e) => e.conditions.map((c) => c.reason))).toEqual(fromCli.exports.map((e) => e.conditions.map((c) => c.reason)));
      const page = await httpGet(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/^<!doctype html>/);
    } finally {
      await http.stop();
    }
  });

  it('a stopped agent makes its cluster stale; --wait then exits 1 naming it', async () => {
    await agents.west!.stop();
    delete agents.west;
    const stale = await eventually('west stale', 30_000, async () => {
      const s = JSON.parse((await status(env, ...args)).out) as StatusReport;
      if (s.clusters.find((c) => c.id === 'west')?.state !== 'stale') throw new Error(JSON.stringify(s.clusters));
      return s;
    });
    expect(stale.clusters.find((c) => c.id === 'west')!.leaseAgeSeconds).toBeGreaterThanOrEqual(4); // past the 4 s lease (shown to 0.1 s)
    const waited = await status(env, ...args, '--wait', '--timeout', '2');
    expect(waited.code).toBe(1);
    expect(waited.err).toMatch(/^clusterset-dns: not ready after 2s: .*cluster west: stale \(lease expired at /);
  });

  it('a context that is not in $KUBECONFIG is one line naming the contexts there are', async () => {
    const r = await status(env, '--context', 'mars', '--cluster-id', 'east');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^clusterset-dns: --context mars: no such context in \$KUBECONFIG .* \(contexts: .*east.*broker.*\)\n$/);
  });
});
