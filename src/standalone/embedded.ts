/**
 * The embedded default: member clusters loaded from a directory of YAML files, an in-memory
 * broker, and the SAME agent code as production (exporter + lease per member cluster, importer for
 * the local cluster). The local cluster's imported state is what the DNS server answers from.
 */
import type { Logger } from 'pino';
import { Exporter } from '../agent/exporter.ts';
import { Importer } from '../agent/importer.ts';
import { LeaseRenewer } from '../agent/lease.ts';
import { DEFAULT_PROBE_SETTINGS, ReachabilityMonitor, type ProbeSettings, type ReachabilityMetrics } from '../agent/reachability.ts';
import { PublishedPropertiesSource } from '../agent/published-properties.ts';
import type { AgentMetrics } from '../agent/stores.ts';
import type { AddressPolicy } from '../model/address-policy.ts';
import { canaryTimeoutMs } from '../model/broker-sight.ts';
import type { ImportedState, ImportedStateSource } from '../model/imported-state.ts';
import type { Place } from '../model/snapshot.ts';
import { placeFromProperties, samePlace } from '../model/traffic-policy.ts';
import type { ClusterId, ImportedService, ImportedSlice } from '../model/types.ts';
import { watchDir, type DirWatcher } from './dir-watcher.ts';
import { DirLoader, type LoadedDir, type Problem, formatProblem } from './loader.ts';
import { MemoryBroker, type MemoryBrokerConnection } from './memory-broker.ts';
import { aggregatesOf, collectStatusInputs, type EmbeddedStatusInputs } from './status-inputs.ts';
import { type ClusterInputs, MemoryLocalCluster, emptyInputs } from './memory-cluster.ts';

export interface EmbeddedOptions {
  dir: string;
  localCluster: ClusterId;
  logger: Logger;
  /** Lease duration: a cluster is stale this long after its last renewal. Default 10 s. */
  leaseDurationMs?: number;
  /** Lease renew interval. Default 2 s. */
  leaseRenewMs?: number;
  /** How long a stale cluster's imports stay (excluded) before they are removed. Default 120 s. */
  gcGraceMs?: number;
  now?: () => number;
  /** Watch DIR and reload on change. Default true. */
  watch?: boolean;
  /** Debounce of file events. Default 50 ms. */
  debounceMs?: number;
  /** Poll instead of fs.watch (file systems without inotify). */
  forcePolling?: boolean;
  /** The watcher's safety-net full check interval (default 30 s). */
  resyncMs?: number;
  metrics?: AgentMetrics;
  /** Which addresses the exporters and the importer accept (`--allowed-cidrs`). */
  addressPolicy?: AddressPolicy;
  /** Hears the current problems of the loaded files after every reload (for a metric). */
  onProblems?: (problems: readonly Problem[]) => void;
  /** Hears every reload's outcome and how many files it read (for a metric). */
  onReload?: (outcome: 'ok' | 'error', filesRead: number) => void;
  /** The local cluster probes the other clusters' announced targets with these settings (default: the agent's defaults). */
  probe?: ProbeSettings;
  reachabilityMetrics?: ReachabilityMetrics;
}

/** File names listed in one reload log record at most. */
const MAX_LOGGED_FILES = 20;

export interface EmbeddedDefault {
  source: ImportedStateSource;
  /** Current problems of the loaded files (bad YAML, invalid objects), as of the last reload. */
  problems(): Problem[];
  /** Cluster IDs currently loaded. */
  clusterIds(): ClusterId[];
  /** Clusters, conflicts and the local exports' conditions, for `status` (computed now). */
  statusInputs(): EmbeddedStatusInputs;
  /**
   * Reloads DIR now and resolves once the change has reached the imported state. With `paths`,
   * only those files (or cluster directories) are looked at; without, every file is checked.
   */
  reload(paths?: ReadonlySet<string>): Promise<void>;
  /** The local importer's broker connection (fault injection: setReachable(false)). */
  localBrokerConnection: MemoryBrokerConnection;
  stop(): Promise<void>;
}

