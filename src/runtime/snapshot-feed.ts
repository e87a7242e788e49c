/**
 * Turns "the imported state changed" notifications into numbered snapshots for the DNS server.
 * Bursts (a directory reload, an informer resync) are coalesced: one rebuild at most every
 * `debounceMs`, and never later than `maxDelayMs` after the first change of a burst, so an edit
 * still reaches answers well within a second.
 *
 * A rebuild covers the whole state, so its cost grows with the number of services; under a
 * steady stream of changes (events a few tens of ms apart, each one ending a debounce window),
 * rebuilding once per window would make the total work grow with services × changes. So the
 * next rebuild also waits until `costFactor` times the last rebuild's duration has passed since
 * it ended: rebuilding takes at most 1/(1 + costFactor) of the process's time, whatever the size,
 * and small states (rebuilt in well under a millisecond) are not delayed at all.
 */
import { type AddressCheck, type AddressPolicy, DEFAULT_ADDRESS_POLICY, checkAddress } from '../model/address-policy.ts';
import type { ImportedStateSource } from '../model/imported-state.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { type AddressScreen, type SnapshotRefusal, buildSnapshot } from '../model/snapshot-build.ts';

export interface SnapshotFeedOptions {
  source: ImportedStateSource;
  localCluster: string;
  /** Receives every new snapshot, in order. Must not throw (errors are reported and swallowed). */
  publish: (snapshot: Snapshot) => void;
  onError: (err: unknown) => void;
  now?: () => number;
  debounceMs?: number;
  maxDelayMs?: number;
  /** Minimum quiet time after a rebuild, as a multiple of its duration. Default 4. */
  costFactor?: number;
  /** Which addresses may be answered (`--allowed-cidrs`); forbidden ranges are always refused. */
  addressPolicy?: AddressPolicy;
  /** Addresses refused for the first time (each once until it goes away): log and count them. */
  onRefused?: (refusals: readonly SnapshotRefusal[]) => void;
}

/** Addresses judged so far (a rebuild sees the same ones again); cleared when it grows past this. */
const SCREEN_MEMO_MAX = 100_000;

function memoisedScreen(policy: AddressPolicy): AddressScreen {
  const memo = new Map<string, AddressCheck>();
  return (address) => {
    let check = memo.get(address);
    if (check === undefined) {
      if (memo.size >= SCREEN_MEMO_MAX) memo.clear();
      check = checkAddress(address, policy);
      memo.set(address, check);
    }
    return check;
  };
}

export interface SnapshotFeed {
  current(): Snapshot;
  stop(): void;
}

export function startSnapshotFeed(opts: SnapshotFeedOptions): SnapshotFeed {
  const now = opts.now ?? Date.now;
  const debounceMs = opts.debounceMs ?? 25;
  const maxDelayMs = opts.maxDelayMs ?? 200;
  const costFactor = opts.costFactor ?? 4;
  let version = 0;
  /** When the next rebuild may start at the earliest (see the module comment). */
  let notBefore = 0;
  let timer: NodeJS.Timeout | undefined;
  let burstStart = 0;
  let stopped = false;
  const screen = memoisedScreen(opts.addressPolicy ?? DEFAULT_ADDRESS_POLICY);
  let reported = new Set<string>();
  let latest = build(undefined);

  /** The next snapshot; services unchanged since `previous` keep their entry objects. */
  function build(previous: Snapshot | undefined): Snapshot {
    version += 1;
    const started = now();
    const refusals: SnapshotRefusal[] = [];
    const snapshot = buildSnapshot(opts.source.current(), opts.localCluster, version, started, screen, refusals, previous);
    const ended = now();
    notBefore = ended + costFactor * Math.max(0, ended - started);
    report(refusals);
    return snapshot;
  }

  function report(refusals: readonly SnapshotRefusal[]): void {
    const current = new Set<string>();
    const fresh: SnapshotRefusal[] = [];
    for (const r of refusals) {
      const key = `${r.service}|${r.cluster}|${r.reason}`;
      if (current.has(key)) continue;
      current.add(key);
      if (!reported.has(key)) fresh.push(r);
    }
    reported = current;
    if (fresh.length > 0) opts.onRefused?.(fresh);
  }

  function flush(): void {
    timer = undefined;
    if (stopped) return;
    try {
      latest = build(latest);
      opts.publish(latest);
    } catch (err) {
      // Keep serving the previous snapshot: a bad rebuild must not take answers down.
      opts.onError(err);
    }
  }

  const unsubscribe = opts.source.subscribe(() => {
    if (stopped) return;
    const t = now();
    if (timer === undefined) {
      burstStart = t;
    } else {
      clearTimeout(timer);
    }
    const wait = Math.max(0, Math.min(debounceMs, burstStart + maxDelayMs - t), notBefore - t);
    timer = setTimeout(flush, wait);
  });

  opts.publish(latest);
  return {
    current: () => latest,
    stop() {
      stopped = true;
      unsubscribe();
      if (timer) clearTimeout(timer);
    },
  };
}

/** The feed's onRefused for a process: one error log line per new refusal, and the metric. */
export function reportRefusals(logger: { error(obj: object, msg: string): void }, count: (n: number) => void): (refusals: readonly SnapshotRefusal[]) => void {
  return (refusals) => {
    count(refusals.length);
    for (const r of refusals.slice(0, 20)) logger.error({ service: r.service, sourceCluster: r.cluster, refused: r.reason }, 'refused an address: it is never answered');
    if (refusals.length > 20) logger.error({ more: refusals.length - 20 }, 'more addresses refused');
  };
}
