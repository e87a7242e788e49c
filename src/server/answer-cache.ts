/**
 * The encoded-answer cache. One entry per (snapshot version, EDNS presence, qtype, qclass,
 * lowercased name) — see cache-key.ts: the Answer plus its encodings, one per rotation variant,
 * made lazily and kept with their size-fitted copies. Keying by snapshot version means a new
 * snapshot never serves old bytes; old entries simply age out of the LRU.
 *
 * Memory is bounded by construction (issue 9):
 * - each entry is charged an upper bound of what it will ever hold (every variant encoded, each
 *   capped at one 65,535-byte TCP message, plus its fits), with per-entry and per-record overheads
 *   measured on Node 24 (heap per entry: ~2.1 KB for a one-record answer, charged ~3.0 KB;
 *   ~32 KB for 20 records in 20 variants, charged ~45 KB); bench/abuse.ts prints the RSS it gives;
 * - the records cap (DnsOptions.maxRecords) bounds the largest entry far below the smallest
 *   budget allowed (MIN_CACHE_BYTES), so no answer is ever silently uncacheable;
 * - negative answers (NXDOMAIN, REFUSED: names that do not exist, outside every zone) live in a
 *   small separate LRU bounded by entry count, so a flood of junk names cannot evict real answers
 *   or grow the main cache.
 */
import { LRUCache } from 'lru-cache';
import type { Answer, ResourceRecord } from '../dns/types.ts';
import { Rcode } from '../dns/types.ts';
import { encodeResponse, type EncodedMessage, type QuestionToEncode } from './response-encoder.ts';
import { capMessage, fitResponse, MAX_TCP_SIZE, type FittedResponse } from './response-fit.ts';

export { cacheKey, type CacheKeyParts } from './cache-key.ts';

/** Rotation variants per entry are capped; with more records the start positions are spread evenly. */
export const MAX_ROTATION_VARIANTS = 32;
/** Distinct size limits kept per variant (clients use a handful of EDNS sizes). */
const MAX_FITS_PER_VARIANT = 4;
/**
 * Heap cost of one entry beyond its bytes (the CachedAnswer, its arrays and Map, the Answer
 * object and the LRU's bookkeeping), from a measured ~2.1 KB for a one-record answer, rounded up.
 */
export const ENTRY_OVERHEAD_BYTES = 1536;
/** Measured heap cost of one ResourceRecord object with its strings, rounded up. */
export const RECORD_OVERHEAD_BYTES = 200;
/** Per encoded variant: the EncodedMessage and fit objects, their buffers' headers (measured). */
const VARIANT_OVERHEAD_BYTES = 1024;
/** Per record per variant: its entry in the offset arrays. */
const VARIANT_BYTES_PER_RECORD = 8;
/** The smallest budget allowed: several times the largest entry the records cap permits. */
export const MIN_CACHE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_NEGATIVE_ENTRIES = 4096;

export class CachedAnswer {
  readonly variantCount: number;
  private readonly variants: (EncodedMessage | undefined)[];
  private readonly fits: Map<number, FittedResponse>[];
  /** Per variant, the last limit asked for and its fit: nearly every query repeats it, skipping the map. */
  private readonly lastLimit: Int32Array;
  private readonly lastFit: (FittedResponse | undefined)[];
  private cursor = 0;
  readonly question: QuestionToEncode;
  readonly answer: Answer;
  /** EDE to attach in OPT, or null when the reply carries no OPT. */
  private readonly opt: { ede: Answer['ede'] } | null;

  constructor(question: QuestionToEncode, answer: Answer, opt: { ede: Answer['ede'] } | null) {
    this.question = question;
    this.answer = answer;
    this.opt = opt;
    const n = answer.answer.length;
    this.variantCount = answer.rotation === 'none' || n <= 1 ? 1 : Math.min(n, MAX_ROTATION_VARIANTS);
    this.variants = new Array<EncodedMessage | undefined>(this.variantCount);
    this.fits = Array.from({ length: this.variantCount }, () => new Map<number, FittedResponse>());
    this.lastLimit = new Int32Array(this.variantCount).fill(-1);
    this.lastFit = new Array<FittedResponse | undefined>(this.variantCount);
  }

