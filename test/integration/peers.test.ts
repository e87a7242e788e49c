// test/peers/build.sh: the cached binaries are the pinned versions, a rerun is a no-op, and the slim
// CoreDNS has every plugin later tests rely on, in CoreDNS's canonical order.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildScript, ensureBinaries, type Binaries } from '../harness/index.ts';
import { HARNESS_SETUP_TIMEOUT_MS } from '../harness/vitest.ts';

const run = promisify(execFile);
const script = readFileSync(buildScript, 'utf8');
const pinned = (name: string): string => {
  const value = new RegExp(`^${name}=(\\S+)$`, 'm').exec(script)?.[1];
  if (value === undefined) throw new Error(`${name} not found in ${buildScript}`);
  return value;
};

describe('peer binaries', () => {
  let binaries: Binaries;

  beforeAll(async () => {
    binaries = await ensureBinaries({ log: (l) => process.stderr.write(`${l}\n`) });
  }, HARNESS_SETUP_TIMEOUT_MS);

  it('are cached by version, and a rerun only checks the cache', async () => {
    expect(binaries.etcd).toMatch(new RegExp(`/etcd-${pinned('ETCD_VERSION')}$`));
    expect(binaries.kubeApiserver).toMatch(new RegExp(`/kube-apiserver-${pinned('KUBE_VERSION')}$`));
    expect(binaries.coredns).toMatch(new RegExp(`/coredns-${pinned('COREDNS_VERSION')}$`));
    const started = Date.now();
    const { stdout, stderr } = await run('bash', [buildScript, '--print']);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(stdout.trim().split('\n')).toEqual([
      `etcd=${binaries.etcd}`,
      `kube-apiserver=${binaries.kubeApiserver}`,
      `coredns=${binaries.coredns}`,
    ]);
    expect(stderr).not.toMatch(/compiling/);
  });

  it('report the pinned versions', async () => {
    expect((await run(binaries.etcd, ['--version'])).stdout).toContain(`etcd Version: ${pinned('ETCD_VERSION').slice(1)}`);
    expect((await run(binaries.kubeApiserver, ['--version'])).stdout.trim()).toBe(`Kubernetes ${pinned('KUBE_VERSION')}`);
    expect((await run(binaries.coredns, ['-version'])).stdout).toContain(`CoreDNS-${pinned('COREDNS_VERSION').slice(1)}`);
  });

  it('include the CoreDNS plugins the tests need, in plugin.cfg order', async () => {
    const plugins = (await run(binaries.coredns, ['-plugins'])).stdout.split(/\s+/).filter((p) => p !== '' && !p.endsWith(':'));
    for (const p of ['bind', 'cache', 'errors', 'file', 'forward', 'health', 'hosts', 'kubernetes', 'log', 'loop', 'prometheus', 'ready', 'reload', 'whoami']) {
      expect(plugins, p).toContain(p);
    }
    const directives = /var directives = \[\]string\{([^}]*)\}/.exec(script)?.[1]?.match(/"([a-z0-9_]+)"/g)?.map((s) => s.slice(1, -1)) ?? [];
    // The order must be CoreDNS's own (plugin.cfg of the pinned module, in the Go module cache).
    const go = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
    const modCache = (await run(go, ['env', 'GOMODCACHE'])).stdout.trim();
    const pluginCfg = readFileSync(join(modCache, `github.com/coredns/coredns@${pinned('COREDNS_VERSION')}`, 'plugin.cfg'), 'utf8');
    const canonical = pluginCfg.split('\n').filter((l) => /^[a-z0-9_]+:/.test(l)).map((l) => l.split(':')[0] ?? '');
    expect(directives.length).toBeGreaterThanOrEqual(14);
    expect(directives).toEqual(canonical.filter((p) => directives.includes(p)));
  });
});
