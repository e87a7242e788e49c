/**
 * workers: N — DNS answered by worker processes that each bind the UDP port (SO_REUSEPORT) and
 * share the TCP listener; snapshots shipped over IPC (ready once every worker installed the newest); worker metrics in the primary's /metrics;
 * dead workers restarted (logged and counted); stop() ends every worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rcode } from '../../src/dns/types.ts';
import { fixtureSnapshot, fixtureState, OPTIONS } from '../helpers/dns-fixture.ts';
import { alive, eventuallyTrue as eventually, startServer, tcpQuery, udpQuery, type RunningServer } from './server-helpers.ts';

const WEB = 'web.shop.svc.clusterset.local';

function workerPids(s: RunningServer): number[] {
  return s.records.filter((r) => r.msg === 'DNS worker listening').map((r) => Number(r.workerPid));
}

describe('DNS worker processes', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer(OPTIONS, fixtureSnapshot(), { workers: 2 });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('answers over UDP and TCP from the shipped snapshot', async () => {
    // Workers receive the snapshot asynchronously after start: wait until it is served.
    expect(await eventually(async () => (await udpQuery(s.port, { name: WEB, qtype: 1 })).rcode === Rcode.NOERROR, 15_000)).toBe(true);
    // Several queries from different source ports spread across both workers.
    for (let i = 0; i < 20; i++) {
      const r = await udpQuery(s.port, { name: WEB, qtype: 1 });
      expect(r.packet.answers.map((a) => a.address)).toEqual(['10.1.0.10']);
    }
    const tcp = await tcpQuery(s.port, { name: 'API.shop.svc.clusterset.local', qtype: 1 });
    expect(tcp.packet.answers.map((a) => [a.name, a.address])).toEqual([['API.shop.svc.clusterset.local', '242.0.0.1']]);
  });

  it('ships new snapshots to every worker', async () => {
    const state = fixtureState();
    s.server.setSnapshot(fixtureSnapshot({ services: state.services.filter((svc) => svc.name !== 'web') }, 100));
    expect(await eventually(async () => {
      const replies = await Promise.all(Array.from({ length: 10 }, () => udpQuery(s.port, { name: WEB, qtype: 1 })));
      return replies.every((r) => r.rcode === Rcode.NXDOMAIN);
    }, 15_000)).toBe(true);
  });

  it('aggregates the workers\' query counters into the primary\'s metrics', async () => {
    const { body } = await s.metrics.render();
    const match = /clusterset_dns_queries_total\{zone="clusterset\.local\.",proto="udp",type="A",rcode="NOERROR"\} (\d+)/.exec(body);
    expect(Number(match?.[1])).toBeGreaterThanOrEqual(20);
    expect(body).toMatch(/clusterset_dns_snapshot_version 100/);
  });

  it('is not ready while a worker has not installed the newest snapshot, then ready', async () => {
    s.server.setSnapshot(fixtureSnapshot(undefined, 200));
    // The snapshot is on its way to the workers (IPC): none can have installed it yet.
    expect(s.server.notReady?.()).toMatch(/DNS workers still installing snapshot version 200/);
    expect(await eventually(async () => s.server.notReady?.() === null, 15_000)).toBe(true);
  });

  it('restarts a worker that dies, and counts it', async () => {
    const pids = workerPids(s);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    process.kill(pids[0]!, 'SIGKILL');
    expect(await eventually(async () => /clusterset_dns_worker_restarts_total 1/.test((await s.metrics.render()).body), 15_000)).toBe(true);
    expect(s.records.some((r) => r.msg === 'DNS worker died; restarting it')).toBe(true);
    // The replacement binds and serves; every query keeps being answered meanwhile or after.
    expect(await eventually(() => new Set(workerPids(s)).size >= 3, 15_000)).toBe(true);
    const replies = await Promise.all(Array.from({ length: 10 }, () => udpQuery(s.port, { name: 'api.shop.svc.clusterset.local', qtype: 1 })));
    expect(replies.every((r) => r.rcode === Rcode.NOERROR)).toBe(true);
  });

  it('stop() terminates every worker', async () => {
    const pids = [...new Set(workerPids(s))];
    await s.stop();
    expect(await eventually(() => pids.every((pid) => !alive(pid)), 10_000)).toBe(true);
  });
});
