/**
 * The exporter, importer and lease renewer driven end to end over the in-memory stores, on a
 * manual clock (no sleeps).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Exporter } from '../../src/agent/exporter.ts';
import { Importer } from '../../src/agent/importer.ts';
import { LeaseRenewer } from '../../src/agent/lease.ts';
import { PublishedPropertiesSource } from '../../src/agent/published-properties.ts';
import { PROPERTY_PROBE_TARGETS, PROPERTY_REGION, PROPERTY_ZONE } from '../../src/model/cluster-properties.ts';
import type { LocalService } from '../../src/model/types.ts';
import { MemoryBroker } from '../../src/standalone/memory-broker.ts';
import { type ClusterInputs, MemoryLocalCluster, emptyInputs } from '../../src/standalone/memory-cluster.ts';
import { manualTime } from '../helpers/manual-time.ts';

const logger = pino({ level: 'silent' });
const T0 = Date.parse('2024-05-01T12:00:00Z');

const fakeTime = () => manualTime(T0, 5);

function svc(name: string, ip: string, over: Partial<LocalService> = {}): LocalService {
  return {
    namespace: 'shop',
    name,
    type: 'ClusterIP',
    clusterIPs: [ip],
    headless: false,
    ipFamilies: ['IPv4'],
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    sessionAffinity: 'None',
    publishNotReadyAddresses: false,
    ...over,
  };
}

function inputs(over: Partial<ClusterInputs>): ClusterInputs {
  return { ...emptyInputs(), namespaces: ['shop'], ...over };
}

function webInputs(ip: string, createdAt: number, port = 80): ClusterInputs {
  return inputs({
    services: [svc('web', ip, { ports: [{ name: 'http', protocol: 'TCP', port }] })],
    endpointSlices: [{ namespace: 'shop', name: 'web', sliceName: 'web-1', addressType: 'IPv4', endpoints: [{ addresses: ['10.9.9.9'], ready: true }], ports: [] }],
    serviceExports: [{ namespace: 'shop', name: 'web', createdAt, generation: 1 }],
  });
}

/** A clusterset of named clusters, each with an exporter and lease; `east` also imports. */
function clusterset(t: ReturnType<typeof fakeTime>, names: string[], opts: { gcGraceMs?: number; leaseMs?: number } = {}) {
  const broker = new MemoryBroker(t.now);
  const gcGraceMs = opts.gcGraceMs ?? 60_000;
  const members = new Map(
    names.map((cluster) => {
      const store = new MemoryLocalCluster(cluster);
      const connection = broker.connect();
      const exporter = new Exporter({ cluster, local: store, broker: connection, logger, gcGraceMs, now: t.now, timers: t.timers, random: () => 0.5 });
      const published = new PublishedPropertiesSource(() => store.clusterProperties(), logger);
      const lease = new LeaseRenewer({ cluster, broker: connection, durationMs: opts.leaseMs ?? 10_000, renewMs: 2_000, logger, now: t.now, timers: t.timers, properties: () => published.current() });
      return [cluster, { store, connection, exporter, lease }] as const;
    }),
  );
  const east = members.get('east')!;
  const importConnection = broker.connect();
  const importer = new Importer({ cluster: 'east', local: east.store, broker: importConnection, logger, gcGraceMs, now: t.now, timers: t.timers, random: () => 0.5 });
  return {
    broker,
    members,
    east,
    importer,
    importConnection,
    m: (n: string) => members.get(n)!,
    async start() {
      for (const m of members.values()) {
        await m.lease.start();
        m.exporter.start();
      }
      importer.start();
      await this.settle();
    },
    async settle() {
      for (let i = 0; i < 3; i++) {
        await t.flush();
        await Promise.all([...members.values()].map((m) => m.exporter.whenIdle()));
        await importer.whenIdle();
      }
    },
    async stop() {
      await importer.stop();
      for (const m of members.values()) {
        await m.exporter.stop();
        await m.lease.stop();
      }
    },
  };
}

