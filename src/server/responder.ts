/**
 * Query bytes in, reply bytes out (or null: send nothing). Transport-agnostic: the UDP and TCP
 * listeners call this with each message and a size limit. The hot path is parse → cache lookup →
 * copy and patch; answer() and dns2 run only on a cache miss. Nothing here throws: any failure
 * becomes SERVFAIL (counted and logged), and a message with no usable header is dropped.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DnsOptions } from '../config/options.ts';
import { answer as realAnswer } from '../dns/answer.ts';
import { EdeCode, Rcode, type Answer, type Question } from '../dns/types.ts';
import { matchZone } from '../dns/name.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { changedServiceKeys } from '../model/snapshot-build.ts';
import type { QueryStats } from '../observability/query-stats.ts';
import type { QueryLog, QueryLogEntry } from '../observability/query-log.ts';
import { CachedAnswer, createAnswerCache, DEFAULT_CACHE_BYTES, DEFAULT_NEGATIVE_ENTRIES, isNegativeRcode, type AnswerCache } from './answer-cache.ts';
import { cacheKey } from './cache-key.ts';
import { buildErrorReply } from './error-response.ts';
import { LargeAnswerIndex, isLargeService, largeServiceKeys, warmQuestions, type WarmQuestion } from './large-answers.ts';
import { labelsOfNameKey, QueryParser, type ParsedQuery } from './query-parser.ts';
import { encodeResponse, OUR_UDP_PAYLOAD_SIZE } from './response-encoder.ts';
import { fitResponse, MAX_TCP_SIZE, patchResponse, udpLimit } from './response-fit.ts';

export type AnswerFn = (snapshot: Snapshot, question: Question, opts: DnsOptions) => Answer;

export const TRANSPORT_UDP = 0;
export const TRANSPORT_TCP = 1;
export type TransportIndex = typeof TRANSPORT_UDP | typeof TRANSPORT_TCP;

export interface ResponderOptions {
  dns: DnsOptions;
  stats: QueryStats;
  logger: Logger;
  /** The answer function; the real `answer()` unless a test needs a failing one. */
  answerFn?: AnswerFn;
  /** Budget of the encoded-answer cache in bytes (default DEFAULT_CACHE_BYTES). */
  cacheMaxBytes?: number;
  /** The opt-in query log (--query-log); undefined: off, no cost. */
  queryLog?: QueryLog;
  /** Negative answers cached at most (default DEFAULT_NEGATIVE_ENTRIES). */
  negativeCacheEntries?: number;
}

const ERROR_LOG_INTERVAL_MS = 10_000;
/**
 * Cache misses over UDP are computed in event-loop turns of about this much work each: within it
 * at once, beyond it deferred to later turns, so queries that hit the cache — already waiting in
 * the socket — are answered between them: one huge answer computed for the first time delays
 * others by at most itself, not by the whole backlog of first-time questions an attacker sends at
 * once (issue 9). Small against what reading a batch of datagrams costs: at 2 ms, a flood of cheap
 * misses (~20 µs each) was all computed as it was read, so a cached answer waited for the whole
 * socket backlog ahead of it (p50 ~10 ms in bench:abuse); at 0.5 ms reading keeps up and the
 * misses wait in the deferred queue instead (p50 under 1 ms).
 */
const MISS_TURN_BUDGET_MS = 0.5;
/** Queries waiting for a deferred miss at most; beyond that a miss is answered at once (never dropped). */
const MAX_DEFERRED_QUERIES = 4096;

/** Sends a reply computed in a later turn to the client it belongs to (one function per listener). */
export type DeliverLater = (reply: Buffer, clientAddress: string | undefined, clientPort: number | undefined) => void;

/** What an answer-cache entry is computed from (a parsed query, or a question computed ahead). */
type QuestionOfKey = Pick<ParsedQuery, 'nameKey' | 'qtype' | 'qclass'> & { edns: unknown };

const QCLASS_IN = 1;
/** The EDNS payload size large answers are encoded for ahead of queries (dig's and CoreDNS's default). */
const WARM_EDNS_PAYLOAD_SIZE = 1232;

