/**
 * The reachability monitor and the importer together, over the in-memory broker on a manual clock:
 * probe rounds every interval, hysteresis, exclusion on the stale-cluster path (endpoints not ready,
 * the reason on the imported slice), recovery, the fail-safe, a cluster without targets, and the
 * real TCP/HTTP probes against loopback listeners.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Importer } from '../../src/agent/importer.ts';
import { probeTarget } from '../../src/agent/probe-transport.ts';
import { ReachabilityMonitor, type ProbeSettings } from '../../src/agent/reachability.ts';
import { parseProbeTarget, parseProbeTargets, type ProbeTarget } from '../../src/model/cluster-properties.ts';
import type { ProbeOutcome } from '../../src/model/reachability.ts';
import type { ClusterId } from '../../src/model/types.ts';
import { MemoryBroker } from '../../src/standalone/memory-broker.ts';
import { MemoryLocalCluster, emptyInputs } from '../../src/standalone/memory-cluster.ts';
import { manualTime } from '../helpers/manual-time.ts';

const logger = pino({ level: 'silent' });
const T0 = Date.parse('2024-05-01T12:00:00Z');
const ref = { namespace: 'shop', name: 'web' };
const settings: ProbeSettings = { intervalMs: 5_000, timeoutMs: 1_000, failures: 3, successes: 2, concurrency: 4 };

const targetOf: Record<string, string> = { west: 'tcp://10.2.0.5:4500', north: 'tcp://10.3.0.5:4500' };

/** east imports web from west and north; each announces one target; `down` says which fail. */
async function setup(options: { announce?: ClusterId[] } = {}) {
  const t = manualTime(T0, 5);
  const broker = new MemoryBroker(t.now);
  const down = new Set<string>();
  const probed: string[] = [];
  const probe = async (target: ProbeTarget): Promise<ProbeOutcome> => {
    probed.push(target.text);
    return down.has(target.text) ? { target: target.text, ok: false, error: 'connection refused', latencyMs: 1 } : { target: target.text, ok: true, latencyMs: 1 };
  };
  const announce = options.announce ?? ['west', 'north'];
  const renew = (): void => {
    for (const cluster of ['east', 'west', 'north']) {
      const targets = announce.includes(cluster) ? parseProbeTargets(targetOf[cluster]!).targets : [];
      broker.putLease({ cluster, renewedAt: t.now(), durationMs: 3_600_000, ...(targets.length > 0 ? { properties: { probeTargets: targets } } : {}) });
    }
  };
  renew();
  for (const [cluster, ip] of [['west', '10.2.0.10'], ['north', '10.3.0.10']] as const) {
    broker.putExport(
      { ...ref, cluster, type: 'ClusterSetIP', ports: [{ name: 'http', protocol: 'TCP', port: 80 }], serviceIPs: [ip], ipFamilies: ['IPv4'], sessionAffinity: 'None', exportCreatedAt: 1 },
      { ...ref, cluster, endpoints: [{ addresses: [ip], ready: true }], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] },
    );
  }
  const east = new MemoryLocalCluster('east');
  east.replaceInputs({ ...emptyInputs(), namespaces: ['shop'] });
  const connection = broker.connect();
  const transitions: string[] = [];
  const failSafe: boolean[] = [];
  const monitor = new ReachabilityMonitor({
    cluster: 'east',
    broker: connection,
    settings,
    logger,
    probe,
    now: t.now,
    timers: t.timers,
    random: () => 0.5,
    metrics: { transition: (c, to) => transitions.push(`${c}:${to}`), failSafe: (on) => failSafe.push(on) },
  });
  const importer = new Importer({ cluster: 'east', local: east, broker: connection, logger, gcGraceMs: 60_000, now: t.now, timers: t.timers, reachability: monitor });
  monitor.start();
  importer.start();
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await t.flush();
      await importer.whenIdle();
    }
  };
  await settle();
  const slice = (cluster: ClusterId) => east.listImportedSlices(ref).find((s) => s.sourceCluster === cluster);
  return {
    t,
    down,
    probed,
    monitor,
    transitions,
    failSafe,
    slice,
    renew,
    /** Advances by whole intervals, settling after each round. */
    async rounds(n: number) {
      for (let i = 0; i < n; i++) {
        await t.advance(settings.intervalMs);
        await settle();
      }
    },
    async stop() {
      await importer.stop();
      await monitor.stop();
    },
  };
}

