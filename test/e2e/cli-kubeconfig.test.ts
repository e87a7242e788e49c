// Every command that talks to an API resolves credentials as kubectl does, and a problem with them
// is one line with what to do and exit code 1 (no stack trace), through the real launcher.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin/clusterset-dns.js');
const home = mkdtempSync(join(tmpdir(), 'csdns-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

const config = join(home, 'merged.yaml');
writeFileSync(
  config,
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{ name: east, cluster: { server: "https://127.0.0.1:1" } }]',
    'users: [{ name: east, user: { token: t } }]',
    'contexts: [{ name: east, context: { cluster: east, user: east } }]',
    'current-context: east',
    '',
  ].join('\n'),
);

function run(args: string[], env: Record<string, string>): { code: number | null; stderr: string } {
  // A clean environment: no KUBECONFIG, HOME without ~/.kube, not in a pod.
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'] ?? '', HOME: home, ...env } });
  return { code: r.status, stderr: r.stderr };
}

const COMMANDS: string[][] = [
  ['doctor', '--cluster-id', 'east'],
  ['coredns', 'install', '--dns-service-ip', '10.96.0.53', '--dry-run'],
  ['agent', '--cluster-id', 'east', '--broker-context', 'broker'],
  ['dns', '--cluster-id', 'east'],
];

describe('kubeconfig resolution on every API command', () => {
  it.each(COMMANDS)('%s: no credentials anywhere is one line and exit 1', (...args) => {
    const r = run(args, {});
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'clusterset-dns: no kubeconfig found: pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config (in-cluster credentials are used only inside a pod)\n',
    );
  });

  it.each(COMMANDS)('%s: $KUBECONFIG is read, and --context names a context it does not have', (...args) => {
    const r = run([...args, '--context', 'mars'], { KUBECONFIG: `${join(home, 'missing.yaml')}:${config}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`clusterset-dns: --context mars: no such context in $KUBECONFIG ${join(home, 'missing.yaml')}:${config} (contexts: east)\n`);
  });

  it('agent: --broker-context is looked up in the same $KUBECONFIG', () => {
    const r = run(['agent', '--cluster-id', 'east', '--broker-context', 'broker'], { KUBECONFIG: config });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`clusterset-dns: --broker-context broker: no such context in $KUBECONFIG ${config} (contexts: east)\n`);
  });
});