function conditionsOf(store: MemoryLocalCluster, name = 'web') {
  return store.getExportConditions({ namespace: 'shop', name })?.map((c) => `${c.type}=${c.status}/${c.reason}`);
}

describe('exporter', () => {
  it('an export created before its Service starts working when the Service appears', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east']);
    cs.east.store.replaceInputs(inputs({ serviceExports: [{ namespace: 'shop', name: 'web', createdAt: 1, generation: 1 }] }));
    await cs.start();
    expect(conditionsOf(cs.east.store)).toEqual(['Valid=False/NoService', 'Ready=False/Failed', 'Conflict=False/NoConflicts']);
    expect(cs.broker.listRecords()).toEqual([]);

    cs.east.store.replaceInputs(webInputs('10.1.0.10', 1));
    await cs.settle();
    expect(conditionsOf(cs.east.store)).toEqual(['Valid=True/Valid', 'Ready=True/Exported', 'Conflict=False/NoConflicts']);
    expect(cs.broker.listRecords().map((r) => r.cluster)).toEqual(['east']);
    expect(cs.east.store.listImportedSlices({ namespace: 'shop', name: 'web' }).map((s) => s.sourceCluster)).toEqual(['east']);
    await cs.stop();
  });

  it('ExternalName is rejected with InvalidServiceType and nothing is published', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east']);
    cs.east.store.replaceInputs(inputs({ services: [svc('web', '', { type: 'ExternalName', clusterIPs: [] })], serviceExports: [{ namespace: 'shop', name: 'web', createdAt: 1, generation: 1 }] }));
    await cs.start();
    expect(conditionsOf(cs.east.store)?.[0]).toBe('Valid=False/InvalidServiceType');
    expect(cs.broker.listRecords()).toEqual([]);
    await cs.stop();
  });

  it('unexport and Service deletion remove this cluster’s broker objects', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east', 'west']);
    cs.m('west').store.replaceInputs(webInputs('10.2.0.10', 1));
    await cs.start();
    expect(cs.broker.getRecord('west', { namespace: 'shop', name: 'web' })).toBeDefined();

    const noService = webInputs('10.2.0.10', 1);
    noService.services = [];
    cs.m('west').store.replaceInputs(noService);
    await cs.settle();
    expect(cs.broker.getRecord('west', { namespace: 'shop', name: 'web' })).toBeUndefined();
    expect(cs.broker.getEndpoints('west', { namespace: 'shop', name: 'web' })).toBeUndefined();
    expect(conditionsOf(cs.m('west').store)?.[0]).toBe('Valid=False/NoService');

    cs.m('west').store.replaceInputs(webInputs('10.2.0.10', 1));
    await cs.settle();
    expect(cs.broker.getRecord('west', { namespace: 'shop', name: 'web' })).toBeDefined();
    cs.m('west').store.replaceInputs(inputs({}));
    await cs.settle();
    expect(cs.broker.listRecords()).toEqual([]);
    expect(cs.east.store.listImportedServices()).toEqual([]);
    await cs.stop();
  });

  it('Conflict=True is reported on every involved export, the winner too', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east', 'west']);
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 5, 8080));
    cs.m('west').store.replaceInputs(webInputs('10.2.0.10', 1, 80));
    await cs.start();
    expect(conditionsOf(cs.east.store)?.[2]).toBe('Conflict=True/PortConflict');
    expect(conditionsOf(cs.m('west').store)?.[2]).toBe('Conflict=True/PortConflict');
    expect(cs.east.store.getImportedService({ namespace: 'shop', name: 'web' })?.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80 }]);

    // Fixing east's port clears the condition on both sides.
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 5, 80));
    await cs.settle();
    expect(conditionsOf(cs.east.store)?.[2]).toBe('Conflict=False/NoConflicts');
    expect(conditionsOf(cs.m('west').store)?.[2]).toBe('Conflict=False/NoConflicts');
    await cs.stop();
  });

  it('a broker write failure is Ready=False/Failed and retried with backoff until it works', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east']);
    await cs.start();
    cs.east.connection.setReachable(false, 'test cut');
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 1));
    await cs.settle();
    expect(conditionsOf(cs.east.store)?.[1]).toBe('Ready=False/Failed');
    expect(cs.broker.listRecords()).toEqual([]);
    cs.east.connection.setReachable(true);
    await t.advance(1_000);
    await cs.settle();
    expect(conditionsOf(cs.east.store)?.[1]).toBe('Ready=True/Exported');
    expect(cs.broker.listRecords().length).toBe(1);
    await cs.stop();
  });

  it('converges after a restart: a record whose export vanished meanwhile is withdrawn', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east']);
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 1));
    await cs.start();
    await cs.m('east').exporter.stop();
    cs.east.store.replaceInputs(inputs({})); // deleted while the agent was down
    expect(cs.broker.listRecords().length).toBe(1);
    const restarted = new Exporter({ cluster: 'east', local: cs.east.store, broker: cs.east.connection, logger, gcGraceMs: 60_000, now: t.now, timers: t.timers });
    restarted.start();
    await restarted.whenIdle();
    expect(cs.broker.listRecords()).toEqual([]);
    await restarted.stop();
    await cs.stop();
  });

  it('never rewrites objects that are already right', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east', 'west']);
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 1));
    cs.m('west').store.replaceInputs(webInputs('10.2.0.10', 2));
    await cs.start();
    let brokerWrites = 0;
    let localWrites = 0;
    cs.broker.listen((c) => {
      if (c.kind !== 'Lease') brokerWrites++;
    });
    // Count apply calls, not events: the in-memory store would hide identical writes.
    const applySvc = cs.east.store.applyImportedService.bind(cs.east.store);
    const applySlice = cs.east.store.applyImportedSlice.bind(cs.east.store);
    cs.east.store.applyImportedService = async (x) => {
      localWrites++;
      await applySvc(x);
    };
    cs.east.store.applyImportedSlice = async (x) => {
      localWrites++;
      await applySlice(x);
    };
    const writeStatus = cs.east.store.writeExportConditions.bind(cs.east.store);
    let statusWrites = 0;
    cs.east.store.writeExportConditions = async (ref, c) => {
      statusWrites++;
      await writeStatus(ref, c);
    };
    // Same inputs again, resyncs and a minute of lease renewals: nothing else changes.
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 1));
    cs.m('east').exporter.resyncAll();
    cs.importer.resyncAll();
    await t.advance(60_000);
    await cs.settle();
    expect([brokerWrites, localWrites, statusWrites]).toEqual([0, 0, 0]);
    await cs.stop();
  });
});