/** A query whose cache miss waits for its turn. */
interface DeferredQuery {
  msg: Buffer;
  query: ParsedQuery;
  transport: TransportIndex;
  started: number;
  clientAddress: string | undefined;
  clientPort: number | undefined;
  deliver: DeliverLater;
}

/** All queries waiting for one cache key, computed once against the snapshot they arrived under. */
interface PendingMiss {
  snapshot: Snapshot;
  queries: DeferredQuery[];
}

export class Responder {
  private readonly parser = new QueryParser();
  private readonly cache: AnswerCache;
  private readonly dns: DnsOptions;
  private readonly stats: QueryStats;
  private readonly logger: Logger;
  private readonly answerFn: AnswerFn;
  private readonly queryLog: QueryLog | undefined;
  private snapshot: Snapshot | null = null;
  private lastErrorLogAt = -Infinity;
  private suppressedErrors = 0;
  /** Deferred misses by cache key, in arrival order (a Map iterates in insertion order). */
  private readonly pendingMisses = new Map<string, PendingMiss>();
  private deferredQueries = 0;
  private drainScheduled = false;
  /** Milliseconds of cache-miss work done in this event-loop turn (reset by resetTurn). */
  private turnMissMs = 0;
  private turnResetScheduled = false;
  /** Cached large answers by service, kept across snapshots when their service is unchanged. */
  private readonly largeAnswers = new LargeAnswerIndex();
  /** Large services whose common questions are still to be computed ahead (see large-answers.ts). */
  private readonly warmQueue: string[] = [];
  private readonly warmQueued = new Set<string>();
  private warmCurrent: { questions: WarmQuestion[]; index: number } | null = null;
  private warmScheduled = false;
  private warmDone: (() => void) | null = null;
  /** Bytes computed ahead since the warm-up queue was last empty, at most half the cache budget. */
  private warmBytes = 0;
  private readonly warmBudgetBytes: number;

  constructor(options: ResponderOptions) {
    this.dns = options.dns;
    this.stats = options.stats;
    this.logger = options.logger;
    this.answerFn = options.answerFn ?? realAnswer;
    this.queryLog = options.queryLog;
    this.stats.setZones(this.dns.zones);
    // Computing ahead never pushes out more than half of what queries put in the cache.
    this.warmBudgetBytes = (options.cacheMaxBytes ?? DEFAULT_CACHE_BYTES) / 2;
    this.cache = createAnswerCache({
      maxBytes: options.cacheMaxBytes ?? DEFAULT_CACHE_BYTES,
      negativeEntries: options.negativeCacheEntries ?? DEFAULT_NEGATIVE_ENTRIES,
    });
  }

  /**
   * Installs a snapshot. A service whose entry is the current snapshot's own object is unchanged
   * (buildSnapshot and snapshot deltas keep them; a snapshot received whole shares none): its large
   * answers stay cached, and the large services that changed are computed ahead in slices between
   * queries; `whenWarm` says when that is done.
   */
  setSnapshot(snapshot: Snapshot): void {
    const previous = this.snapshot;
    /** The services whose large answers are to be computed; undefined: every service. */
    let recompute: readonly string[] | undefined;
    if (previous && snapshot.version <= previous.version) {
      // Versions only grow; if one ever repeats (a restarted source), cached bytes could be stale.
      this.cache.clear();
      this.largeAnswers.clear();
    } else if (previous) {
      const changed = changedServiceKeys(previous, snapshot);
      if (this.largeAnswers.carryOver(this.cache, previous, snapshot, changed)) recompute = changed;
    }
    this.snapshot = snapshot;
    this.parser.setKeyVersion(snapshot.version);
    this.queueWarm(largeServiceKeys(snapshot, recompute));
  }

  /** Calls `done` once every queued large service has been computed ahead (at once if none is). */
  whenWarm(done: () => void): void {
    if (this.warmCurrent === null && this.warmQueue.length === 0) {
      this.warmDone = null;
      done();
      return;
    }
    this.warmDone = done; // a newer snapshot's report supersedes an older one's
  }

  private queueWarm(keys: readonly string[]): void {
    for (const key of keys) {
      if (this.warmQueued.has(key)) continue;
      this.warmQueued.add(key);
      this.warmQueue.push(key);
    }
    if (this.warmQueue.length > 0 && !this.warmScheduled) {
      this.warmScheduled = true;
      setImmediate(this.warmTurn);
    }
  }

