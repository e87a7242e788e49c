/** Broker credentials: `broker join-config` flags, and the agent following a renewed kubeconfig file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { parseJoinConfig } from '../../src/config/broker-config.ts';
import { UsageError } from '../../src/config/flags.ts';
import { followKubeConfigFile } from '../../src/kube/client.ts';

function kubeconfig(token: string): string {
  return `apiVersion: v1
kind: Config
clusters: [{ name: b, cluster: { server: "https://127.0.0.1:6443" } }]
users: [{ name: m, user: { token: ${token} } }]
contexts: [{ name: b, context: { cluster: b, user: m, namespace: clusterset-broker } }]
current-context: b
`;
}

describe('broker join-config flags', () => {
  it('defaults: one day, the default broker namespace, standard output', () => {
    expect(parseJoinConfig(['--cluster', 'east'], {}).config).toEqual({ cluster: 'east', brokerNamespace: 'clusterset-broker', durationSeconds: 86_400 });
  });

  it.each([
    [[], 'broker join-config: --cluster ID is required (or CLUSTERSET_DNS_JOIN_CLUSTER)'],
    [['--cluster', 'East'], "--cluster must be one or two lowercase DNS labels (a-z, 0-9, '-', at most 63 each), got \"East\""],
    [['--cluster', 'east', '--duration', '60'], '--duration must be from 600 to 31536000, got 60'],
    [['--cluster', 'east', '--server', 'http://broker:6443'], '--server must be an https:// URL, got "http://broker:6443"'],
  ])('%j is refused', (argv, message) => {
    expect(() => parseJoinConfig(argv, {})).toThrow(UsageError);
    expect(() => parseJoinConfig(argv, {})).toThrow(message);
  });
});

describe('followKubeConfigFile: a renewed token is used without a restart', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('replaces the credentials when the file changes, keeps them when it does not parse', async () => {
    dir = mkdtempSync(join(tmpdir(), 'csdns-follow-'));
    const path = join(dir, 'kubeconfig');
    writeFileSync(path, kubeconfig('old-token'));
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const errors: string[] = [];
    let reloads = 0;
    const follower = followKubeConfigFile(kc, path, { intervalMs: 20, onReload: () => reloads++, onError: (m) => errors.push(m) });
    const settle = () => new Promise((r) => setTimeout(r, 120));
    try {
      writeFileSync(path, kubeconfig('new-token'));
      await settle();
      expect(kc.getCurrentUser()?.token).toBe('new-token');
      expect(reloads).toBe(1);
      writeFileSync(path, 'users: [unclosed');
      await settle();
      expect(kc.getCurrentUser()?.token).toBe('new-token');
      expect(errors).toHaveLength(1);
      expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    } finally {
      follower.stop();
    }
  });
});