describe('importer', () => {
  it('a stale cluster is excluded when its lease expires, removed after the GC grace, back when it renews', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east', 'south'], { gcGraceMs: 30_000, leaseMs: 10_000 });
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 1));
    cs.m('south').store.replaceInputs(webInputs('10.4.0.10', 2));
    await cs.start();
    const ref = { namespace: 'shop', name: 'web' };
    const southSlice = () => cs.east.store.listImportedSlices(ref).find((s) => s.sourceCluster === 'south');
    expect(southSlice()?.excludedReason).toBeUndefined();

    cs.m('south').lease.pause(); // last renewal at T0
    await t.advance(10_000);
    expect(southSlice()?.excludedReason).toBeUndefined(); // expires strictly after the duration
    await t.advance(5);
    expect(southSlice()?.excludedReason).toBe('lease expired at 2024-05-01T12:00:10.000Z');
    expect(southSlice()?.endpoints.every((e) => !e.ready)).toBe(true);

    await t.advance(30_000);
    expect(southSlice()).toBeUndefined();
    expect(cs.east.store.getImportedService(ref)?.clusters).toEqual(['east']);

    await cs.m('south').lease.resume();
    await cs.settle();
    expect(southSlice()?.excludedReason).toBeUndefined();
    expect(southSlice()?.endpoints[0]?.ready).toBe(true);
    await cs.stop();
  });

  it('fail static: with the broker unreachable nothing changes locally, not even staleness', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east', 'west']);
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 1));
    cs.m('west').store.replaceInputs(webInputs('10.2.0.10', 2));
    await cs.start();
    const before = cs.east.store.allImportedSlices();
    cs.importConnection.setReachable(false, 'partition');
    cs.m('west').store.replaceInputs(inputs({})); // west withdraws while we cannot see the broker
    for (const m of cs.members.values()) await m.lease.stop(); // and every lease expires
    await t.advance(20_000);
    await cs.settle();
    expect(cs.east.store.allImportedSlices()).toEqual(before);

    cs.importConnection.setReachable(true);
    await cs.settle();
    // The 20 s spent blind do not count (DESIGN.md: stale only while the importer sees the broker):
    // west's withdrawal is seen at once, east's lease has its 10 s of life left...
    expect(cs.east.store.listImportedSlices({ namespace: 'shop', name: 'web' }).map((s) => [s.sourceCluster, s.excludedReason])).toEqual([['east', undefined]]);
    // ...and expires 10 s after the broker came back into sight.
    await t.advance(10_001);
    await cs.settle();
    expect(cs.east.store.listImportedSlices({ namespace: 'shop', name: 'web' }).map((s) => [s.sourceCluster, s.excludedReason])).toEqual([
      ['east', 'lease expired at 2024-05-01T12:00:30.000Z'],
    ]);
    await cs.stop();
  });

  it('imports appear when their namespace is created locally', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east', 'west']);
    cs.east.store.replaceInputs({ ...emptyInputs(), namespaces: ['default'] });
    cs.m('west').store.replaceInputs(webInputs('10.2.0.10', 2));
    await cs.start();
    expect(cs.east.store.listImportedServices()).toEqual([]);
    cs.east.store.replaceInputs({ ...emptyInputs(), namespaces: ['default', 'shop'] });
    await cs.settle();
    expect(cs.east.store.listImportedServices().map((s) => s.name)).toEqual(['web']);
    await cs.stop();
  });

  it('repairs an imported slice deleted by someone else', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east']);
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 1));
    await cs.start();
    await cs.east.store.deleteImportedSlice({ namespace: 'shop', name: 'web' }, 'east');
    await cs.settle();
    expect(cs.east.store.listImportedSlices({ namespace: 'shop', name: 'web' }).length).toBe(1);
    await cs.stop();
  });

  it('rejects invalid broker objects and counts them', async () => {
    const t = fakeTime();
    const rejected: string[] = [];
    // The broker validates what is put (the one broker validator); the importer only sees what passed.
    const broker = new MemoryBroker(t.now, { onRejected: (k) => rejected.push(k) });
    const store = new MemoryLocalCluster('east');
    store.replaceInputs(inputs({}));
    const importer = new Importer({ cluster: 'east', local: store, broker: broker.connect(), logger, gcGraceMs: 1000, now: t.now, timers: t.timers });
    broker.putLease({ cluster: 'evil', renewedAt: t.now(), durationMs: 10_000 });
    broker.putRecord({ namespace: 'shop', name: 'web', cluster: 'evil', type: 'ClusterSetIP', ports: [{ name: 'http', protocol: 'TCP', port: 99999 }], serviceIPs: ['1.2.3.4'], ipFamilies: ['IPv4'], sessionAffinity: 'None', exportCreatedAt: 1 });
    importer.start();
    await t.flush();
    await importer.whenIdle();
    expect(store.listImportedServices()).toEqual([]);
    expect(rejected).toEqual(['record']);
    await importer.stop();
  });
});

