/**
 * Worker health (issue 9 point 3): a worker whose event loop stops (SIGSTOP: it answers nothing,
 * exactly like a blocked loop) is reported by healthProblem() and by a metric, then killed and
 * replaced; and workers exit when their primary dies, whatever kills it (SIGKILL here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Rcode } from '../../src/dns/types.ts';
import { fixtureSnapshot, OPTIONS } from '../helpers/dns-fixture.ts';
import { alive, eventuallyTrue as eventually, startServer, udpQuery, type RunningServer } from './server-helpers.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');


const listeningPids = (records: Record<string, unknown>[]): number[] =>
  records.filter((r) => r.msg === 'DNS worker listening').map((r) => Number(r.workerPid));

describe('a stalled DNS worker', () => {
  let s: RunningServer | undefined;
  const stopped: number[] = [];
  afterAll(async () => {
    for (const pid of stopped) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await s?.stop();
  });

  it('is reported by health and a metric, then replaced', async () => {
    s = await startServer(OPTIONS, fixtureSnapshot(), { workers: 2, workerStallTimeoutMs: 1_000 });
    const running = s;
    expect(await eventually(() => listeningPids(running.records).length === 2, 15_000)).toBe(true);
    expect(running.server.healthProblem?.()).toBeNull();
    const victim = listeningPids(running.records)[0]!;
    process.kill(victim, 'SIGSTOP');
    stopped.push(victim);

    expect(await eventually(() => (running.server.healthProblem?.() ?? '').includes('stalled'), 10_000)).toBe(true);
    const { body } = await running.metrics.render();
    expect(body).toMatch(/clusterset_dns_worker_stalls_total 1/);
    expect(running.records.some((r) => String(r.msg).startsWith('DNS worker stalled'))).toBe(true);

    // Killed and replaced: a third worker listens, health is back, every query is answered.
    expect(await eventually(() => !alive(victim), 10_000)).toBe(true);
    expect(await eventually(() => new Set(listeningPids(running.records)).size >= 3, 15_000)).toBe(true);
    expect(await eventually(() => running.server.healthProblem?.() === null, 10_000)).toBe(true);
    expect(await eventually(async () => {
      const replies = await Promise.all(Array.from({ length: 10 }, () => udpQuery(running.port, { name: 'api.shop.svc.clusterset.local', qtype: 1 })));
      return replies.every((r) => r.rcode === Rcode.NOERROR);
    }, 15_000)).toBe(true);
    expect((await running.metrics.render()).body).toMatch(/clusterset_dns_workers_stalled 0/);
  });
});

describe('when the primary dies', () => {
  let primary: ChildProcess | undefined;
  let workers: number[] = [];
  afterEach(() => {
    if (primary?.exitCode === null) primary.kill('SIGKILL');
    for (const pid of workers) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('its workers exit, even after SIGKILL', async () => {
    // A real primary process: a worker pool started from source, logging JSON to stdout.
    const script = `
      import { createDnsServer } from './src/server/index.ts';
      import { createLogger, createMetrics } from './src/observability/index.ts';
      import { DEFAULT_DNS_OPTIONS } from './src/config/options.ts';
      const server = createDnsServer(
        { dns: DEFAULT_DNS_OPTIONS, listen: { host: '127.0.0.1', port: 0 }, workers: 2, tcpIdleTimeoutMs: 10000, tcpMaxConnections: 16 },
        { logger: createLogger({ level: 'info' }), metrics: createMetrics({ defaultMetrics: false }) },
      );
      await server.start();
      setInterval(() => {}, 1000);
    `;
    primary = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const records: Record<string, unknown>[] = [];
    let buffered = '';
    primary.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        try {
          records.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
    expect(await eventually(() => listeningPids(records).length === 2, 20_000)).toBe(true);
    workers = listeningPids(records);
    expect(workers.every(alive)).toBe(true);

    primary.kill('SIGKILL');
    expect(await eventually(() => workers.every((pid) => !alive(pid)), 10_000)).toBe(true);
  });
});
