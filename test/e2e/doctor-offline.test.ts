// doctor with the API server down: one FAIL naming the address and the network error, every check
// that needs the API SKIP, exit code 1; the same as JSON with -o json.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';

const dir = mkdtempSync(join(tmpdir(), 'csdns-doctor-offline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function doctor(argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({ write(c, _e, d) { out += String(c); d(); } });
  return { code: await main(['doctor', ...argv], { HOME: dir }, { stdout: sink, stderr: sink }), out };
}

describe('doctor with the API server down', () => {
  it('one FAIL with address and errno; the checks that need the API are SKIP', async () => {
    const port = await closedPort();
    const kubeconfig = join(dir, 'down.yaml');
    writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true } }]\nusers: [{ name: u, user: { token: t } }]\ncontexts: [{ name: c, context: { cluster: c, user: u } }]\ncurrent-context: c\n`);
    const r = await doctor(['--kubeconfig', kubeconfig, '--cluster-id', 'east', '--timeout', '2']);
    expect(r.code).toBe(1);
    const lines = r.out.split('\n').filter((l) => /^(PASS|FAIL|SKIP)/.test(l));
    expect(lines[0]).toMatch(new RegExp(`^FAIL  API reachable: reaching the API server at https://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    expect(lines.slice(1).map((l) => l.slice(0, 4))).toEqual(['SKIP', 'SKIP', 'SKIP', 'SKIP', 'SKIP', 'SKIP', 'SKIP']);
    expect(r.out).toContain('1 check(s) failed.');

    const json = await doctor(['--kubeconfig', kubeconfig, '--cluster-id', 'east', '--timeout', '2', '-o', 'json']);
    const report = JSON.parse(json.out) as { failed: number; checks: Array<{ title: string; status: string; detail: string }> };
    expect(report.failed).toBe(1);
    expect(report.checks[0]).toMatchObject({ title: 'API reachable', status: 'FAIL' });
    expect(report.checks[1]).toEqual({ title: 'CRDs installed', status: 'SKIP', detail: 'needs "API reachable", which did not pass' });
  });
});
