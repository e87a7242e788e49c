// `clusterset-dns status` against a running serve on a copy of examples/basic (served as east, south
// OFFLINE): the JSON shape scripts rely on, the conflicts with their winners, the local exports'
// conditions, filters, -o table/yaml, --wait with its exit codes, explain's conflict lines, and the
// info log when an export's conditions change.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../src/model/status-report.ts';
import { freeDnsPort, freePort, sleep } from '../harness/net.ts';
import { stopChild } from '../harness/procs.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin/clusterset-dns.js');

let dir: string;
let child: ChildProcess;
let url: string;
let stdout = '';
let stderr = '';

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const statusJson = (...args: string[]): StatusReport => JSON.parse(cli(['status', '--url', url, '-o', 'json', ...args]).stdout) as StatusReport;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'csdns-status-'));
  cpSync(join(REPO, 'examples/basic'), dir, { recursive: true });
  const httpPort = await freePort();
  url = `http://127.0.0.1:${httpPort}`;
  child = spawn(process.execPath, [BIN, 'serve', '--from-dir', dir, '--cluster-id', 'east', '--listen', `127.0.0.1:${await freeDnsPort()}`,
    '--http-listen', `127.0.0.1:${httpPort}`, '--workers', '0', '--lease-duration', '2', '--lease-renew', '1', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const deadline = Date.now() + 30_000;
  while (!stderr.includes('Try:')) {
    if (Date.now() > deadline) throw new Error(`serve did not start: ${stderr}`);
    await sleep(50);
  }
  // south is OFFLINE: its one lease expires after 2 s.
  await sleep(2_500);
});

afterAll(async () => {
  await stopChild(child);
  rmSync(dir, { recursive: true, force: true });
});