describe('lease renewer', () => {
  it('renews every interval, stops while paused, renews at once on resume', async () => {
    const t = fakeTime();
    const broker = new MemoryBroker(t.now);
    const lease = new LeaseRenewer({ cluster: 'east', broker: broker.connect(), durationMs: 10_000, renewMs: 2_000, logger, now: t.now, timers: t.timers });
    await lease.start();
    expect(broker.getLease('east')?.renewedAt).toBe(T0);
    await t.advance(4_000);
    expect(broker.getLease('east')?.renewedAt).toBe(T0 + 4_000);
    lease.pause();
    await t.advance(6_000);
    expect(broker.getLease('east')?.renewedAt).toBe(T0 + 4_000);
    await lease.resume();
    expect(broker.getLease('east')?.renewedAt).toBe(T0 + 10_000);
    await lease.stop();
  });

  it('keeps trying after failures', async () => {
    const t = fakeTime();
    const broker = new MemoryBroker(t.now);
    const conn = broker.connect();
    const outcomes: string[] = [];
    const lease = new LeaseRenewer({ cluster: 'east', broker: conn, durationMs: 10_000, renewMs: 1_000, logger, now: t.now, timers: t.timers, metrics: { leaseRenewal: (o) => outcomes.push(o) } });
    conn.setReachable(false);
    await lease.start();
    await t.advance(1_000);
    conn.setReachable(true);
    await t.advance(1_000);
    expect(outcomes).toEqual(['error', 'error', 'ok']);
    expect(broker.getLease('east')?.renewedAt).toBe(T0 + 2_000);
    await lease.stop();
  });
});

