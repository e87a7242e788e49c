/**
 * Large answers (more records than one UDP message holds: a headless service of thousands of
 * addresses) cost milliseconds to tens of milliseconds each to compute and encode, on a worker's
 * only thread. Two things keep them off the query path (issue 9):
 *
 * - **Carry-over.** The answer cache is keyed by snapshot version, so any update anywhere would
 *   make every large answer a miss again. A large answer depends only on the entry of the service
 *   its question named (and snapshot-wide fields such as the stale marker, which are compared), so on a new snapshot
 *   the large answers of services whose entry did not change are moved under the new version.
 * - **Warm-up.** When a large service is new or changed, its common questions (A, AAAA, ANY and
 *   SRV at the service, cluster and port names, with and without EDNS) are computed in slices
 *   between queries before the worker reports the snapshot installed, so the first queries for it
 *   are cache hits (the measured alternative: 50–300 ms stalls on the first seconds of a flood).
 */
import { deepEqual } from '../model/equal.ts';
import type { ServiceEntry, Snapshot } from '../model/snapshot.ts';
import { serviceKey } from '../model/service-key.ts';
import { LARGE_ANSWER_RECORDS, type AnswerCache, type CachedAnswer } from './answer-cache.ts';
import { writeKeyVersion } from './cache-key.ts';

/** Large answers indexed at most (each is at least one TCP message in the cache, so far fewer fit). */
const MAX_INDEXED = 10_000;
/** Warm-up questions per service at most (clusters × names × types are bounded by this). */
const MAX_WARM_QUESTIONS_PER_SERVICE = 96;

const QTYPE_A = 1;
const QTYPE_AAAA = 28;
const QTYPE_SRV = 33;
const QTYPE_ANY = 255;
const ADDRESS_QTYPES = [QTYPE_A, QTYPE_AAAA, QTYPE_ANY, QTYPE_SRV];
const SRV_NAME_QTYPES = [QTYPE_SRV, QTYPE_ANY];

/** One question to compute ahead of queries. */
export interface WarmQuestion {
  /** Lowercased wire-form name, as QueryParser writes it (labels, then the root's 0). */
  nameKey: string;
  qtype: number;
  edns: boolean;
}

function versionHeader(version: number): string {
  const header = Buffer.alloc(8);
  writeKeyVersion(header, version);
  return header.toString('latin1');
}

/** Snapshot fields that are not per service (and do not change every time): the rest is compared. */
const PER_UPDATE_FIELDS = new Set(['version', 'builtAt', 'services', 'namespaces']);

/**
 * True when everything a service's answer may depend on besides its own entry is the same: the
 * stale marker, sync state, local cluster, and any snapshot-wide field added later (compared
 * generically, so a new one can never leave a cached answer stale).
 */
function sameSurroundings(a: Snapshot, b: Snapshot): boolean {
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    if (!PER_UPDATE_FIELDS.has(k) && !deepEqual(ra[k], rb[k])) return false;
  }
  return true;
}

/** Cached large answers by the service they answer, so a new snapshot can keep the unchanged ones. */
export class LargeAnswerIndex {
  /** Service key → cache keys without their 8-byte version prefix. */
  private readonly byService = new Map<string, Set<string>>();
  private count = 0;

  /** Remembers a stored entry if it is large, positive and about one service. */
  note(cacheKey: string, entry: CachedAnswer): void {
    if (!entry.isLarge || entry.negative || entry.serviceKey === undefined || this.count >= MAX_INDEXED) return;
    let keys = this.byService.get(entry.serviceKey);
    if (keys === undefined) {
      keys = new Set();
      this.byService.set(entry.serviceKey, keys);
    }
    const suffix = cacheKey.slice(8);
    if (keys.has(suffix)) return;
    keys.add(suffix);
    this.count++;
  }

  clear(): void {
    this.byService.clear();
    this.count = 0;
  }

  /**
   * Moves the cached large answers of services not in `changed` from `from`'s version to `to`'s;
   * forgets the rest. When something every answer depends on differs, nothing is kept and the
   * result is false: every large answer is new then.
   */
  carryOver(cache: AnswerCache, from: Snapshot, to: Snapshot, changed: readonly string[]): boolean {
    const comparable = to.version > from.version && sameSurroundings(from, to);
    if (!comparable) {
      this.clear();
      return false;
    }
    const changedKeys = new Set(changed);
    const oldHeader = versionHeader(from.version);
    const newHeader = versionHeader(to.version);
    for (const [service, suffixes] of this.byService) {
      if (changedKeys.has(service) || !to.services.has(service)) {
        this.count -= suffixes.size;
        this.byService.delete(service);
        continue;
      }
      for (const suffix of suffixes) {
        const entry = cache.take(oldHeader + suffix);
        if (entry === undefined) {
          // Evicted meanwhile.
          suffixes.delete(suffix);
          this.count--;
          continue;
        }
        cache.set(newHeader + suffix, entry);
      }
      if (suffixes.size === 0) this.byService.delete(service);
    }
    return true;
  }
}

/** Addresses of one backend, counted up to `limit` + 1. */
function addressesUpTo(endpoints: ServiceEntry['backends'][number]['endpoints'], limit: number): number {
  let n = 0;
  for (const e of endpoints) {
    n += e.addresses.length;
    if (n > limit) break;
  }
  return n;
}

/** True when some answer about the service can hold more records than one UDP message. */
export function isLargeService(entry: ServiceEntry): boolean {
  let n = 0;
  for (const b of entry.backends) {
    n += addressesUpTo(b.endpoints, LARGE_ANSWER_RECORDS - n);
    if (n > LARGE_ANSWER_RECORDS) return true;
  }
  return false;
}

function nameKeyOf(labels: readonly string[]): string {
  let key = '';
  for (const label of labels) key += String.fromCharCode(label.length) + label;
  return key + '\0';
}

/** The questions worth computing ahead for a large service, in every served zone. */
export function warmQuestions(entry: ServiceEntry, zones: readonly string[], clusterNames: boolean): WarmQuestion[] {
  const out: WarmQuestion[] = [];
  const add = (labels: string[], qtypes: readonly number[]): void => {
    for (const qtype of qtypes) {
      for (const edns of [true, false]) {
        if (out.length >= MAX_WARM_QUESTIONS_PER_SERVICE) return;
        out.push({ nameKey: nameKeyOf(labels.map((l) => l.toLowerCase())), qtype, edns });
      }
    }
  };
  for (const zone of zones) {
    const base = [entry.name, entry.namespace, 'svc', ...zone.split('.').filter((l) => l !== '')];
    add(base, ADDRESS_QTYPES);
    for (const port of entry.ports) {
      if (port.name !== '') add([`_${port.name}`, `_${port.protocol.toLowerCase()}`, ...base], SRV_NAME_QTYPES);
    }
    if (clusterNames) {
      for (const backend of entry.backends) {
        if (addressesUpTo(backend.endpoints, LARGE_ANSWER_RECORDS) > LARGE_ANSWER_RECORDS) add([backend.cluster, ...base], ADDRESS_QTYPES);
      }
    }
  }
  return out;
}

/** Keys of the large services among `keys` (or among all services), in the snapshot's order. */
export function largeServiceKeys(snapshot: Snapshot, keys: readonly string[] | undefined): string[] {
  const out: string[] = [];
  if (keys === undefined) {
    for (const entry of snapshot.services.values()) if (isLargeService(entry)) out.push(serviceKey(entry));
    return out;
  }
  for (const key of keys) {
    const entry = snapshot.services.get(key);
    if (entry !== undefined && isLargeService(entry)) out.push(key);
  }
  return out;
}
