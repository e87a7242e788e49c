/** Kubeconfig lookup as kubectl does it: flag, $KUBECONFIG merged, ~/.kube/config, in-cluster only in a pod; --context. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KubeconfigError, SERVICE_ACCOUNT_TOKEN, resolveKubeConfig } from '../../src/kube/kubeconfig-resolve.ts';

const dir = mkdtempSync(join(tmpdir(), 'csdns-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A kubeconfig with the given contexts, each pointing at its own cluster `https://<name>.example:6443`. */
function kubeconfig(file: string, contexts: string[], current?: string, serverOverride?: Record<string, string>): string {
  const path = join(dir, file);
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const c of contexts) lines.push(`  - name: ${c}`, '    cluster:', `      server: ${serverOverride?.[c] ?? `https://${c}.example:6443`}`);
  lines.push('users:');
  for (const c of contexts) lines.push(`  - name: ${c}-user`, '    user:', `      token: t-${c}`);
  lines.push('contexts:');
  for (const c of contexts) lines.push(`  - name: ${c}`, '    context:', `      cluster: ${c}`, `      user: ${c}-user`);
  if (current !== undefined) lines.push(`current-context: ${current}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const flags = { fileFlag: '--kubeconfig', contextFlag: '--context' };
const server = (r: ReturnType<typeof resolveKubeConfig>): string | undefined => r.kc.getCurrentCluster()?.server;
const failure = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(KubeconfigError);
    return (err as Error).message;
  }
  throw new Error('expected a KubeconfigError');
};

describe('kubeconfig resolution', () => {
  const a = kubeconfig('a.yaml', ['east', 'shared'], 'east');
  const b = kubeconfig('b.yaml', ['west', 'shared'], 'west', { shared: 'https://from-b.example:6443' });
  const home = join(dir, 'home');
  mkdirSync(join(home, '.kube'), { recursive: true });
  kubeconfig('home/.kube/config', ['home'], 'home');

  it('--kubeconfig wins over $KUBECONFIG and ~/.kube/config', () => {
    const r = resolveKubeConfig({ ...flags, file: b }, { env: { KUBECONFIG: a, HOME: home } });
    expect(server(r)).toBe('https://west.example:6443');
    expect(r.source).toBe(`--kubeconfig ${b}`);
  });

  it('$KUBECONFIG: files merged, the first definition and the first current-context win, missing files skipped', () => {
    const r = resolveKubeConfig({ ...flags }, { env: { KUBECONFIG: `${join(dir, 'missing.yaml')}:${a}:${b}`, HOME: home } });
    expect(r.context).toBe('east');
    expect(r.kc.getContexts().map((c) => c.name)).toEqual(['east', 'shared', 'west']);
    expect(server(resolveKubeConfig({ ...flags, context: 'shared' }, { env: { KUBECONFIG: `${a}:${b}` } }))).toBe('https://shared.example:6443');
    expect(server(resolveKubeConfig({ ...flags, context: 'shared' }, { env: { KUBECONFIG: `${b}:${a}` } }))).toBe('https://from-b.example:6443');
    expect(server(resolveKubeConfig({ ...flags, context: 'west' }, { env: { KUBECONFIG: `${a}:${b}` } }))).toBe('https://west.example:6443');
  });

  it('~/.kube/config when neither flag nor $KUBECONFIG is set', () => {
    const r = resolveKubeConfig({ ...flags }, { env: { HOME: home } });
    expect(server(r)).toBe('https://home.example:6443');
    expect(r.source).toBe(join(home, '.kube/config'));
  });

  it('in-cluster credentials only inside a pod', () => {
    const exists = (p: string): boolean => p === SERVICE_ACCOUNT_TOKEN;
    const inPod = resolveKubeConfig({ ...flags }, { env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, fileExists: exists });
    expect(inPod.source).toBe('in-cluster service account');
    // Outside a pod (no service host, or no mounted token): a one-line error with what to do.
    expect(failure(() => resolveKubeConfig({ ...flags }, { env: {}, fileExists: exists }))).toBe(
      'no kubeconfig found: pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config (in-cluster credentials are used only inside a pod)',
    );
    expect(failure(() => resolveKubeConfig({ ...flags }, { env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, fileExists: () => false }))).toMatch(/^no kubeconfig found/);
  });

  it('exact one-line errors: missing file, unknown context, no current context, unreadable file, empty $KUBECONFIG list', () => {
    expect(failure(() => resolveKubeConfig({ ...flags, file: join(dir, 'nope') }, { env: {} }))).toBe(`--kubeconfig ${join(dir, 'nope')}: no such file`);
    expect(failure(() => resolveKubeConfig({ ...flags, file: a, context: 'mars' }, { env: {} }))).toBe(`--context mars: no such context in --kubeconfig ${a} (contexts: east, shared)`);
    const noCurrent = kubeconfig('c.yaml', ['north']);
    expect(failure(() => resolveKubeConfig({ ...flags, file: noCurrent }, { env: {} }))).toBe(`--kubeconfig ${noCurrent}: no current context; pass --context NAME (contexts: north)`);
    writeFileSync(join(dir, 'junk.yaml'), 'clusters: [oops\n');
    expect(failure(() => resolveKubeConfig({ ...flags, file: join(dir, 'junk.yaml') }, { env: {} }))).toMatch(/^--kubeconfig .*junk\.yaml: not a readable kubeconfig \(/);
    expect(failure(() => resolveKubeConfig({ fileFlag: '--broker-kubeconfig', contextFlag: '--broker-context' }, { env: { KUBECONFIG: join(dir, 'x:y') } }))).toBe(
      `$KUBECONFIG ${join(dir, 'x:y')}: none of these files exists; fix KUBECONFIG or pass --broker-kubeconfig FILE`,
    );
  });
});