describe('traffic policy through the broker (issue 14)', () => {
  function annotated(ip: string, createdAt: number, annotations: { policyText?: string; weightText?: string }): ClusterInputs {
    const i = webInputs(ip, createdAt);
    i.serviceExports = [{ namespace: 'shop', name: 'web', createdAt, generation: 1, ...annotations }];
    return i;
  }
  const web = { namespace: 'shop', name: 'web' };

  it('the winner\'s policy and every cluster\'s weight reach the imported objects; a disagreeing export gets PolicyConflict', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east', 'west']);
    cs.m('west').store.replaceInputs(annotated('10.2.0.10', 1, { policyText: 'remote-first', weightText: '250' }));
    cs.east.store.replaceInputs(annotated('10.1.0.10', 5, { policyText: 'all', weightText: '0' }));
    await cs.start();
    expect(cs.east.store.getImportedService(web)?.policy).toBe('remote-first');
    expect(Object.fromEntries(cs.east.store.listImportedSlices(web).map((s) => [s.sourceCluster, s.weight]))).toEqual({ east: 0, west: 250 });
    // Only the export that is not served as it asked is told so; the winner has no conflict.
    expect(conditionsOf(cs.east.store)?.[2]).toBe('Conflict=True/PolicyConflict');
    expect(cs.east.store.getExportConditions(web)?.[2]?.message).toBe('east: policy all, service uses remote-first (winner west, oldest export)');
    expect(conditionsOf(cs.m('west').store)?.[2]).toBe('Conflict=False/NoConflicts');

    // Removing the annotation defers to the winner: no conflict left; the weight goes back to the default.
    cs.east.store.replaceInputs(annotated('10.1.0.10', 5, {}));
    await cs.settle();
    expect(conditionsOf(cs.east.store)?.[2]).toBe('Conflict=False/NoConflicts');
    expect(cs.east.store.listImportedSlices(web).find((s) => s.sourceCluster === 'east')?.weight).toBeUndefined();
    // The winner dropping its policy hands the service to the global --policy.
    cs.m('west').store.replaceInputs(annotated('10.2.0.10', 1, { weightText: '250' }));
    await cs.settle();
    expect(cs.east.store.getImportedService(web)?.policy).toBeUndefined();
    await cs.stop();
  });

  it.each([
    [{ policyText: 'closest' }, 'Valid=False/InvalidPolicy', 'annotation clusterset-dns.io/policy: policy "closest" is not one of local-first, all, round-robin, remote-first, nearest'],
    [{ weightText: '1001' }, 'Valid=False/InvalidWeight', 'annotation clusterset-dns.io/weight: weight "1001" is not a whole number from 0 to 1000'],
    [{ weightText: '1e2' }, 'Valid=False/InvalidWeight', 'annotation clusterset-dns.io/weight: weight "1e2" is not a whole number from 0 to 1000'],
  ])('a bad annotation %j refuses the export with a clear reason and publishes nothing', async (annotations, condition, message) => {
    const t = fakeTime();
    const cs = clusterset(t, ['east']);
    cs.east.store.replaceInputs(annotated('10.1.0.10', 1, annotations));
    await cs.start();
    expect(conditionsOf(cs.east.store)?.[0]).toBe(condition);
    expect(cs.east.store.getExportConditions(web)?.[0]?.message).toBe(message);
    expect(cs.broker.listRecords()).toEqual([]);
    await cs.stop();
  });

  it('each source cluster\'s region and zone (from its lease) land on its imported slices, and follow a move', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east', 'west']);
    const westInputs = (zone: string): ClusterInputs => ({ ...webInputs('10.2.0.10', 1), properties: [{ name: PROPERTY_REGION, value: 'eu-west' }, { name: PROPERTY_ZONE, value: zone }] });
    cs.m('west').store.replaceInputs(westInputs('eu-west-1a'));
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 5));
    await cs.start();
    const placeOf = (cluster: string) => {
      const s = cs.east.store.listImportedSlices(web).find((x) => x.sourceCluster === cluster);
      return { region: s?.region, zone: s?.zone };
    };
    expect(placeOf('west')).toEqual({ region: 'eu-west', zone: 'eu-west-1a' });
    expect(placeOf('east')).toEqual({ region: undefined, zone: undefined });
    cs.m('west').store.replaceInputs(westInputs('eu-west-1b'));
    await t.advance(2_000);
    await cs.settle();
    expect(placeOf('west')).toEqual({ region: 'eu-west', zone: 'eu-west-1b' });
    await cs.stop();
  });
});