describe('reachability monitor + importer', () => {
  it('probes every announced target of every other cluster each interval (never its own)', async () => {
    const s = await setup();
    await s.rounds(2);
    expect(s.probed).toEqual(['tcp://10.2.0.5:4500', 'tcp://10.3.0.5:4500', 'tcp://10.2.0.5:4500', 'tcp://10.3.0.5:4500', 'tcp://10.2.0.5:4500', 'tcp://10.3.0.5:4500']);
    await s.stop();
  });

  it('west unreachable after 3 failed rounds: its endpoints not ready, with the reason; back after 2 good rounds', async () => {
    const s = await setup();
    const cutAt = s.t.now();
    s.down.add(targetOf['west']!);
    await s.rounds(2);
    expect(s.slice('west')?.excludedReason).toBeUndefined();
    await s.rounds(1);
    const firstFailure = new Date(cutAt + 5_000).toISOString();
    expect(s.slice('west')).toMatchObject({
      excludedReason: `unreachable since ${firstFailure}: tcp://10.2.0.5:4500 failed 3 times (connection refused)`,
      endpoints: [{ addresses: ['10.2.0.10'], ready: false }],
    });
    expect(s.slice('north')?.excludedReason).toBeUndefined();
    expect(s.transitions).toEqual(['west:unreachable']);
    s.down.delete(targetOf['west']!);
    await s.rounds(1);
    expect(s.slice('west')?.excludedReason).toBeDefined();
    await s.rounds(1);
    expect(s.slice('west')).toMatchObject({ endpoints: [{ addresses: ['10.2.0.10'], ready: true }] });
    expect(s.slice('west')?.excludedReason).toBeUndefined();
    expect(s.transitions).toEqual(['west:unreachable', 'west:reachable']);
    await s.stop();
  });

  it('fail-safe: every probed cluster down at once excludes no one and notes why on the slices', async () => {
    const s = await setup();
    s.down.add(targetOf['west']!);
    s.down.add(targetOf['north']!);
    await s.rounds(4);
    for (const c of ['west', 'north']) {
      expect(s.slice(c)?.excludedReason).toBeUndefined();
      expect(s.slice(c)?.endpoints[0]?.ready).toBe(true);
      expect(s.slice(c)?.reachabilityNote).toMatch(/^fail-safe: every probed cluster \(north, west\) is unreachable from here, so this cluster's own network is suspected; none is excluded; held back: unreachable since /);
    }
    expect(s.failSafe).toEqual([true]);
    // North comes back: west alone is down, and now excluded.
    s.down.delete(targetOf['north']!);
    await s.rounds(2);
    expect(s.slice('west')?.excludedReason).toMatch(/^unreachable since /);
    expect(s.slice('north')?.reachabilityNote).toBeUndefined();
    expect(s.failSafe).toEqual([true, false]);
    await s.stop();
  });

  it('a cluster announcing no targets is never probed and counts as reachable, so one failing cluster is still excluded', async () => {
    const s = await setup({ announce: ['west'] });
    s.down.add(targetOf['west']!);
    await s.rounds(3);
    expect(s.probed.every((p) => p === targetOf['west'])).toBe(true);
    expect(s.slice('west')?.excludedReason).toMatch(/^unreachable since /);
    expect(s.slice('north')?.excludedReason).toBeUndefined();
    await s.stop();
  });
});

describe('probe rounds', () => {
  /** A monitor over leases of `clusters` clusters with `perCluster` targets each, on a manual clock. */
  function monitorOf(clusters: number, perCluster: number, probe: (t: ProbeTarget) => Promise<ProbeOutcome>, random: () => number, concurrency = 16) {
    const t = manualTime(T0, 5);
    const broker = new MemoryBroker(t.now);
    for (let c = 0; c < clusters; c++) {
      const targets = Array.from({ length: perCluster }, (_, i) => `tcp://10.${c}.0.${i + 1}:4500`).join(',');
      broker.putLease({ cluster: `c${c}`, renewedAt: T0, durationMs: 3_600_000, properties: { probeTargets: parseProbeTargets(targets).targets } });
    }
    const monitor = new ReachabilityMonitor({ cluster: 'east', broker: broker.connect(), settings: { ...settings, concurrency }, logger, probe, now: t.now, timers: t.timers, random });
    return { t, monitor };
  }

  it('never has more probes in flight than --probe-concurrency', async () => {
    let inFlight = 0;
    let most = 0;
    let done = 0;
    const gates: Array<() => void> = [];
    const probe = (target: ProbeTarget): Promise<ProbeOutcome> => {
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise((resolve) => gates.push(() => {
        inFlight--;
        done++;
        resolve({ target: target.text, ok: true, latencyMs: 1 });
      }));
    };
    const { t, monitor } = monitorOf(3, 4, probe, () => 0.5, 5);
    monitor.start();
    for (let i = 0; i < 40 && done < 12; i++) {
      await t.flush();
      gates.splice(0).forEach((open) => open());
    }
    expect(done).toBe(12);
    expect(most).toBe(5);
    await monitor.stop();
  });

  it('rounds start every interval ±10 % (jitter), counted from the start of the last round', async () => {
    for (const [random, gap] of [[0, 4_500], [0.5, 5_000], [1, 5_500]] as const) {
      const starts: number[] = [];
      let now = (): number => 0;
      const probe = async (target: ProbeTarget): Promise<ProbeOutcome> => {
        starts.push(now());
        return { target: target.text, ok: true, latencyMs: 1 };
      };
      const { t, monitor } = monitorOf(1, 1, probe, () => random);
      now = t.now;
      monitor.start();
      await t.advance(20_000);
      await monitor.stop();
      expect(starts.slice(0, 3).map((s) => s - T0)).toEqual([0, gap, 2 * gap]);
    }
  });
});

describe('probe transport (loopback)', () => {
  const servers: Array<Server | HttpServer> = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((srv) => new Promise<void>((r) => srv.close(() => r()))));
  });
  const listen = async <S extends Server | HttpServer>(srv: S): Promise<number> => {
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    return (srv.address() as { port: number }).port;
  };
  const target = (text: string): ProbeTarget => {
    const p = parseProbeTarget(text);
    if (!p.ok) throw new Error(p.reason);
    return p.target;
  };

  it('tcp: an accepted connection is ok, a closed port is "connection refused"', async () => {
    const port = await listen(createServer((s) => s.destroy()));
    expect(await probeTarget(target(`tcp://127.0.0.1:${port}`), 1_000)).toMatchObject({ ok: true });
    const closed = createServer();
    const closedPort = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    servers.splice(servers.indexOf(closed), 1);
    expect(await probeTarget(target(`tcp://127.0.0.1:${closedPort}`), 1_000)).toMatchObject({ ok: false, error: 'connection refused' });
  });

  it('http: 2xx is ok, 503 is named, a server that never answers times out', async () => {
    const port = await listen(createHttpServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 503).end()));
    expect(await probeTarget(target(`http://127.0.0.1:${port}/healthz`), 1_000)).toMatchObject({ ok: true });
    expect(await probeTarget(target(`http://127.0.0.1:${port}/down`), 1_000)).toMatchObject({ ok: false, error: 'HTTP 503' });
    const silent = await listen(createHttpServer(() => undefined));
    const outcome = await probeTarget(target(`http://127.0.0.1:${silent}/`), 200);
    expect(outcome).toMatchObject({ ok: false, error: 'timed out after 0.2s' });
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(190);
  });
});