  /** Computes queued warm-up questions for about MISS_TURN_BUDGET_MS, then yields to queries. */
  private readonly warmTurn = (): void => {
    this.warmScheduled = false;
    const snapshot = this.snapshot;
    if (snapshot === null) return;
    const started = performance.now();
    while (performance.now() - started < MISS_TURN_BUDGET_MS) {
      if (this.warmBytes >= this.warmBudgetBytes) {
        // The rest is computed on first query, as any other answer.
        this.logger.debug({ skipped: this.warmQueue.length, budgetBytes: this.warmBudgetBytes }, 'large answers: warm-up budget spent');
        this.warmQueue.length = 0;
        this.warmQueued.clear();
        this.warmCurrent = null;
        break;
      }
      if (this.warmCurrent === null) {
        const key = this.warmQueue.shift();
        if (key === undefined) break;
        this.warmQueued.delete(key);
        const entry = snapshot.services.get(key);
        if (entry === undefined || !isLargeService(entry)) continue;
        this.warmCurrent = { questions: warmQuestions(entry, this.dns.zones, this.dns.clusterNames), index: 0 };
      }
      const current = this.warmCurrent;
      const question = current.questions[current.index++];
      if (current.index >= current.questions.length) this.warmCurrent = null;
      if (question !== undefined) this.warmOne(snapshot, question);
    }
    this.chargeTurn(performance.now() - started);
    if (this.warmCurrent !== null || this.warmQueue.length > 0) {
      this.warmScheduled = true;
      setImmediate(this.warmTurn);
      return;
    }
    this.warmBytes = 0;
    const done = this.warmDone;
    this.warmDone = null;
    done?.();
  };

  /** Computes, encodes for the usual UDP sizes and caches one question's answer unless cached. */
  private warmOne(snapshot: Snapshot, question: WarmQuestion): void {
    const key = cacheKey({ version: snapshot.version, edns: question.edns, qtype: question.qtype, qclass: QCLASS_IN, nameKey: question.nameKey });
    if (this.cache.get(key) !== undefined) return;
    try {
      const entry = this.buildEntry(snapshot, { nameKey: question.nameKey, qtype: question.qtype, qclass: QCLASS_IN, edns: question.edns });
      // Every rotation variant, so the first queries do not each encode one.
      const limit = udpLimit(question.edns ? WARM_EDNS_PAYLOAD_SIZE : null, OUR_UDP_PAYLOAD_SIZE);
      for (let i = 0; i < entry.variantCount; i++) entry.fitted(i, limit);
      this.store(key, entry);
      this.warmBytes += entry.chargedBytes(key);
    } catch (error) {
      // A query for it would get SERVFAIL and log it; computing ahead is only an optimisation.
      this.logger.debug({ err: error }, 'computing a large answer ahead failed');
    }
  }

  /** What the answer cache holds (for metrics and the abuse benchmark). */
  cacheUsage(): { entries: number; negativeEntries: number; bytes: number; refused: number } {
    return { entries: this.cache.size, negativeEntries: this.cache.negativeSize, bytes: this.cache.bytes, refused: this.cache.refused };
  }

  currentSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  /**
   * The reply to `msg` (null: send nothing). With `deliverLater`, a query whose answer is not
   * cached yet may return undefined once this turn has spent its budget for misses (or when the
   * same question already waits): its reply then goes to `deliverLater` in a later event-loop turn
   * (see MISS_TURN_BUDGET_MS). Cached answers are always returned at once.
   */
  respond(msg: Buffer, transport: TransportIndex, clientAddress?: string, clientPort?: number): Buffer | null;
  respond(msg: Buffer, transport: TransportIndex, clientAddress: string, clientPort: number, deliverLater: DeliverLater): Buffer | null | undefined;
  respond(msg: Buffer, transport: TransportIndex, clientAddress?: string, clientPort?: number, deliverLater?: DeliverLater): Buffer | null | undefined {
    const started = performance.now();
    let qtype = -1;
    let nameEnd = 0;
    let rcode: number = Rcode.SERVFAIL;
    let zone = -1;
    let replied = true;
    try {
      const parsed = this.parser.parse(msg);
      if (parsed.kind === 'drop') {
        this.stats.recordMalformed(parsed.reason);
        replied = false;
        return null;
      }
      if (parsed.kind === 'error') {
        if (parsed.reason) this.stats.recordMalformed(parsed.reason);
        if (parsed.questionEnd > 0) {
          qtype = msg.readUInt16BE(parsed.questionEnd - 4);
          nameEnd = parsed.questionEnd - 4;
        }
        rcode = parsed.rcode;
        return buildErrorReply(msg, { rcode, questionEnd: parsed.questionEnd, edns: parsed.edns });
      }
      const query = parsed.query;
      qtype = query.qtype;
      nameEnd = query.qnameEnd;
      const reply = this.answerQuery(msg, query, transport, deliverLater, started, clientAddress, clientPort);
      if (reply === undefined) {
        replied = false; // counted when it is answered
        return undefined;
      }
      rcode = reply.rcode;
      zone = reply.zone;
      return reply.bytes;
    } catch (error) {
      // Only a bug gets here (parse and error replies do not throw on any input).
      this.noteAnswerError(error, msg);
      if (msg.length < 12) {
        replied = false;
        return null;
      }
      return buildErrorReply(msg, { rcode: Rcode.SERVFAIL, questionEnd: 0, edns: null });
    } finally {
      // Dropped messages are counted as malformed only: no reply, no query.
      if (replied) this.recordAnswered(msg, transport, started, qtype, nameEnd, rcode, zone, clientAddress, clientPort);
    }
  }

  private recordAnswered(
    msg: Buffer,
    transport: TransportIndex,
    started: number,
    qtype: number,
    nameEnd: number,
    rcode: number,
    zone: number,
    clientAddress: string | undefined,
    clientPort: number | undefined,
  ): void {
    const seconds = (performance.now() - started) / 1000;
    this.stats.recordQuery(transport, qtype, rcode, seconds, zone);
    if (this.queryLog !== undefined) {
      const entry: QueryLogEntry = { message: msg, nameEnd, qtype, rcode, seconds, transport };
      if (clientAddress !== undefined) entry.clientAddress = clientAddress;
      if (clientPort !== undefined) entry.clientPort = clientPort;
      this.queryLog(entry);
    }
  }