describe('status --url against serve', () => {
  it('-o json: clusters with id and state, services with clusters (serving, reason) and conflicts', () => {
    // serve's start-up banner says where to look.
    expect(stderr).toContain(`The whole clusterset: npx clusterset-dns status --url ${url}   (or open ${url}/ in a browser)`);
    const s = statusJson();
    expect(s.cluster).toBe('east');
    expect(s.clusters.map((c) => [c.id, c.state])).toEqual([['east', 'fresh'], ['north', 'fresh'], ['south', 'stale'], ['west', 'fresh']]);
    expect(s.clusters.find((c) => c.id === 'south')!.reason).toMatch(/^lease expired at /);
    expect(s.services.map((x) => `${x.namespace}/${x.name}`)).toEqual(['shop/api', 'shop/cache', 'shop/checkout', 'shop/db', 'shop/search', 'shop/web']);
    const web = s.services.find((x) => x.name === 'web')!;
    // east is IPv4-only: A answers come from east (local-first), AAAA answers from dual-stack west.
    expect(web.clusters.map((c) => [c.id, c.serving])).toEqual([['east', true], ['south', false], ['west', true]]);
    expect(web.clusters.find((c) => c.id === 'east')!.reason).toBe('IPv4: local cluster, healthy (local-first)');
    expect(web.clusters.find((c) => c.id === 'west')!.reason).toBe('IPv6: healthy remote; local cluster east is unavailable (local-first)');
    expect(web.clusters.find((c) => c.id === 'south')!.reason).toMatch(/^IPv4: unhealthy: lease expired at /);
    expect(web.conflicts).toEqual([{ reason: 'IPFamilyConflict', winner: 'west', details: ['east: IP families IPv4, service uses IPv4,IPv6', 'south: IP families IPv4, service uses IPv4,IPv6'] }]);
    const api = s.services.find((x) => x.name === 'api')!;
    expect(api.conflicts.map((c) => [c.reason, c.winner])).toEqual([['PortConflict', 'west']]);
    const search = s.services.find((x) => x.name === 'search')!;
    expect(search.conflicts.map((c) => [c.reason, c.winner])).toEqual([['TypeConflict', 'east']]);
    expect(search.clusters.find((c) => c.id === 'north')).toMatchObject({ serving: false, reason: expect.stringContaining('type conflict') });
    const cache = s.services.find((x) => x.name === 'cache')!;
    expect(cache.clusters.find((c) => c.id === 'north')).toMatchObject({ serving: false, readyEndpoints: 0, endpoints: 1 });
    expect(s.ready).toBe(false);
    expect(s.notReady).toContain(`cluster south: stale (${s.clusters.find((c) => c.id === 'south')!.reason})`);
  });

  it('the local exports carry the conditions production computes (Valid, Ready, Conflict)', () => {
    const s = statusJson();
    const api = s.exports.find((e) => e.name === 'api')!;
    expect(api.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Valid', 'True', 'Valid'],
      ['Ready', 'True', 'Exported'],
      ['Conflict', 'True', 'PortConflict'],
    ]);
    expect(s.services.find((x) => x.name === 'api')!.exportConditions).toEqual(api.conditions);
  });

  it('--namespace and --service filter services and exports', () => {
    const s = statusJson('--namespace', 'shop', '--service', 'db');
    expect(s.services.map((x) => x.name)).toEqual(['db']);
    expect(s.exports).toEqual([]);
    expect(statusJson('-n', 'analytics').services).toEqual([]);
  });

  it('-o table and -o yaml say the same', () => {
    const table = cli(['status', '--url', url]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('Clusterset as seen from east (serve)');
    expect(table.stdout).toMatch(/\nsouth\s+stale\s+/);
    expect(table.stdout).toMatch(/shop\/api\s+ClusterSetIP\s+.*PortConflict \(winner west\)/);
    expect(table.stdout).toMatch(/shop\/web not from south: IPv4: unhealthy: lease expired at /);
    const yaml = loadYaml(cli(['status', '--url', url, '-o', 'yaml']).stdout) as StatusReport;
    const json = statusJson();
    expect({ ...yaml, generatedAt: '', clusters: yaml.clusters.map((c) => ({ ...c, leaseAgeSeconds: 0 })) }).toEqual({
      ...json,
      generatedAt: '',
      clusters: json.clusters.map((c) => ({ ...c, leaseAgeSeconds: 0 })),
    });
  });

  it('--wait: exit 1 with the reason while south is stale; exit 0 once it is back', async () => {
    const waiting = cli(['status', '--url', url, '--service', 'web', '--wait', '--timeout', '2', '-o', 'json']);
    expect(waiting.code).toBe(1);
    expect(waiting.stderr).toMatch(/^clusterset-dns: not ready after 2s: cluster south: stale/);
    unlinkSync(join(dir, 'south/OFFLINE'));
    const ready = cli(['status', '--url', url, '--service', 'web', '--wait', '--timeout', '20', '-o', 'json']);
    expect(ready.code).toBe(0);
    expect((JSON.parse(ready.stdout) as StatusReport).ready).toBe(true);
  });

  it('no server at --url: one line and exit 1', () => {
    const r = cli(['status', '--url', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^clusterset-dns: cannot reach http:\/\/127\.0\.0\.1:9 \(.*\); is "clusterset-dns serve" running with --http-listen there\?\n$/);
  });

  it('explain shows the conflict with its winner and the local export conditions', () => {
    const r = cli(['explain', 'api.shop.svc.clusterset.local', '--server', url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('conflict: PortConflict, winner west (oldest export)');
    expect(r.stdout).toContain('ServiceExport in east: Conflict=True PortConflict');
  });

  it('logs each export\'s conditions at info when they change, with the winner of a conflict', () => {
    const records = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const api = records.find((r) => r['level'] === 30 && r['cluster'] === 'east' && r['name'] === 'api' && typeof r['conditions'] === 'string');
    expect(api).toMatchObject({ conditions: 'Valid=True(Valid) Ready=True(Exported) Conflict=True(PortConflict)', winner: 'west' });
    expect(api!['msg']).toBe('ServiceExport shop/api in east: Valid=True(Valid) Ready=True(Exported) Conflict=True(PortConflict)');
  });
});