  /** Picks the next rotation variant (a per-entry cursor) and returns it fitted to `limit` bytes. */
  next(limit: number): FittedResponse {
    const index = this.cursor;
    this.cursor = index + 1 === this.variantCount ? 0 : index + 1;
    return this.fitted(index, limit);
  }

  fitted(index: number, limit: number): FittedResponse {
    if (this.lastLimit[index] === limit) return this.lastFit[index]!;
    // Every variant is capped at one TCP message, so larger limits are that limit.
    if (limit > MAX_TCP_SIZE) limit = MAX_TCP_SIZE;
    const fits = this.fits[index]!;
    let fitted = fits.get(limit);
    if (!fitted) {
      fitted = fitResponse(this.encoded(index), limit);
      if (fits.size >= MAX_FITS_PER_VARIANT) fits.clear();
      fits.set(limit, fitted);
    }
    this.lastLimit[index] = limit;
    this.lastFit[index] = fitted;
    return fitted;
  }

  encoded(index: number): EncodedMessage {
    let message = this.variants[index];
    if (!message) {
      message = capMessage(encodeResponse(this.question, this.answer, this.recordsFor(index), this.opt), MAX_TCP_SIZE);
      this.variants[index] = message;
    }
    return message;
  }

  /** Negative answers go to the small separate cache. */
  get negative(): boolean {
    return this.answer.rcode === Rcode.NXDOMAIN || this.answer.rcode === Rcode.REFUSED;
  }

  /**
   * An upper bound of the bytes this entry holds once every variant and fit exists, known from
   * the first variant (every variant has the same records, rotated, so about the same size).
   */
  chargedBytes(key: string): number {
    const first = this.encoded(0).bytes.length;
    const records = this.answer.answer.length + this.answer.authority.length + this.answer.additional.length;
    const perVariant = first + Math.min(first, MAX_FITS_PER_VARIANT * 1232) + VARIANT_OVERHEAD_BYTES + records * VARIANT_BYTES_PER_RECORD;
    return ENTRY_OVERHEAD_BYTES + 2 * key.length + records * RECORD_OVERHEAD_BYTES + this.variantCount * perVariant;
  }

  private recordsFor(index: number): ResourceRecord[] {
    const records = this.answer.answer;
    if (this.variantCount === 1) return this.answer.rotation === 'pick-one' ? records.slice(0, 1) : records;
    const start = Math.floor((index * records.length) / this.variantCount);
    if (this.answer.rotation === 'pick-one') return [records[start]!];
    return [...records.slice(start), ...records.slice(0, start)];
  }
}

export interface AnswerCacheOptions {
  /** Budget of the main cache in bytes (charged per entry, see chargedBytes). */
  maxBytes: number;
  /** Negative answers kept at most (their own LRU). */
  negativeEntries: number;
}

export interface AnswerCache {
  get(key: string): CachedAnswer | undefined;
  set(key: string, entry: CachedAnswer): void;
  clear(): void;
  /** Entries in the main cache. */
  readonly size: number;
  readonly negativeSize: number;
  /** Bytes charged in the main cache (at most maxBytes). */
  readonly bytes: number;
  /** Entries refused because one alone exceeded the budget (0 by construction with the records cap). */
  readonly refused: number;
}

export function createAnswerCache(options: AnswerCacheOptions): AnswerCache {
  const main = new LRUCache<string, CachedAnswer>({ maxSize: options.maxBytes, maxEntrySize: options.maxBytes });
  const negative = new LRUCache<string, CachedAnswer>({ max: Math.max(1, options.negativeEntries) });
  let refused = 0;
  return {
    get: (key) => main.get(key) ?? negative.get(key),
    set: (key, entry) => {
      if (entry.negative) {
        negative.set(key, entry);
        return;
      }
      const size = Math.max(1, entry.chargedBytes(key));
      // lru-cache drops an entry above maxEntrySize without a word; count it instead.
      if (size > options.maxBytes) {
        refused++;
        return;
      }
      main.set(key, entry, { size });
    },
    clear: () => {
      main.clear();
      negative.clear();
    },
    get size() {
      return main.size;
    },
    get negativeSize() {
      return negative.size;
    },
    get bytes() {
      return main.calculatedSize;
    },
    get refused() {
      return refused;
    },
  };
}
