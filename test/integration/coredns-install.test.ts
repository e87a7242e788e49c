// `clusterset-dns coredns install|uninstall` against a real kube-apiserver: the ConfigMaps a cluster
// really has (kube-system/coredns from kubeadm, kube-system/node-local-dns), edited idempotently,
// refused on conflict without a write, and never losing a concurrent writer's change.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { installStub } from '../../src/corefile/index.ts';
import { updateCorefile } from '../../src/kube/coredns-configmap.ts';
import { HARNESS_SETUP_TIMEOUT_MS, useClusterSet } from '../harness/vitest.ts';
import { KUBEADM, NODELOCAL } from '../helpers/corefiles.ts';

function capture(): { stream: Writable; text: () => string } {
  let out = '';
  return {
    stream: new Writable({ write(chunk, _enc, done) { out += String(chunk); done(); } }),
    text: () => out,
  };
}

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = capture();
  const stderr = capture();
  const code = await main(argv, {}, { stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('coredns install|uninstall on a real apiserver', () => {
  const clusters = useClusterSet({ names: ['east', 'west'], broker: true });
  const suffix = randomBytes(3).toString('hex');
  // Own ConfigMap names: the cluster is shared with other test files.
  const COREDNS = { namespace: 'kube-system', name: `coredns-${suffix}` };
  const NODELOCAL_CM = { namespace: 'kube-system', name: `node-local-dns-${suffix}` };
  const APP_NS = `coredns-install-${suffix}`;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let kubeconfig: string;
  let dnsIP: string;

  const refs = () => ['--kubeconfig', kubeconfig, '--coredns-configmap', `${COREDNS.namespace}/${COREDNS.name}`, '--nodelocal-configmap', `${NODELOCAL_CM.namespace}/${NODELOCAL_CM.name}`];
  const read = async (ref: { namespace: string; name: string }) => core.readNamespacedConfigMap(ref);
  const put = async (ref: { namespace: string; name: string }, corefile: string) => {
    try {
      await core.deleteNamespacedConfigMap(ref);
    } catch { /* absent */ }
    await core.createNamespacedConfigMap({ namespace: ref.namespace, body: { metadata: { name: ref.name }, data: { Corefile: corefile } } });
  };

  beforeAll(async () => {
    const east = clusters().get('east');
    kc = east.kubeConfig;
    kubeconfig = east.kubeconfigPath;
    core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: APP_NS } } });
    // The DNS server's Service as manifests/overlays/member ships it (here in a namespace of our own).
    const svc = await core.createNamespacedService({
      namespace: APP_NS,
      body: {
        metadata: { name: 'clusterset-dns-server' },
        spec: { selector: { app: 'dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] },
      },
    });
    dnsIP = svc.spec!.clusterIP!;
  }, HARNESS_SETUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const ref of [COREDNS, NODELOCAL_CM]) await core?.deleteNamespacedConfigMap(ref).catch(() => undefined);
    await core?.deleteNamespace({ name: APP_NS }).catch(() => undefined);
  });

  it('install finds the DNS Service IP and adds the stub; NodeLocal DNS absent is skipped; a rerun changes nothing', async () => {
    await put(COREDNS, KUBEADM);
    const first = await cli('coredns', 'install', ...refs(), '--dns-service', `${APP_NS}/clusterset-dns-server`);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`kube-system/${COREDNS.name}: clusterset.local now forwarded to ${dnsIP}`);
    expect(first.stdout).toContain(`kube-system/${NODELOCAL_CM.name}: not found, skipped`);
    const after = await read(COREDNS);
    expect(after.data!.Corefile).toBe(installStub(KUBEADM, { zone: 'clusterset.local', upstreams: [dnsIP] }).text);
    expect(after.data!.Corefile!.startsWith(KUBEADM)).toBe(true);
    expect(after.data!.Corefile).toContain(`clusterset.local:53 {\n    errors\n    forward . ${dnsIP}\n}\n`);

    const again = await cli('coredns', 'install', ...refs(), '--dns-service', `${APP_NS}/clusterset-dns-server`);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already up to date');
    expect((await read(COREDNS)).metadata!.resourceVersion).toBe(after.metadata!.resourceVersion);
  });

  it('edits NodeLocal DNS too when present, binding where it listens and forwarding over TCP', async () => {
    await put(COREDNS, KUBEADM);
    await put(NODELOCAL_CM, NODELOCAL);
    const result = await cli('coredns', 'install', ...refs(), '--dns-service-ip', '10.96.77.7');
    expect(result.code).toBe(0);
    expect((await read(NODELOCAL_CM)).data!.Corefile).toBe(
      `${NODELOCAL}# BEGIN clusterset-dns zone clusterset.local: managed by "clusterset-dns coredns install"; edits between these markers are replaced\n` +
        'clusterset.local:53 {\n    errors\n    bind 169.254.20.10 10.96.0.10\n    forward . 10.96.77.7 {\n        force_tcp\n    }\n}\n# END clusterset-dns zone clusterset.local\n',
    );
    expect((await read(COREDNS)).data!.Corefile).toContain('forward . 10.96.77.7\n');

    // A new Service IP: only our region changes.
    const moved = await cli('coredns', 'install', ...refs(), '--dns-service-ip', '10.96.77.8');
    expect(moved.code).toBe(0);
    const corefile = (await read(COREDNS)).data!.Corefile!;
    expect(corefile.startsWith(KUBEADM)).toBe(true);
    expect(corefile).toContain('forward . 10.96.77.8\n');
    expect(corefile).not.toContain('10.96.77.7');
  });

  it('uninstall gives back the original Corefiles byte for byte', async () => {
    await put(COREDNS, KUBEADM);
    await put(NODELOCAL_CM, NODELOCAL);
    expect((await cli('coredns', 'install', ...refs(), '--dns-service-ip', '10.96.77.7')).code).toBe(0);
    const removed = await cli('coredns', 'uninstall', ...refs());
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('removed the clusterset-dns block for clusterset.local');
    expect((await read(COREDNS)).data!.Corefile).toBe(KUBEADM);
    expect((await read(NODELOCAL_CM)).data!.Corefile).toBe(NODELOCAL);
    expect((await cli('coredns', 'uninstall', ...refs())).stdout).toContain('already up to date');
  });

  it('refuses, writing nothing, when the Corefile already routes the zone elsewhere', async () => {
    const routed = `${KUBEADM}clusterset.local:53 {\n    forward . 10.0.0.99\n}\n`;
    await put(COREDNS, routed);
    const before = await read(COREDNS);
    const result = await cli('coredns', 'install', ...refs(), '--dns-service-ip', '10.96.77.7');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`kube-system/${COREDNS.name}: the Corefile already routes clusterset.local elsewhere`);
    expect(result.stderr).toContain('line 24: clusterset.local:53 {');
    expect(result.stderr).toContain('Nothing was changed');
    const after = await read(COREDNS);
    expect(after.metadata!.resourceVersion).toBe(before.metadata!.resourceVersion);
    expect(after.data!.Corefile).toBe(routed);
  });

  it('--dry-run prints the result and writes nothing', async () => {
    await put(COREDNS, KUBEADM);
    const before = await read(COREDNS);
    const result = await cli('coredns', 'install', ...refs(), '--dns-service-ip', '[fd00::53]:5353', '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('would change');
    expect(result.stdout).toContain('forward . [fd00::53]:5353');
    expect((await read(COREDNS)).metadata!.resourceVersion).toBe(before.metadata!.resourceVersion);
  });

  it('clear failures: no CoreDNS ConfigMap, no DNS Service, bad flags', async () => {
    const missingCm = await cli('coredns', 'install', '--kubeconfig', kubeconfig, '--coredns-configmap', `kube-system/absent-${suffix}`, '--dns-service-ip', '10.96.77.7');
    expect(missingCm.code).toBe(1);
    expect(missingCm.stderr).toContain(`ConfigMap kube-system/absent-${suffix} not found`);
    const missingSvc = await cli('coredns', 'install', ...refs(), '--dns-service', `${APP_NS}/nope`);
    expect(missingSvc.code).toBe(1);
    expect(missingSvc.stderr).toContain(`Service ${APP_NS}/nope not found`);
    const badIp = await cli('coredns', 'install', ...refs(), '--dns-service-ip', 'dns.example');
    expect(badIp.code).toBe(2);
    expect(badIp.stderr).toContain('--dns-service-ip must be an IP address');
    const noAction = await cli('coredns', '--kubeconfig', kubeconfig);
    expect(noAction.code).toBe(2);
  });

  it('a concurrent change between read and write is not lost: the edit is recomputed on the new version', async () => {
    await put(COREDNS, KUBEADM);
    let calls = 0;
    const update = await updateCorefile(kc, COREDNS, async (corefile) => {
      calls++;
      if (calls === 1) {
        // Another writer (an admin, an addon manager) changes the Corefile right after our read.
        const current = await read(COREDNS);
        await core.replaceNamespacedConfigMap({ ...COREDNS, body: { ...current, data: { Corefile: corefile.replace('cache 30 {', 'cache 60 {') } } });
      }
      return installStub(corefile, { zone: 'clusterset.local', upstreams: ['10.96.77.7'] });
    });
    expect(update.attempts).toBe(2);
    const corefile = (await read(COREDNS)).data!.Corefile!;
    expect(corefile).toContain('cache 60 {'); // theirs
    expect(corefile).toContain('forward . 10.96.77.7'); // ours
  });
});
