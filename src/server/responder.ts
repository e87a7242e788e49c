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
import type { QueryStats } from '../observability/query-stats.ts';
import type { QueryLog, QueryLogEntry } from '../observability/query-log.ts';
import { CachedAnswer, createAnswerCache, DEFAULT_CACHE_BYTES, DEFAULT_NEGATIVE_ENTRIES, type AnswerCache } from './answer-cache.ts';
import { buildErrorReply } from './error-response.ts';
import { labelsOfNameKey, QueryParser, type ParsedQuery } from './query-parser.ts';
import { OUR_UDP_PAYLOAD_SIZE } from './response-encoder.ts';
import { MAX_TCP_SIZE, patchResponse, udpLimit } from './response-fit.ts';

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

  constructor(options: ResponderOptions) {
    this.dns = options.dns;
    this.stats = options.stats;
    this.logger = options.logger;
    this.answerFn = options.answerFn ?? realAnswer;
    this.queryLog = options.queryLog;
    this.stats.setZones(this.dns.zones);
    this.cache = createAnswerCache({
      maxBytes: options.cacheMaxBytes ?? DEFAULT_CACHE_BYTES,
      negativeEntries: options.negativeCacheEntries ?? DEFAULT_NEGATIVE_ENTRIES,
    });
  }

  setSnapshot(snapshot: Snapshot): void {
    // Versions only grow; if one ever repeats (a restarted source), cached bytes could be stale.
    if (this.snapshot && snapshot.version <= this.snapshot.version) this.cache.clear();
    this.snapshot = snapshot;
    this.parser.setKeyVersion(snapshot.version);
  }

  /** What the answer cache holds (for metrics and the abuse benchmark). */
  cacheUsage(): { entries: number; negativeEntries: number; bytes: number; refused: number } {
    return { entries: this.cache.size, negativeEntries: this.cache.negativeSize, bytes: this.cache.bytes, refused: this.cache.refused };
  }

  currentSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  respond(msg: Buffer, transport: TransportIndex, clientAddress?: string, clientPort?: number): Buffer | null {
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
      const reply = this.answerQuery(msg, query, transport);
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
      if (replied) {
        const seconds = (performance.now() - started) / 1000;
        this.stats.recordQuery(transport, qtype, rcode, seconds, zone);
        if (this.queryLog !== undefined) {
          const entry: QueryLogEntry = { message: msg, nameEnd, qtype, rcode, seconds, transport };
          if (clientAddress !== undefined) entry.clientAddress = clientAddress;
          if (clientPort !== undefined) entry.clientPort = clientPort;
          this.queryLog(entry);
        }
      }
    }
  }

  private answerQuery(msg: Buffer, query: ParsedQuery, transport: TransportIndex): { bytes: Buffer; rcode: number; zone: number } {
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
      this.stats.cacheMisses++;
      try {
        entry = this.buildEntry(snapshot, query);
      } catch (error) {
        this.noteAnswerError(error, msg);
        return { bytes: buildErrorReply(msg, { rcode: Rcode.SERVFAIL, questionEnd: query.questionEnd, edns }), rcode: Rcode.SERVFAIL, zone: -1 };
      }
      this.cache.set(key, entry);
      this.stats.cacheBytes = this.cache.bytes;
      this.stats.cacheEntries = this.cache.size + this.cache.negativeSize;
    }
    const limit = transport === TRANSPORT_TCP ? MAX_TCP_SIZE : udpLimit(edns ? edns.payloadSize : null, OUR_UDP_PAYLOAD_SIZE);
    let fitted;
    try {
      fitted = entry.next(limit);
    } catch (error) {
      // A rotation variant failed to encode (e.g. an invalid address in the state).
      this.noteAnswerError(error, msg);
      return { bytes: buildErrorReply(msg, { rcode: Rcode.SERVFAIL, questionEnd: query.questionEnd, edns }), rcode: Rcode.SERVFAIL, zone: entry.zoneIndex };
    }
    const bytes = patchResponse(fitted, msg, query.id, query.flagsHi, query.flagsLo, query.qnameEnd, edns?.dnssecOk ?? false);
    return { bytes, rcode: entry.rcode, zone: entry.zoneIndex };
  }

  private buildEntry(snapshot: Snapshot, query: ParsedQuery): CachedAnswer {
    const question: Question = { labels: labelsOfNameKey(query.nameKey), qtype: query.qtype, qclass: query.qclass };
    const answer = this.answerFn(snapshot, question, this.dns);
    const opt = query.edns ? { ede: this.dns.ede ? answer.ede : [] } : null;
    const entry = new CachedAnswer({ nameKey: query.nameKey, qtype: query.qtype, qclass: query.qclass }, answer, opt);
    const zone = matchZone(question.labels, this.dns.zones);
    if (zone !== null) entry.zoneIndex = this.dns.zones.indexOf(zone.zone);
    entry.encoded(0); // encode now so a failure is a SERVFAIL for this query, not a cached time bomb
    return entry;
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