interface Member {
  cluster: ClusterId;
  /** The inputs last applied (the loader hands back the same object for an unchanged cluster). */
  inputs: ClusterInputs;
  store: MemoryLocalCluster;
  connection: MemoryBrokerConnection;
  exporter: Exporter;
  lease: LeaseRenewer;
}

/** The ImportedStateSource over the local cluster's in-memory store. */
class EmbeddedStateSource implements ImportedStateSource {
  private readonly store: MemoryLocalCluster;
  private readonly connection: MemoryBrokerConnection;
  private readonly listeners = new Set<() => void>();
  private cached: ImportedState | undefined;
  private notifyScheduled = false;
  private synced = false;
  private place: Place;

  constructor(store: MemoryLocalCluster, connection: MemoryBrokerConnection) {
    this.store = store;
    this.connection = connection;
    this.place = placeFromProperties(store.clusterProperties());
  }

  markSynced(): void {
    this.synced = true;
    this.changed();
  }

  /**
   * Called when this cluster's lease changed or its folder was reloaded: a new region or zone in
   * its ClusterProperties changes `nearest` answers; anything else is no reason for a new snapshot.
   */
  propertiesMaybeChanged(): void {
    const place = placeFromProperties(this.store.clusterProperties());
    if (samePlace(place, this.place)) return;
    this.place = place;
    this.changed();
  }

  changed(): void {
    this.cached = undefined;
    // Before the first import pass every snapshot answers SERVFAIL whatever it holds: building
    // and shipping one per burst of the initial load would only make garbage.
    if (!this.synced || this.notifyScheduled) return;
    this.notifyScheduled = true;
    // One notification per burst: an import pass writes many objects back to back.
    setImmediate(() => {
      this.notifyScheduled = false;
      for (const l of this.listeners) {
        try {
          l();
        } catch {
          // A listener's failure is its own; the others still hear about the change.
        }
      }
    });
  }