describe('published properties ride on the lease', () => {
  it('a property change reaches every other connection with the next renewal, with no write of its own', async () => {
    const t = fakeTime();
    const broker = new MemoryBroker(t.now);
    const store = new MemoryLocalCluster('west');
    const writes: number[] = [];
    const conn = broker.connect({ cluster: 'west' });
    const counting = { applyLease: async (l: Parameters<typeof conn.applyLease>[0]) => { writes.push(t.now()); await conn.applyLease(l); } };
    const published = new PublishedPropertiesSource(() => store.clusterProperties(), logger);
    const lease = new LeaseRenewer({ cluster: 'west', broker: counting, durationMs: 10_000, renewMs: 2_000, logger, now: t.now, timers: t.timers, properties: () => published.current() });
    store.replaceInputs(inputs({ properties: [{ name: PROPERTY_PROBE_TARGETS, value: 'tcp://10.0.0.5:4500' }, { name: PROPERTY_REGION, value: 'eu-west-1' }] }));
    await lease.start();
    const east = broker.connect();
    expect(east.getLease('west')?.properties).toEqual({ probeTargets: [expect.objectContaining({ text: 'tcp://10.0.0.5:4500' })], region: 'eu-west-1' });
    store.replaceInputs(inputs({ properties: [{ name: PROPERTY_PROBE_TARGETS, value: 'tcp://10.0.0.6:4500,http://10.0.0.6:80/healthz' }] }));
    await t.advance(1_000);
    expect(east.getLease('west')?.properties?.probeTargets.map((p) => p.text)).toEqual(['tcp://10.0.0.5:4500']);
    await t.advance(1_000);
    expect(east.getLease('west')?.properties).toEqual({ probeTargets: [expect.objectContaining({ text: 'tcp://10.0.0.6:4500' }), expect.objectContaining({ text: 'http://10.0.0.6:80/healthz' })] });
    // One write per renewal, whether or not anything changed.
    expect(writes).toEqual([T0, T0 + 2_000]);
    store.replaceInputs(inputs({}));
    await t.advance(2_000);
    expect(east.getLease('west')?.properties).toBeUndefined();
    await lease.stop();
  });

  it('a bad property value is left out; the valid ones are still published', async () => {
    const t = fakeTime();
    const broker = new MemoryBroker(t.now);
    const store = new MemoryLocalCluster('west');
    const published = new PublishedPropertiesSource(() => store.clusterProperties(), logger);
    store.replaceInputs(inputs({ properties: [{ name: PROPERTY_PROBE_TARGETS, value: 'udp://10.0.0.5:1,tcp://10.0.0.5:2' }, { name: PROPERTY_ZONE, value: 'not a zone' }] }));
    const lease = new LeaseRenewer({ cluster: 'west', broker: broker.connect({ cluster: 'west' }), durationMs: 10_000, renewMs: 2_000, logger, now: t.now, timers: t.timers, properties: () => published.current() });
    await lease.start();
    expect(broker.getLease('west')?.properties).toEqual({ probeTargets: [expect.objectContaining({ text: 'tcp://10.0.0.5:2' })] });
    await lease.stop();
  });
});

