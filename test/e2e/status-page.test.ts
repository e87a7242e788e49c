// The status page at `/` of serve's HTTP listener, in a real browser (headless Debian chromium):
// it loads with no external asset, shows the clusters and a service's clusters (who serves, why not
// the others), and redraws by itself when a cluster goes stale.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPage, type Page } from '../helpers/chromium.ts';
import { freeDnsPort, freePort, httpGet, sleep } from '../harness/net.ts';
import { stopChild } from '../harness/procs.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin/clusterset-dns.js');

let dir: string;
let child: ChildProcess;
let url: string;
let page: Page | undefined;
let stderr = '';

interface PageState {
  summary: string;
  map: Array<[string, string]>;
  rows: Array<[string, string]>;
  web: Array<[string, string, string]>;
  external: number;
}

const STATE = `JSON.stringify({
  summary: document.getElementById('summary').textContent,
  map: [...document.querySelectorAll('#map g')].map((g) => [g.dataset.cluster, g.dataset.state]),
  rows: [...document.querySelectorAll('#clusters tbody tr')].map((tr) => [tr.dataset.cluster, tr.children[1].textContent]),
  web: [...document.querySelectorAll('tr[data-service="shop/web"] .chip')].map((c) => [c.dataset.cluster, c.dataset.serving, c.textContent]),
  external: performance.getEntriesByType('resource').filter((e) => !e.name.startsWith(location.origin)).length,
})`;

async function until(what: string, pred: (s: PageState) => boolean, timeoutMs: number): Promise<PageState> {
  const deadline = Date.now() + timeoutMs;
  let last: PageState | undefined;
  for (;;) {
    // Undefined while the document is still loading (the expression throws before the body exists).
    const raw = await page!.evaluate<string | undefined>(STATE);
    if (raw !== undefined) last = JSON.parse(raw) as PageState;
    if (last !== undefined && pred(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not shown within ${timeoutMs} ms; page: ${JSON.stringify(last)}`);
    await sleep(200);
  }
}

describe('status page in headless chromium (test/setup/prereqs.sh installs Debian chromium)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'csdns-page-'));
    cpSync(join(REPO, 'examples/basic'), dir, { recursive: true });
    unlinkSync(join(dir, 'south/OFFLINE')); // every cluster fresh at start
    const httpPort = await freePort();
    url = `http://127.0.0.1:${httpPort}/`;
    child = spawn(process.execPath, [BIN, 'serve', '--from-dir', dir, '--cluster-id', 'east', '--listen', `127.0.0.1:${await freeDnsPort()}`,
      '--http-listen', `127.0.0.1:${httpPort}`, '--workers', '0', '--lease-duration', '3', '--lease-renew', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 30_000;
    while (!stderr.includes('Try:')) {
      if (Date.now() > deadline) throw new Error(`serve did not start: ${stderr}`);
      await sleep(50);
    }
    page = await openPage(url);
  });

  afterAll(async () => {
    await page?.close();
    if (child !== undefined) await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is one self-contained HTML document', async () => {
    const res = await httpGet(url);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^<!doctype html>/);
    expect(res.body).not.toMatch(/(src|href)="https?:/);
  });

  it('shows every cluster on the map and web\'s clusters with why the others do not serve', async () => {
    const s = await until('four fresh clusters and web', (p) => p.map.length === 4 && p.web.length === 3, 20_000);
    expect(s.map).toEqual([['east', 'fresh'], ['north', 'fresh'], ['south', 'fresh'], ['west', 'fresh']]);
    expect(s.web.map(([c, serving]) => [c, serving])).toEqual([['east', 'true'], ['south', 'false'], ['west', 'true']]);
    expect(s.web[1]![2]).toBe('south: IPv4: not needed: local cluster east is healthy (local-first)');
    expect(s.external).toBe(0);
  });

  it('redraws by itself when a cluster goes stale', async () => {
    writeFileSync(join(dir, 'west/OFFLINE'), '');
    const s = await until('west stale', (p) => p.map.some(([c, state]) => c === 'west' && state === 'stale'), 20_000);
    expect(s.rows.find(([c]) => c === 'west')![1]).toMatch(/^stale \(lease expired at /);
    expect(s.web.find(([c]) => c === 'west')).toEqual(['west', 'false', expect.stringMatching(/^west: IPv4: unhealthy: lease expired at /)]);
    expect(s.summary).toMatch(/^not ready: .*cluster west: stale/);
  });
});
