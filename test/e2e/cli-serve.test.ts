// The command line as a user meets it: the real launcher (bin/clusterset-dns.js on the built dist/),
// exact messages and exit codes for bad flags, the embedded default answering dig, live edits of the
// YAML directory, and `explain` against the running server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDig } from '../helpers/dig.ts';
import { freeDnsPort, freePort, httpGet, sleep } from '../harness/net.ts';
import { stopChild } from '../harness/procs.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin/clusterset-dns.js');
const NODE = process.execPath;

function cli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('command line', () => {
  it.each([
    [['serve', '--from-dir', 'examples/basic', '--cluster-id', 'east', '--bogus'], 'clusterset-dns: unknown flag --bogus for "serve" (see: clusterset-dns serve --help)'],
    [['serve', '--from-dir', 'examples/basic', '--cluster-id', 'east', '--ttl', 'soon'], 'clusterset-dns: --ttl must be a whole number, got "soon"'],
    [['serve', '--from-dir', 'examples/basic', '--cluster-id', 'mars'], 'clusterset-dns: --cluster-id mars: no directory mars in examples/basic (clusters found: east, north, south, west)'],
    [['serve', '--from-dir', 'no/such/dir', '--cluster-id', 'east'], 'clusterset-dns: --from-dir no/such/dir: no such directory'],
    [['frobnicate'], 'clusterset-dns: unknown command "frobnicate"'],
  ])('%j fails at start with exit code 2 and an exact message', (args, message) => {
    const r = spawnSync(NODE, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, cwd: REPO });
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toContain(message);
  });

  it('rejects a bad environment value by naming the variable', () => {
    const r = cli(['serve', '--from-dir', join(REPO, 'examples/basic'), '--cluster-id', 'east'], { CLUSTERSET_DNS_POLICY: 'closest' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('environment variable CLUSTERSET_DNS_POLICY must be one of local-first, all, round-robin, remote-first, nearest; got "closest"');
  });

  it('documents every serve flag with its environment variable in --help', () => {
    const r = cli(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--listen', '--http-listen', '--zone', '--ttl', '--negative-ttl', '--policy', '--no-cluster-names', '--no-ede', '--workers']) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain('CLUSTERSET_DNS_LISTEN');
  });
});

describe('serve (embedded default) through the launcher', () => {
  let dir: string;
  let child: ChildProcess;
  let port: number;
  let httpPort: number;
  let healthPort: number;
  let stderr = '';
  let stdout = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'csdns-cli-'));
    cpSync(join(REPO, 'examples/basic'), dir, { recursive: true });
    port = await freeDnsPort();
    httpPort = await freePort();
    healthPort = await freePort();
    child = spawn(NODE, [BIN, 'serve', '--from-dir', dir, '--cluster-id', 'east', '--listen', `127.0.0.1:${port}`,
      '--http-listen', `127.0.0.1:${httpPort}`, '--health-listen', `127.0.0.1:${healthPort}`, '--workers', '1', '--lease-duration', '2', '--lease-renew', '1', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await until('the try-these banner', async () => (stderr.includes('Try:') ? true : undefined), 30_000);
  });

  afterAll(async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints dig lines that work', async () => {
    const line = stderr.split('\n').find((l) => l.includes('dig @') && l.includes('# ClusterSetIP'));
    expect(line).toBeDefined();
    const name = line!.trim().split(/\s+/)[4]!;
    const r = await runDig(port, name, 'A');
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(r.answer.length).toBeGreaterThan(0);
  });

  it('answers the example over UDP and TCP and is ready', async () => {
    const udp = await runDig(port, 'web.shop.svc.clusterset.local', 'A');
    const tcp = await runDig(port, 'web.shop.svc.clusterset.local', 'A', { tcp: true });
    expect(udp.answer.map((a) => a.data)).toEqual(['10.10.0.10']);
    expect(tcp.answer.map((a) => a.data)).toEqual(['10.10.0.10']);
    expect((await httpGet(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
  });

  it('answers probes on the --health-listen port too', async () => {
    const ready = await until('ready on the health port', async () => ((await httpGet(`http://127.0.0.1:${healthPort}/readyz`)).status === 200 ? true : undefined), 5_000);
    expect(ready).toBe(true);
    expect((await httpGet(`http://127.0.0.1:${healthPort}/healthz`)).status).toBe(200);
    expect((await httpGet(`http://127.0.0.1:${healthPort}/metrics`)).status).toBe(404);
  });

  it('picks up an edited file within a second, without restart', async () => {
    const file = join(dir, 'east/web.yaml');
    const before = readFileSync(file, 'utf8');
    expect(before).toContain('10.10.0.10');
    writeFileSync(file, before.replaceAll('10.10.0.10', '10.10.0.99'));
    const started = Date.now();
    await until('the new address', async () => {
      const r = await runDig(port, 'web.shop.svc.clusterset.local', 'A');
      return r.answer.some((a) => a.data === '10.10.0.99') ? true : undefined;
    }, 5_000);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('reports a broken file by path and field, and keeps serving the rest', async () => {
    writeFileSync(join(dir, 'west/broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: broken, namespace: shop}\nspec:\n  ports: [{port: 70000}]\n');
    // The structured log names the file and the field.
    const record = await until('the problem in the log', async () => {
      const line = stdout.split('\n').find((l) => l.includes('broken.yaml'));
      return line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>);
    }, 5_000);
    expect(JSON.stringify(record)).toContain('spec.ports[0].port');
    const r = await runDig(port, 'db.shop.svc.clusterset.local', 'A');
    expect(r.status).toBe('NOERROR');
  });

  it('drops a cluster whose directory gets an OFFLINE file once its lease expires', async () => {
    const r0 = await runDig(port, 'west.web.shop.svc.clusterset.local', 'A');
    expect(r0.status).toBe('NOERROR');
    writeFileSync(join(dir, 'east/OFFLINE'), '');
    // east is the local cluster: once stale, local-first fails over to the healthy remote clusters.
    const failover = await until('failover away from stale east', async () => {
      const r = await runDig(port, 'web.shop.svc.clusterset.local', 'A');
      return r.answer.length > 0 && !r.answer.some((a) => a.data.startsWith('10.10.')) ? r : undefined;
    }, 10_000);
    expect(failover.answer.map((a) => a.data)).toContain('10.20.0.10');
    rmSync(join(dir, 'east/OFFLINE'));
    await until('east back', async () => {
      const r = await runDig(port, 'web.shop.svc.clusterset.local', 'A');
      return r.answer.some((a) => a.data.startsWith('10.10.')) ? true : undefined;
    }, 10_000);
  });

  it('explain prints every candidate cluster with its reason', () => {
    const r = cli(['explain', 'web.shop.svc.clusterset.local', '--server', `http://127.0.0.1:${httpPort}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\+ east .*included: local cluster, healthy/);
    expect(r.stdout).toMatch(/- west .*excluded: not needed: local cluster east is healthy/);
  });

  it('explain says clearly when no server answers', async () => {
    const closed = await freePort();
    const r = cli(['explain', 'web.shop.svc.clusterset.local', '--server', `http://127.0.0.1:${closed}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach a server at http://127.0.0.1:${closed}`);
  });
});