describe('trust: what a member writes inside its own objects is checked by every importer', () => {
  const ref = { namespace: 'shop', name: 'db' };
  /** What a compromised west writes straight to the broker, bypassing its own exporter. */
  function westWrites(cs: ReturnType<typeof clusterset>, addresses: string[], exportCreatedAt = T0 - 1_000) {
    cs.broker.putLease({ cluster: 'west', renewedAt: Date.parse('2099-01-01T00:00:00Z'), durationMs: 10_000 });
    cs.broker.putRecord({ ...ref, cluster: 'west', type: 'Headless', ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }], serviceIPs: [], ipFamilies: [], sessionAffinity: 'None', exportCreatedAt });
    cs.broker.putEndpoints({ ...ref, cluster: 'west', endpoints: addresses.map((a) => ({ addresses: [a], ready: true })), ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }] });
  }

  it('metadata, loopback and multicast addresses are dropped one by one, with the reason on the imported slice', async () => {
    const t = fakeTime();
    const refused: string[] = [];
    const cs = clusterset(t, ['east']);
    const importer = new Importer({ cluster: 'east', local: cs.east.store, broker: cs.broker.connect(), logger, gcGraceMs: 60_000, now: t.now, timers: t.timers, metrics: { addressesRejected: (stage) => refused.push(stage) } });
    cs.east.store.replaceInputs(inputs({}));
    await cs.start();
    importer.start();
    westWrites(cs, ['169.254.169.254', '127.0.0.1', '224.0.0.1', '10.2.0.7', '::ffff:10.2.0.8']);
    await cs.settle();
    await importer.whenIdle();
    const slice = cs.east.store.listImportedSlices(ref).find((s) => s.sourceCluster === 'west');
    expect(slice?.endpoints.map((e) => e.addresses)).toEqual([['10.2.0.7']]);
    expect(slice?.rejectedAddresses).toBe(
      '169.254.169.254: link-local address (169.254.0.0/16, cloud metadata lives here); 127.0.0.1: loopback address; 224.0.0.1: multicast address; ::ffff:10.2.0.8: IPv4-mapped IPv6 address (use the IPv4 address in an IPv4 slice)',
    );
    // Counted once for the object, not once per reconcile.
    importer.resyncAll();
    await importer.whenIdle();
    expect(refused).toEqual(['import']);
    await importer.stop();
    await cs.stop();
  });

  it('an export time in the future is refused; one within the skew tolerance is accepted', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east']);
    cs.east.store.replaceInputs(inputs({}));
    await cs.start();
    westWrites(cs, ['10.2.0.7'], T0 + 3_600_000);
    await cs.settle();
    expect(cs.east.store.getImportedService(ref)).toBeUndefined();
    westWrites(cs, ['10.2.0.7'], T0 + 10_000);
    await cs.settle();
    expect(cs.east.store.getImportedService(ref)?.clusters).toEqual(['west']);
    await cs.stop();
  });

  it('a lease claiming 2099 goes stale once it stops changing, like any other', async () => {
    const t = fakeTime();
    const cs = clusterset(t, ['east']);
    cs.east.store.replaceInputs(inputs({}));
    await cs.start();
    westWrites(cs, ['10.2.0.7']);
    await cs.settle();
    const west = () => cs.east.store.listImportedSlices(ref).find((s) => s.sourceCluster === 'west');
    expect(west()?.excludedReason).toBeUndefined();
    await t.advance(10_001);
    await cs.settle();
    expect(west()?.excludedReason).toMatch(/^lease expired at /);
    await cs.stop();
  });

  it('the exporter publishes only addresses the policy allows (--allowed-cidrs)', async () => {
    const t = fakeTime();
    const broker = new MemoryBroker(t.now);
    const store = new MemoryLocalCluster('east');
    const refused: string[] = [];
    const exporter = new Exporter({
      cluster: 'east', local: store, broker: broker.connect(), logger, gcGraceMs: 60_000, now: t.now, timers: t.timers,
      addressPolicy: { allowed: [{ family: 'IPv4', network: new Uint8Array([10, 0, 0, 0]), prefix: 8, text: '10.0.0.0/8' }] },
      metrics: { addressesRejected: (stage) => refused.push(stage) },
    });
    store.replaceInputs(inputs({
      services: [svc('db', 'None', { headless: true, clusterIPs: [] })],
      endpointSlices: [{ namespace: 'shop', name: 'db', sliceName: 'db-1', addressType: 'IPv4', endpoints: [{ addresses: ['10.1.0.5'], ready: true }, { addresses: ['192.168.7.7'], ready: true }], ports: [] }],
      serviceExports: [{ namespace: 'shop', name: 'db', createdAt: T0, generation: 1 }],
    }));
    exporter.start();
    await t.flush();
    await exporter.whenIdle();
    expect(broker.getEndpoints('east', ref)?.endpoints.map((e) => e.addresses)).toEqual([['10.1.0.5']]);
    expect(refused).toEqual(['export']);
    await exporter.stop();
  });
});

