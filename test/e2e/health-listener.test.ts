/**
 * The health listener (issue 9 point 8): /healthz and /readyz on their own port, served by a
 * thread of their own, answer while the main thread is busy (here: blocked outright), follow the
 * main thread's health and readiness, and fail /healthz once the main event loop has been blocked
 * for longer than the stall threshold, instead of hiding it.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { createHttpServer, type HttpServer } from '../../src/server/index.ts';
import { HEALTH_PUSH_MS } from '../../src/server/health-listener.ts';
import { fixtureSnapshot, OPTIONS } from '../helpers/dns-fixture.ts';
import { memoryLogger } from './server-helpers.ts';

/** Probes `path` on `port` from another process every 100 ms for `ms`; each probe's status and body. */
function probeFromAnotherProcess(port: number, path: string, ms: number): Promise<{ status: number; body: string }[]> {
  const script = `
    const http = require('node:http');
    const out = [];
    const until = Date.now() + ${ms};
    const once = () => new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: ${port}, path: '${path}', agent: false, timeout: 3000 }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => { out.push({ status: res.statusCode, body }); resolve(); });
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => { out.push({ status: 0, body: '' }); resolve(); });
    });
    (async () => {
      while (Date.now() < until) { await once(); await new Promise((r) => setTimeout(r, 100)); }
      console.log(JSON.stringify(out));
    })();
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('probe process did not finish'));
    }, ms + 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(JSON.parse(out.trim() || '[]') as { status: number; body: string }[]);
    });
  });
}

/** Blocks this (the main) thread for `ms`, as a long report or a long GC would. */
function blockMainThread(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* blocked on purpose */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('health listener on its own thread', () => {
  let server: HttpServer | undefined;
  let snapshot: Snapshot | null = null;
  let problem: string | null = null;

  async function start(mainStallMs: number): Promise<{ port: number; healthPort: number }> {
    server = createHttpServer({
      listen: { host: '127.0.0.1', port: 0 },
      healthListen: { host: '127.0.0.1', port: 0 },
      mainStallMs,
      getSnapshot: () => snapshot,
      dnsOptions: OPTIONS,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: memoryLogger().logger,
      healthProblem: () => problem,
    });
    const { port, healthPort } = await server.start();
    expect(healthPort).toBeGreaterThan(0);
    return { port, healthPort: healthPort! };
  }

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    snapshot = null;
    problem = null;
  });

  it('follows the main thread: not ready until a synced snapshot, unhealthy with its problem', async () => {
    const { healthPort } = await start(10_000);
    const first = await probeFromAnotherProcess(healthPort, '/readyz', 100);
    expect(first[0]).toMatchObject({ status: 503, body: expect.stringContaining('no state snapshot yet') });
    snapshot = fixtureSnapshot();
    problem = 'none of the 2 DNS workers is answering';
    await sleep(3 * HEALTH_PUSH_MS);
    const [ready] = await probeFromAnotherProcess(healthPort, '/readyz', 100);
    const [healthz] = await probeFromAnotherProcess(healthPort, '/healthz', 100);
    expect(ready).toMatchObject({ status: 200 });
    expect(healthz).toMatchObject({ status: 503, body: expect.stringContaining('none of the 2 DNS workers') });
    const [other] = await probeFromAnotherProcess(healthPort, '/debug/explain?name=x', 100);
    expect(other!.status).toBe(404);
  });

  it('answers probes while the main thread is blocked, and fails /healthz once the block outlasts the stall threshold', async () => {
    const { healthPort } = await start(1_500);
    snapshot = fixtureSnapshot();
    await sleep(3 * HEALTH_PUSH_MS);
    const probes = probeFromAnotherProcess(healthPort, '/healthz', 3_500);
    await sleep(300); // the probe process is up and probing
    blockMainThread(3_000);
    const results = await probes;
    // Every probe was answered, also during the 3 s in which this thread could not run at all.
    expect(results.length).toBeGreaterThanOrEqual(10);
    expect(results.every((r) => r.status === 200 || r.status === 503)).toBe(true);
    expect(results.some((r) => r.status === 200)).toBe(true);
    const stalled = results.filter((r) => r.status === 503);
    expect(stalled.length).toBeGreaterThan(0);
    expect(stalled[0]!.body).toContain('the main event loop has not run for');
    // Once the main thread runs again, health comes back.
    await sleep(3 * HEALTH_PUSH_MS);
    const [after] = await probeFromAnotherProcess(healthPort, '/healthz', 100);
    expect(after!.status).toBe(200);
  });

  it('refuses a taken health port with an error naming the address', async () => {
    const { healthPort } = await start(10_000);
    const second = createHttpServer({
      listen: { host: '127.0.0.1', port: 0 },
      healthListen: { host: '127.0.0.1', port: healthPort },
      getSnapshot: () => snapshot,
      dnsOptions: OPTIONS,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: memoryLogger().logger,
    });
    await expect(second.start()).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${healthPort}`));
  });
});