  current(): ImportedState {
    if (this.cached !== undefined) return this.cached;
    const byKey = (a: ImportedService | ImportedSlice, b: ImportedService | ImportedSlice): number =>
      a.namespace !== b.namespace ? (a.namespace < b.namespace ? -1 : 1) : a.name !== b.name ? (a.name < b.name ? -1 : 1) : 0;
    const services = this.store.listImportedServices().sort(byKey);
    const slices = this.store
      .allImportedSlices()
      .sort((a, b) => byKey(a, b) || (a.sourceCluster < b.sourceCluster ? -1 : a.sourceCluster > b.sourceCluster ? 1 : 0));
    const conn = this.connection.connectivity();
    const state: ImportedState = { synced: this.synced, services, slices, localPlace: this.place };
    if (!conn.reachable) state.staleSource = { reason: conn.reason ?? 'broker unreachable', since: conn.since };
    this.cached = state;
    return state;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedDefault> {
  const logger = options.logger.child({ component: 'embedded' });
  const now = options.now ?? Date.now;
  const leaseDurationMs = options.leaseDurationMs ?? 10_000;
  const leaseRenewMs = options.leaseRenewMs ?? 2_000;
  const gcGraceMs = options.gcGraceMs ?? 120_000;
  const policy = options.addressPolicy === undefined ? {} : { addressPolicy: options.addressPolicy };
  const broker = new MemoryBroker(now, {
    // The broker validator refused what an exporter published: logged and counted as the Kube broker store does.
    onRejected: (kind, object, problems) => {
      options.metrics?.brokerObjectRejected?.(kind);
      logger.error({ object, kind, problems }, 'rejected an invalid broker object');
    },
  });
  const canaryTimeout = canaryTimeoutMs(leaseDurationMs, leaseRenewMs);

  // Exports without a creationTimestamp get the time they were first loaded, kept across reloads
  // so that editing a file never changes which export is the oldest.
  const firstSeen = new Map<string, number>();
  const loader = new DirLoader({
    dir: options.dir,
    defaultCreatedAt: (cluster, ns, name) => {
      const k = `${cluster}/${ns}/${name}`;
      let t = firstSeen.get(k);
      if (t === undefined) firstSeen.set(k, (t = now()));
      return t;
    },
  });

  const members = new Map<ClusterId, Member>();
  let problems: Problem[] = [];
  let reported = new Set<string>();
  let stopped = false;

  const first = await loader.load();
  if (!first.clusters.has(options.localCluster)) {
    throw new Error(`no directory for cluster ${JSON.stringify(options.localCluster)} in ${options.dir} (found: ${[...first.clusters.keys()].join(', ') || 'none'})`);
  }

  const createMember = async (cluster: ClusterId, loaded: LoadedDir['clusters'] extends Map<string, infer V> ? V : never): Promise<Member> => {
    const store = new MemoryLocalCluster(cluster);
    const connection = broker.connect({ cluster, canaryTimeoutMs: canaryTimeout });
    // The agent components add their own `cluster` binding.
    const memberLogger = options.logger;
    const published = new PublishedPropertiesSource(() => store.clusterProperties(), memberLogger);
    const lease = new LeaseRenewer({ cluster, broker: connection, durationMs: leaseDurationMs, renewMs: leaseRenewMs, logger: memberLogger, now, properties: () => published.current(), ...(options.metrics ? { metrics: options.metrics } : {}) });
    const exporter = new Exporter({ cluster, local: store, broker: connection, logger: memberLogger, gcGraceMs, now, ...policy, ...(options.metrics ? { metrics: options.metrics } : {}) });
    store.replaceInputs(loaded.inputs);
    // The first lease is written even for an OFFLINE cluster: it simulates an agent that ran and
    // then died, so its lease expires and importers show it as stale (not as never seen).
    await lease.start();
    if (loaded.offline) lease.pause();
    exporter.start();
    const member: Member = { cluster, inputs: loaded.inputs, store, connection, exporter, lease };
    members.set(cluster, member);
    logger.info({ cluster, offline: loaded.offline }, 'member cluster started');
    return member;
  };

  const removeMember = async (member: Member): Promise<void> => {
    // A removed directory is a cluster leaving the clusterset: withdraw its exports and lease.
    member.inputs = emptyInputs();
    member.store.replaceInputs(member.inputs);
    await member.exporter.whenIdle();
    await member.exporter.stop();
    await member.lease.stop();
    await member.connection.deleteLease(member.cluster).catch(() => undefined);
    member.connection.close();
    members.delete(member.cluster);
    logger.info({ cluster: member.cluster }, 'member cluster removed');
  };

  const reportProblems = (next: Problem[]): void => {
    const texts = new Set<string>();
    for (const p of next) {
      const text = formatProblem(p);
      texts.add(text);
      if (reported.has(text)) continue;
      const fields = { file: p.file, line: p.line, column: p.column, document: p.document, object: p.object, field: p.field };
      if (p.severity === 'error') logger.error(fields, text);
      else logger.warn(fields, text);
    }
    for (const text of reported) if (!texts.has(text)) logger.info({ problem: text }, 'problem resolved');
    reported = texts;
    problems = next;
    options.onProblems?.(next);
  };

  const applyLoad = async (loaded: LoadedDir): Promise<void> => {
    reportProblems(loaded.problems);
    for (const [cluster, c] of loaded.clusters) {
      const member = members.get(cluster);
      if (member === undefined) {
        await createMember(cluster, c);
        continue;
      }
      if (c.inputs === member.inputs && c.offline === member.lease.isPaused) continue; // unchanged cluster
      if (c.offline) {
        // The agent is "down": its cluster's edits are not exported until it comes back.
        if (!member.lease.isPaused) logger.warn({ cluster }, 'OFFLINE marker found: lease renewals stop');
        member.lease.pause();
      } else {
        member.store.replaceInputs(c.inputs);
        member.inputs = c.inputs;
        if (member.lease.isPaused) {
          logger.info({ cluster }, 'OFFLINE marker removed: lease renewals resume');
          await member.lease.resume();
        }
      }
    }
    for (const member of [...members.values()]) {
      if (!loaded.clusters.has(member.cluster) && member.cluster !== options.localCluster) await removeMember(member);
    }
    const local = members.get(options.localCluster);
    if (local !== undefined && !loaded.clusters.has(options.localCluster)) {
      local.inputs = emptyInputs();
      local.store.replaceInputs(local.inputs);
    }
    // Forget load times of exports that are gone (a re-created export is a new object).
    for (const k of firstSeen.keys()) {
      const [cluster = '', namespace = '', name = ''] = k.split('/');
      if (members.get(cluster)?.store.getServiceExport({ namespace, name }) === undefined) firstSeen.delete(k);
    }
  };

  const settle = async (): Promise<void> => {
    await Promise.all([...members.values()].map((m) => m.exporter.whenIdle()));
    await importer.whenIdle();
    logConditionChanges();
  };

  /**
   * One info record whenever a ServiceExport's Valid/Ready/Conflict conditions change (the exporters
   * compute them with production's code), naming the conflict's winner, so a conflict is visible in
   * the log and not only in status.
   */
  const loggedConditions = new Map<string, string>();
  const logConditionChanges = (): void => {
    const seen = new Set<string>();
    let aggregates: ReturnType<typeof aggregatesOf> | undefined;
    for (const member of members.values()) {
      for (const e of member.store.listServiceExports()) {
        const conditions = member.store.getExportConditions(e) ?? [];
        if (conditions.length === 0) continue;
        const key = `${member.cluster}/${e.namespace}/${e.name}`;
        seen.add(key);
        const summary = conditions.map((c) => `${c.type}=${c.status}(${c.reason})`).join(' ');
        const before = loggedConditions.get(key);
        if (before === summary) continue;
        loggedConditions.set(key, summary);
        // A new export that is simply fine is not news (10,000 files would log 10,000 lines at start).
        const fine = conditions.every((c) => (c.type === 'Conflict' ? c.status === 'False' : c.status === 'True'));
        if (before === undefined && fine) continue;
        const conflict = conditions.find((c) => c.type === 'Conflict' && c.status === 'True');
        const fields: Record<string, unknown> = { cluster: member.cluster, namespace: e.namespace, name: e.name, conditions: summary };
        if (conflict !== undefined) {
          aggregates ??= aggregatesOf(importerConnection, now(), gcGraceMs);
          fields['winner'] = aggregates.get(`${e.namespace}/${e.name}`)?.winner;
          fields['conflict'] = conflict.message;
        }
        const notReady = conditions.find((c) => c.type === 'Ready' && c.status !== 'True');
        if (notReady !== undefined) fields['ready'] = notReady.message;
        logger.info(fields, `ServiceExport ${e.namespace}/${e.name} in ${member.cluster}: ${summary}`);
      }
    }
    for (const key of [...loggedConditions.keys()]) if (!seen.has(key)) loggedConditions.delete(key);
  };

  await applyLoad(first);
  const firstSymlinked = first.symlinkedFiles;
  await Promise.all([...members.values()].map((m) => m.exporter.whenIdle()));

  const localMember = members.get(options.localCluster)!;
  // The importer's own connection (fault injection cuts it alone); its cluster's lease, renewed
  // through the member's connection, dates the start of an outage as in production.
  const importerConnection = broker.connect({ cluster: options.localCluster, canaryTimeoutMs: canaryTimeout });
  // The same probing as the production agent: the other clusters' targets, from this process.
  const reachability = new ReachabilityMonitor({
    cluster: options.localCluster,
    broker: importerConnection,
    settings: options.probe ?? DEFAULT_PROBE_SETTINGS,
    logger: options.logger,
    ...(options.reachabilityMetrics === undefined ? {} : { metrics: options.reachabilityMetrics }),
  });
  reachability.start();
  const importer = new Importer({
    reachability,
    cluster: options.localCluster,
    local: localMember.store,
    broker: importerConnection,
    logger: options.logger,
    gcGraceMs,
    now,
    ...policy,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const source = new EmbeddedStateSource(localMember.store, importerConnection);
  const unsubscribeStore = localMember.store.subscribe((c) => {
    if (c.kind === 'ImportedService' || c.kind === 'ImportedSlice') source.changed();
  });
  const unsubscribeBroker = importerConnection.subscribe((c) => {
    if (c.kind === 'Connectivity') source.changed();
    // Our own lease carries the properties a reload changed (one renewal later).
    else if (c.kind === 'Lease') source.propertiesMaybeChanged();
  });
  importer.start();
  await importer.whenIdle();
  await settle();
  source.markSynced();
  logger.info(
    { clusters: [...members.keys()], services: localMember.store.listImportedServices().length, problems: problems.length },
    'embedded default synced',
  );

  let reloading: Promise<void> | undefined;
  /** Paths changed since the running reload started; undefined entries mean "check everything". */
  let queued: Set<string> | 'all' | undefined;
  const reload = (paths?: ReadonlySet<string>): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (paths === undefined || queued === 'all') queued = 'all';
    else {
      queued ??= new Set();
      for (const p of paths) queued.add(p);
    }
    if (reloading !== undefined) return reloading;
    reloading = (async () => {
      while (queued !== undefined && !stopped) {
        const batch = queued;
        queued = undefined;
        try {
          const started = Date.now();
          const loaded = await loader.load(batch === 'all' ? undefined : { paths: batch });
          const loadedAt = Date.now();
          watcher?.setPolledFiles(loaded.symlinkedFiles);
          await applyLoad(loaded);
          const appliedAt = Date.now();
          await settle();
          const ms = Date.now() - started;
          const phases = { loadMs: loadedAt - started, applyMs: appliedAt - loadedAt, settleMs: Date.now() - appliedAt };
          options.onReload?.('ok', loaded.readFiles.length);
          if (loaded.readFiles.length > 0) {
            logger.info(
              { files: loaded.readFiles.slice(0, MAX_LOGGED_FILES), filesRead: loaded.readFiles.length, ms, ...phases, problems: problems.length },
              `reloaded ${loaded.readFiles.length} file(s)`,
            );
          } else {
            logger.debug({ ms, paths: batch === 'all' ? 'all' : [...batch].slice(0, MAX_LOGGED_FILES) }, 'reload: no manifest changed');
          }
        } catch (err) {
          options.onReload?.('error', 0);
          logger.error({ err }, 'reload failed; keeping the previous state');
        }
      }
    })().finally(() => {
      reloading = undefined;
    });
    return reloading;
  };

  let watcher: DirWatcher | undefined;
  if (options.watch !== false) {
    watcher = watchDir({
      dir: options.dir,
      logger,
      onChange: (batch) => void reload(batch.paths),
      ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
      ...(options.forcePolling === undefined ? {} : { forcePolling: options.forcePolling }),
      ...(options.resyncMs === undefined ? {} : { resyncMs: options.resyncMs }),
    });
    watcher.setPolledFiles(firstSymlinked);
    // Edits made while the first load ran raised no event yet: check once more.
    void reload();
  }

  return {
    source,
    problems: () => [...problems],
    clusterIds: () => [...members.keys()].sort(),
    statusInputs: () => collectStatusInputs({ broker: importerConnection, local: localMember.store, members: [...members.keys()], now: now(), gcGraceMs }),
    reload,
    localBrokerConnection: importerConnection,
    async stop() {
      if (stopped) return;
      stopped = true;
      watcher?.close();
      await reloading;
      unsubscribeStore();
      unsubscribeBroker();
      await importer.stop();
      await reachability.stop();
      importerConnection.close();
      for (const m of members.values()) {
        await m.exporter.stop();
        await m.lease.stop();
        m.connection.close();
      }
    },
  };
}