describe('trust: namespace grants', () => {
  it('an export into a namespace the cluster is not granted is refused with Valid=False and ignored by importers', async () => {
    const { parseGrants } = await import('../../src/model/namespace-grants.ts');
    const t = fakeTime();
    const cs = clusterset(t, ['east', 'west']);
    cs.east.store.replaceInputs(webInputs('10.1.0.10', 5));
    // West claims the oldest export time: with grants in place it can only win where it is granted.
    cs.m('west').store.replaceInputs(webInputs('10.2.0.10', 1, 8080));
    await cs.start();
    // Without grants, the oldest export wins the port conflict (KEP-1645).
    expect(cs.east.store.getImportedService({ namespace: 'shop', name: 'web' })?.ports.map((p) => p.port)).toEqual([8080]);

    cs.broker.setGrants(parseGrants({ west: 'analytics' }).grants);
    await cs.settle();
    expect(cs.m('west').store.getExportConditions({ namespace: 'shop', name: 'web' })?.find((c) => c.type === 'Valid')).toMatchObject({
      status: 'False',
      reason: 'NamespaceNotGranted',
      message: 'cluster west is not granted namespace shop on the broker (ConfigMap clusterset-dns-grants)',
    });
    expect(cs.broker.getRecord('west', { namespace: 'shop', name: 'web' })).toBeUndefined();
    expect(cs.east.store.getImportedService({ namespace: 'shop', name: 'web' })?.clusters).toEqual(['east']);
    expect(cs.east.store.getImportedService({ namespace: 'shop', name: 'web' })?.ports.map((p) => p.port)).toEqual([80]);

    // Written around the grant (straight to the broker), it is still ignored by the importer.
    cs.broker.putRecord({ namespace: 'shop', name: 'web', cluster: 'west', type: 'ClusterSetIP', ports: [{ name: 'http', protocol: 'TCP', port: 8080 }], serviceIPs: ['10.2.0.10'], ipFamilies: ['IPv4'], sessionAffinity: 'None', exportCreatedAt: 1 });
    await cs.settle();
    expect(cs.east.store.getImportedService({ namespace: 'shop', name: 'web' })?.clusters).toEqual(['east']);
    await cs.stop();
  });
});
