/**
 * The HTTP endpoints a user and a kubelet rely on: /readyz (ready only after a synced snapshot),
 * /healthz, /metrics (Prometheus text), /debug/explain, and a clear bind error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createHttpServer, type HttpServer } from '../../src/server/index.ts';
import { fixtureSnapshot, OPTIONS } from '../helpers/dns-fixture.ts';
import { memoryLogger } from './server-helpers.ts';

async function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

describe('HTTP endpoints', () => {
  let snapshot: Snapshot | null = null;
  let healthProblem: string | null = null;
  let http: HttpServer;
  let port: number;
  const metrics = createMetrics();

  beforeAll(async () => {
    http = createHttpServer({
      listen: { host: '127.0.0.1', port: 0 },
      getSnapshot: () => snapshot,
      dnsOptions: OPTIONS,
      metrics,
      logger: memoryLogger().logger,
      healthProblem: () => healthProblem,
    });
    ({ port } = await http.start());
  });
  afterAll(async () => {
    await http.stop();
  });

  it('/readyz is 503 with a reason until a synced snapshot is set, then 200', async () => {
    expect(await get(port, '/readyz')).toMatchObject({ status: 503, body: expect.stringContaining('no state snapshot yet') });
    snapshot = { ...fixtureSnapshot(), synced: false };
    expect(await get(port, '/readyz')).toMatchObject({ status: 503, body: expect.stringContaining('first full sync') });
    snapshot = fixtureSnapshot();
    expect((await get(port, '/readyz')).status).toBe(200);
  });

  it('/healthz is 200 while healthy and 503 with the problem otherwise', async () => {
    expect((await get(port, '/healthz')).status).toBe(200);
    healthProblem = 'none of the 2 DNS workers is listening';
    expect(await get(port, '/healthz')).toMatchObject({ status: 503, body: expect.stringContaining('none of the 2 DNS workers') });
    healthProblem = null;
  });

  it('/metrics serves Prometheus text with our metrics and the process defaults', async () => {
    metrics.stats.setZones(["clusterset.local"]);
    metrics.stats.recordQuery(0, 1, 0, 0.00003, 0);
    const res = await get(port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/plain');
    expect(res.body).toContain('clusterset_dns_queries_total{zone="clusterset.local.",proto="udp",type="A",rcode="NOERROR"} 1');
    expect(res.body).toContain('# TYPE clusterset_dns_request_duration_seconds histogram');
    expect(res.body).toContain('process_cpu_user_seconds_total');
  });

  it('/debug/explain returns the explain report as JSON', async () => {
    snapshot = fixtureSnapshot();
    const res = await get(port, '/debug/explain?name=web.shop.svc.clusterset.local&type=A');
    expect(res.status).toBe(200);
    const report = JSON.parse(res.body) as { name: string; qtype: string; result: { rcode: string; answer: { address?: string }[] } };
    expect([report.name, report.qtype, report.result.rcode]).toEqual(['web.shop.svc.clusterset.local', 'A', 'NOERROR']);
    expect(report.result.answer.map((a) => a.address)).toEqual(['10.1.0.10']);
    expect(res.body).toContain('west');
  });

  it.each([
    { path: '/debug/explain', why: 'missing name' },
    { path: '/debug/explain?name=', why: 'empty name' },
    { path: '/debug/explain?name=a..b', why: 'empty label' },
    { path: '/debug/explain?name=web.shop.svc.clusterset.local&type=BOGUS', why: 'unknown type' },
  ])('/debug/explain answers 400 for $why', async ({ path }) => {
    const res = await get(port, path);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toHaveProperty('error');
  });

  it('unknown paths are 404', async () => {
    expect((await get(port, '/nope')).status).toBe(404);
  });

  it('start() rejects naming the address when the port is taken', async () => {
    const other = createHttpServer({ listen: { host: '127.0.0.1', port }, getSnapshot: () => null, dnsOptions: OPTIONS, metrics, logger: memoryLogger().logger });
    await expect(other.start()).rejects.toThrow(`cannot listen on http 127.0.0.1:${port}: address already in use`);
  });
});