  /** Queues a cache miss for a later turn (true), or false when the queue is full. */
  private deferMiss(snapshot: Snapshot, deferred: DeferredQuery): boolean {
    if (this.deferredQueries >= MAX_DEFERRED_QUERIES) return false;
    const key = deferred.query.cacheKey;
    let pending = this.pendingMisses.get(key);
    if (pending === undefined) {
      pending = { snapshot, queries: [] };
      this.pendingMisses.set(key, pending);
    }
    pending.queries.push(deferred);
    this.deferredQueries++;
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drainMisses);
    }
    return true;
  }

  /** Adds miss work to this turn's budget; the budget starts over in the next turn. */
  private chargeTurn(ms: number): void {
    this.turnMissMs += ms;
    if (!this.turnResetScheduled) {
      this.turnResetScheduled = true;
      setImmediate(this.resetTurn);
    }
  }

  private readonly resetTurn = (): void => {
    this.turnResetScheduled = false;
    this.turnMissMs = 0;
  };

  /** Computes deferred misses for about MISS_TURN_BUDGET_MS (at least one), answers their queries, yields. */
  private readonly drainMisses = (): void => {
    this.drainScheduled = false;
    const turnStarted = performance.now();
    for (const [key, pending] of this.pendingMisses) {
      this.pendingMisses.delete(key);
      this.deferredQueries -= pending.queries.length;
      this.answerPending(key, pending);
      if (performance.now() - turnStarted >= MISS_TURN_BUDGET_MS) break;
    }
    this.chargeTurn(performance.now() - turnStarted);
    if (this.pendingMisses.size > 0 && !this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(this.drainMisses);
    }
  };

  private answerPending(key: string, pending: PendingMiss): void {
    let entry: CachedAnswer | undefined = this.cache.get(key);
    let failure: unknown;
    // The first query of a key is its miss; the ones that joined it while it waited are hits.
    this.stats.cacheHits += entry === undefined ? pending.queries.length - 1 : pending.queries.length;
    if (entry === undefined) {
      this.stats.cacheMisses++;
      try {
        entry = this.buildEntry(pending.snapshot, pending.queries[0]!.query);
        this.store(key, entry);
      } catch (error) {
        failure = error;
      }
    }
    for (const q of pending.queries) {
      let reply: { bytes: Buffer; rcode: number; zone: number };
      if (entry === undefined) {
        this.noteAnswerError(failure, q.msg);
        reply = servfail(q.msg, q.query, -1);
      } else {
        reply = this.replyFromEntry(q.msg, q.query, q.transport, entry);
      }
      this.recordAnswered(q.msg, q.transport, q.started, q.query.qtype, q.query.qnameEnd, reply.rcode, reply.zone, q.clientAddress, q.clientPort);
      try {
        q.deliver(reply.bytes, q.clientAddress, q.clientPort);
      } catch (error) {
        this.logger.debug({ err: error }, 'delivering a deferred reply failed');
      }
    }
  }

  /** The reply, or undefined when the miss was deferred (only with `deliverLater`). */
  private answerQuery(
    msg: Buffer,
    query: ParsedQuery,
    transport: TransportIndex,
    deliverLater?: DeliverLater,
    started = 0,
    clientAddress?: string,
    clientPort?: number,
  ): { bytes: Buffer; rcode: number; zone: number } | undefined {
    const snapshot = this.snapshot;
    const edns = query.edns;
    if (!snapshot) {
      const ede = this.dns.ede ? { code: EdeCode.NOT_READY, text: 'no state loaded yet' } : null;
      return { bytes: buildErrorReply(msg, { rcode: Rcode.SERVFAIL, questionEnd: query.questionEnd, edns, ede }), rcode: Rcode.SERVFAIL, zone: -1 };
    }
    // The parser built the key under this snapshot's version (setSnapshot sets it).
    const key = query.cacheKey;
    let entry = this.cache.get(key);
    if (entry) {
      this.stats.cacheHits++;
    } else {
      // Over UDP a miss is computed at once while this turn's budget for misses lasts (the common,
      // cheap case costs nothing extra); past it, or when the same question already waits, it is
      // deferred to a later turn, so the cached answers behind it in the socket go out first.
      if (deliverLater !== undefined && (this.turnMissMs >= MISS_TURN_BUDGET_MS || (this.pendingMisses.size > 0 && this.pendingMisses.has(key)))) {
        if (this.deferMiss(snapshot, { msg, query, transport, started, clientAddress, clientPort, deliver: deliverLater })) return undefined;
      }
      this.stats.cacheMisses++;
      const missStarted = deliverLater === undefined ? 0 : performance.now();
      try {
        const answer = this.computeAnswer(snapshot, query);
        if (isNegativeRcode(answer.rcode) && !this.cache.admitsNegative(key)) {
          // A name that does not exist, asked for the first time while the negative cache is full
          // (a junk-name flood): encoded for this query alone, with no cache entry to build.
          const reply = this.oneOffReply(msg, query, transport, answer);
          if (deliverLater !== undefined) this.chargeTurn(performance.now() - missStarted);
          if (reply !== undefined) return reply;
          entry = this.entryOf(query, answer); // too large for this transport as it is: fit it as any entry
        } else {
          entry = this.entryOf(query, answer);
          if (deliverLater !== undefined) this.chargeTurn(performance.now() - missStarted);
          this.store(key, entry);
        }
      } catch (error) {
        this.noteAnswerError(error, msg);
        return servfail(msg, query, -1);
      }
    }
    return this.replyFromEntry(msg, query, transport, entry);
  }

  /**
   * The reply to one query from an answer that is not cached, encoded once straight into a
   * short-lived buffer; undefined when it does not fit the transport whole (the fitting rules of
   * a cache entry then apply). The same bytes a cache entry would give.
   */
  private oneOffReply(msg: Buffer, query: ParsedQuery, transport: TransportIndex, answer: Answer): { bytes: Buffer; rcode: number; zone: number } | undefined {
    const edns = query.edns;
    const opt = edns ? { ede: this.dns.ede ? answer.ede : [] } : null;
    const message = encodeResponse({ nameKey: query.nameKey, qtype: query.qtype, qclass: query.qclass }, answer, answer.answer, opt, undefined, Infinity, true);
    const limit = transport === TRANSPORT_TCP ? MAX_TCP_SIZE : udpLimit(edns ? edns.payloadSize : null, OUR_UDP_PAYLOAD_SIZE);
    if (message.bytes.length > limit) return undefined;
    const bytes = patchResponse(fitResponse(message, limit), msg, query.id, query.flagsHi, query.flagsLo, query.qnameEnd, edns?.dnssecOk ?? false, true);
    return { bytes, rcode: answer.rcode, zone: this.zoneIndexOf(query.nameKey) };
  }

  /** Caches a newly built entry (a negative one only when the cache admits it) and updates the cache gauges. */
  private store(key: string, entry: CachedAnswer): void {
    if (entry.negative && !this.cache.admitsNegative(key)) return;
    this.cache.set(key, entry);
    this.largeAnswers.note(key, entry);
    this.stats.cacheBytes = this.cache.bytes;
    this.stats.cacheEntries = this.cache.size + this.cache.negativeSize;
  }

  /** Fits a cached answer to the transport's limit and patches it for this query. */
  private replyFromEntry(msg: Buffer, query: ParsedQuery, transport: TransportIndex, entry: CachedAnswer): { bytes: Buffer; rcode: number; zone: number } {
    const edns = query.edns;
    const limit = transport === TRANSPORT_TCP ? MAX_TCP_SIZE : udpLimit(edns ? edns.payloadSize : null, OUR_UDP_PAYLOAD_SIZE);
    let fitted;
    try {
      fitted = entry.next(limit);
    } catch (error) {
      // A rotation variant failed to encode (e.g. an invalid address in the state).
      this.noteAnswerError(error, msg);
      return servfail(msg, query, entry.zoneIndex);
    }
    const bytes = patchResponse(fitted, msg, query.id, query.flagsHi, query.flagsLo, query.qnameEnd, edns?.dnssecOk ?? false);
    return { bytes, rcode: entry.rcode, zone: entry.zoneIndex };
  }

  private buildEntry(snapshot: Snapshot, query: QuestionOfKey): CachedAnswer {
    return this.entryOf(query, this.computeAnswer(snapshot, query));
  }

  private computeAnswer(snapshot: Snapshot, query: QuestionOfKey): Answer {
    return this.answerFn(snapshot, { labels: labelsOfNameKey(query.nameKey), qtype: query.qtype, qclass: query.qclass }, this.dns);
  }

  private entryOf(query: QuestionOfKey, answer: Answer): CachedAnswer {
    const opt = query.edns ? { ede: this.dns.ede ? answer.ede : [] } : null;
    const entry = new CachedAnswer({ nameKey: query.nameKey, qtype: query.qtype, qclass: query.qclass }, answer, opt);
    entry.zoneIndex = this.zoneIndexOf(query.nameKey);
    entry.prepare(); // encode now so a failure is a SERVFAIL for this query, not a cached time bomb
    return entry;
  }

  /** Index of the served zone the name falls in, -1 for none (the metrics' `zone` label). */
  private zoneIndexOf(nameKey: string): number {
    const zone = matchZone(labelsOfNameKey(nameKey), this.dns.zones);
    return zone === null ? -1 : this.dns.zones.indexOf(zone.zone);
  }

  private noteAnswerError(error: unknown, msg: Buffer): void {
    this.stats.answerErrors++;
    const now = performance.now();
    if (now - this.lastErrorLogAt < ERROR_LOG_INTERVAL_MS) {
      this.suppressedErrors++;
      return;
    }
    this.logger.error(
      { err: error, queryHex: msg.subarray(0, 300).toString('hex'), suppressedSinceLast: this.suppressedErrors },
      'failed to answer a query; replied SERVFAIL',
    );
    this.lastErrorLogAt = now;
    this.suppressedErrors = 0;
  }
}

/** SERVFAIL for a parsed query (its question and EDNS echoed), counted under `zone`. */
function servfail(msg: Buffer, query: ParsedQuery, zone: number): { bytes: Buffer; rcode: number; zone: number } {
  return { bytes: buildErrorReply(msg, { rcode: Rcode.SERVFAIL, questionEnd: query.questionEnd, edns: query.edns }), rcode: Rcode.SERVFAIL, zone };
}
