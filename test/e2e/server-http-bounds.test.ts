/**
 * HTTP under debug floods (issue 9 point 8): /healthz and /readyz are answered while 200
 * /debug/explain requests of a 10,000-endpoint service are pending, debug responses are capped in
 * size (lists cut and said so) and in number (503 beyond the queue, held back a second), repeated
 * reports are made once per snapshot, /debug is for loopback clients
 * unless opened, and concurrent /metrics scrapes share one rendering.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot } from '../../src/model/snapshot-build.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { explain } from '../../src/dns/explain.ts';
import { createHttpServer, type HttpServer } from '../../src/server/index.ts';
import { DEBUG_MAX_BYTES, DEBUG_MAX_ITEMS, DEBUG_REFUSAL_DELAY_MS, isLoopback } from '../../src/server/http-server.ts';
import { ep, imported, LOCAL, OPTIONS, port as svcPort } from '../helpers/dns-fixture.ts';
import { memoryLogger } from './server-helpers.ts';

function get(port: number, path: string): Promise<{ status: number; body: string; doneAt: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), doneAt: performance.now() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('HTTP bounds', () => {
  const endpoints = Array.from({ length: 10_000 }, (_, i) => ep([`10.8.${i >> 8}.${i & 255}`], true, `pod-${i}`));
  const parts = imported('shop', 'wide', 'Headless', [svcPort('http', 80)], { east: { endpoints } });
  let snapshot = buildSnapshot({ synced: true, services: [parts.service], slices: parts.slices }, LOCAL, 1, 0);
  let explains = 0;
  const metrics = createMetrics({ defaultMetrics: false });
  let renders = 0;
  const render = metrics.render.bind(metrics);
  const countingMetrics = {
    ...metrics,
    render: async () => {
      renders++;
      await new Promise((r) => setTimeout(r, 50));
      return render();
    },
  };
  let server: HttpServer;
  let port: number;

  beforeAll(async () => {
    server = createHttpServer({
      listen: { host: '127.0.0.1', port: 0 },
      getSnapshot: () => snapshot,
      dnsOptions: OPTIONS,
      metrics: countingMetrics,
      logger: memoryLogger().logger,
      healthProblem: () => null,
      // The real explain, made to cost 30 ms of blocked event loop like a much bigger report would.
      explainFn: (snap, name, qtype, opts) => {
        explains++;
        const report = explain(snap, name, qtype, opts);
        const until = performance.now() + 30;
        while (performance.now() < until) {
          // busy: this is the point
        }
        return report;
      },
    });
    ({ port } = await server.start());
  });
  afterAll(async () => {
    await server.stop();
  });

  it('caps an explain report of a 10,000-endpoint service and says what was cut', async () => {
    const r = await get(port, '/debug/explain?name=wide.shop.svc.clusterset.local&type=A');
    expect(r.status).toBe(200);
    expect(Buffer.byteLength(r.body)).toBeLessThanOrEqual(DEBUG_MAX_BYTES);
    const report = JSON.parse(r.body) as { headless: { endpoints: unknown[]; served: number }; truncated: string[] };
    expect(report.headless.endpoints).toHaveLength(DEBUG_MAX_ITEMS);
    expect(report.headless.served).toBe(10_000);
    expect(report.truncated).toContain(`headless.endpoints: ${DEBUG_MAX_ITEMS} of 10000 shown`);
  });

  it('answers /healthz and /readyz while 200 debug requests are pending, refusing those beyond the queue', async () => {
    // The flood comes from another process, as it would: 200 connections at once, each asking a
    // distinct query string so none is served from the reports already made.
    const script = `
      const http = require('node:http');
      const statuses = [];
      let pending = 200;
      for (let i = 0; i < 200; i++) {
        http.get({ host: '127.0.0.1', port: ${port}, path: '/debug/explain?name=wide.shop.svc.clusterset.local&type=A&n=' + i, agent: false }, (res) => {
          res.resume();
          res.on('end', () => { statuses.push(res.statusCode); if (--pending === 0) { console.log(JSON.stringify(statuses)); process.exit(0); } });
        }).on('error', () => { statuses.push(0); if (--pending === 0) { console.log(JSON.stringify(statuses)); process.exit(0); } });
      }
      console.log('sent');
    `;
    const flood = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      let floodDoneAt = 0;
      const done = new Promise<number[]>((resolve) => {
        flood.stdout.on('data', (c: Buffer) => {
          out += c.toString('utf8');
          const last = out.trim().split('\n').at(-1)!;
          if (last.startsWith('[')) {
            floodDoneAt = performance.now();
            resolve(JSON.parse(last) as number[]);
          }
        });
      });
      await new Promise<void>((resolve) => {
        const check = () => (out.includes('sent') ? resolve() : setTimeout(check, 5));
        check();
      });
      const [health, ready] = await Promise.all([get(port, '/healthz'), get(port, '/readyz')]);
      const statuses = await done;
      expect([health.status, ready.status]).toEqual([200, 200]);
      // Health did not wait behind the debug work.
      expect(Math.max(health.doneAt, ready.doneAt)).toBeLessThan(floodDoneAt);
      expect(statuses.filter((x) => x === 503).length).toBeGreaterThan(0);
      expect(statuses.filter((x) => x === 200).length).toBeGreaterThan(0);
      expect(statuses.every((x) => x === 200 || x === 503)).toBe(true);
    } finally {
      flood.kill('SIGKILL');
    }
  });

  it('holds refusals back for a second, so a client retrying at once cannot spin the server', async () => {
    // From another process, 60 requests at once with distinct query strings (no report is served
    // from the recent ones: each costs 30 ms); it prints each status with its time since sending.
    const script = `
      const http = require('node:http');
      const sent = performance.now();
      const out = [];
      let pending = 60;
      for (let i = 0; i < 60; i++) {
        const done = (status) => { out.push([status, performance.now() - sent]); if (--pending === 0) { console.log(JSON.stringify(out)); process.exit(0); } };
        http.get({ host: '127.0.0.1', port: ${port}, path: '/debug/explain?name=wide.shop.svc.clusterset.local&type=AAAA&n=' + i, agent: false }, (res) => {
          res.resume();
          res.on('end', () => done(res.statusCode));
        }).on('error', () => done(0));
      }
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
      await new Promise((resolve) => child.once('exit', resolve));
      const replies = JSON.parse(out.trim().split('\n').at(-1)!) as [number, number][];
      const refused = replies.filter(([status]) => status === 503);
      expect(refused.length).toBeGreaterThan(0);
      for (const [, ms] of refused) expect(ms).toBeGreaterThanOrEqual(DEBUG_REFUSAL_DELAY_MS - 50);
      expect(replies.every(([status]) => status === 200 || status === 503)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('serves a repeated explain from the report made for this snapshot; a new snapshot makes it again', async () => {
    const path = '/debug/explain?name=wide.shop.svc.clusterset.local&type=SRV';
    explains = 0;
    const first = await get(port, path);
    const again = await get(port, path);
    expect([first.status, again.status, explains]).toEqual([200, 200, 1]);
    expect(again.body).toBe(first.body);
    snapshot = buildSnapshot({ synced: true, services: [parts.service], slices: parts.slices }, LOCAL, 2, 0);
    const fresh = await get(port, path);
    expect([fresh.status, explains]).toEqual([200, 2]);
  });

  it('coalesces concurrent /metrics scrapes into one rendering', async () => {
    renders = 0;
    const scrapes = await Promise.all(Array.from({ length: 10 }, () => get(port, '/metrics')));
    expect(scrapes.every((r) => r.status === 200 && r.body.includes('clusterset_dns_queries_total'))).toBe(true);
    expect(renders).toBe(1);
  });

  it('treats only loopback peers as local for /debug (others need --debug-remote)', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.2', 'fd00::1', undefined].map(isLoopback)).toEqual([false, false, false, false, false]);
  });
});
