/**
 * The encoded-answer cache. One entry per (snapshot version, EDNS presence, qtype, qclass,
 * lowercased name) — see cache-key.ts: the Answer plus its encodings, one per rotation variant,
 * made lazily and kept with their size-fitted copies. Keying by snapshot version means a new
 * snapshot never serves old bytes; old entries simply age out of the LRU.
 *
 * Memory is bounded by construction (issue 9):
 * - each entry is charged an upper bound of what it will ever hold (every variant encoded, each
 *   capped at one 65,535-byte TCP message, plus its fits), with per-entry and per-record overheads
 *   measured on Node 24 (heap per entry: ~1.0 KB for a one-record answer, charged ~1.2 KB;
 *   ~24 KB for 20 A records in 20 variants, charged ~33 KB; ~333 KB for 300 records in 32
 *   variants, charged ~464 KB); bench/abuse.ts prints the RSS it gives;
 * - an entry keeps its Answer only until every variant is encoded (at once for one variant); an
 *   answer larger than a UDP message is encoded UDP-sized (~1 KB) for UDP and whole (up to one
 *   TCP message) only when asked over TCP;
 * - the records cap (DnsOptions.maxRecords) bounds the largest entry far below the smallest
 *   budget allowed (MIN_CACHE_BYTES), so no answer is ever silently uncacheable;
 * - negative answers (NXDOMAIN, REFUSED: names that do not exist, outside every zone) live in a
 *   small separate LRU bounded by entry count, so a flood of junk names cannot evict real answers
 *   or grow the main cache; and one enters it only when its question was asked before (see
 *   NegativeDoorkeeper), so a flood of unique junk names does not churn it at all.
 */
import { LRUCache } from 'lru-cache';
import type { Answer, ResourceRecord } from '../dns/types.ts';
import { Rcode } from '../dns/types.ts';
import { encodeResponse, OUR_UDP_PAYLOAD_SIZE, type AddressBytes, type EncodedMessage, type QuestionToEncode } from './response-encoder.ts';
import { capMessage, fitResponse, MAX_TCP_SIZE, type FittedResponse } from './response-fit.ts';
import { WeightedCursor, variantWeights } from './weighted-cursor.ts';

export { cacheKey, type CacheKeyParts } from './cache-key.ts';

/** Answers for names that do not exist (NXDOMAIN) or are not ours (REFUSED): the small negative cache's. */
export function isNegativeRcode(rcode: number): boolean {
  return rcode === Rcode.NXDOMAIN || rcode === Rcode.REFUSED;
}

/** Rotation variants per entry are capped; with more records the start positions are spread evenly. */
export const MAX_ROTATION_VARIANTS = 32;
/**
 * Answers this large get fewer variants: each costs a full encoding of thousands of records on
 * first use, and 8 evenly spread start positions already hand clients different subsets.
 */
export const LARGE_ANSWER_RECORDS = 512;
// (512 records never fit one UDP message either: the smallest record takes 11 bytes.)
const LARGE_ANSWER_VARIANTS = 8;
/** Distinct size limits kept per variant (clients use a handful of EDNS sizes). */
const MAX_FITS_PER_VARIANT = 4;
/**
 * Heap cost of one entry beyond its bytes and variants (the CachedAnswer and the LRU's
 * bookkeeping); with VARIANT_OVERHEAD_BYTES it covers the measured ~1.0 KB of a one-record answer.
 */
export const ENTRY_OVERHEAD_BYTES = 512;
/** Measured heap cost of one ResourceRecord object with its strings, rounded up. */
export const RECORD_OVERHEAD_BYTES = 200;
/** Per encoded variant: the EncodedMessage and fit objects and their buffers' headers. */
const VARIANT_OVERHEAD_BYTES = 512;
/** Per record per variant: its entry in the offset arrays. */
const VARIANT_BYTES_PER_RECORD = 8;
/** A weighted entry's cursor: the object and its bounds (at most MAX_ROTATION_VARIANTS of 4 bytes). */
const WEIGHTED_CURSOR_BYTES = 256;
/** The smallest budget allowed: several times the largest entry the records cap permits. */
export const MIN_CACHE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_NEGATIVE_ENTRIES = 16_384;

/** One rotation variant: its message (at most one TCP message) and the fits made from it. */
interface Variant {
  message: EncodedMessage;
  /** The fit for every limit the message already fits in (the common case: one shared object). */
  whole: FittedResponse | undefined;
  /** Cut fits for smaller limits, as parallel arrays (at most MAX_FITS_PER_VARIANT). */
  limits: number[];
  cuts: FittedResponse[];
}

/**
 * UDP replies are never larger than this (udpLimit caps every EDNS size at our advertised one), so
 * a UDP-sized encoding — stopped just past this many bytes — fits every UDP limit exactly as the
 * whole message would. A huge answer asked over UDP thus encodes ~1 KB per rotation variant
 * instead of a 64 KB message of thousands of records it would cut away (issue 9).
 */
export const UDP_ENCODING_BUDGET = OUR_UDP_PAYLOAD_SIZE;
/** Upper bound of a UDP-sized encoding: the budget plus the one record that crossed it. */
const UDP_ENCODING_MAX_BYTES = UDP_ENCODING_BUDGET + 512;

export class CachedAnswer {
  readonly variantCount: number;
  readonly rcode: number;
  /** Index of the served zone the question fell in, -1 for none (the metrics' `zone` label). */
  zoneIndex = -1;
  private readonly recordCount: number;
  /** What the variants are encoded from; dropped once every whole variant exists (a lean entry). */
  private source: { question: QuestionToEncode; answer: Answer; opt: { ede: Answer['ede'] } | null; addressBytes: AddressBytes } | null;
  /** Whole variants (at most one TCP message each), made on first use over TCP or when small enough. */
  private readonly variants: (Variant | undefined)[];
  /** UDP-sized variants of an answer too large for one UDP message (undefined while not needed). */
  private readonly udpVariants: (Variant | undefined)[];
  private encodedVariants = 0;
  private cursor = 0;
  /** Set when the answer's records weigh differently (Answer.weights): picks variants by weight. */
  private readonly weighted: WeightedCursor | undefined;
  /** More records than one UDP message can hold: encoded UDP-sized for UDP, whole only for TCP. */
  private readonly large: boolean;
  /** The service the question named (Answer.serviceKey), if any. */
  readonly serviceKey: string | undefined;

  constructor(question: QuestionToEncode, answer: Answer, opt: { ede: Answer['ede'] } | null) {
    this.source = { question, answer, opt, addressBytes: new Map() };
    this.rcode = answer.rcode;
    this.recordCount = answer.answer.length + answer.authority.length + answer.additional.length;
    const n = answer.answer.length;
    this.variantCount = answer.rotation === 'none' || n <= 1 ? 1 : Math.min(n, n > LARGE_ANSWER_RECORDS ? LARGE_ANSWER_VARIANTS : MAX_ROTATION_VARIANTS);
    this.variants = new Array<Variant | undefined>(this.variantCount);
    this.udpVariants = new Array<Variant | undefined>(this.variantCount);
    this.large = this.recordCount > LARGE_ANSWER_RECORDS;
    const weights = answer.weights;
    this.weighted = weights !== undefined && this.variantCount > 1 && weights.length === n ? new WeightedCursor(variantWeights(weights, this.variantCount)) : undefined;
    this.serviceKey = answer.serviceKey;
  }

  /** More records than one UDP message holds: costly to compute, so worth keeping across snapshots. */
  get isLarge(): boolean {
    return this.large;
  }

  /**
   * Encodes the first variant now (so an encoding failure is this query's SERVFAIL, not a cached
   * time bomb): UDP-sized, and whole as well when that already holds every record.
   */
  prepare(): void {
    this.variant(0, UDP_ENCODING_BUDGET);
  }

  /** Picks the next rotation variant (a per-entry cursor) and returns it fitted to `limit` bytes. */
  next(limit: number): FittedResponse {
    if (this.weighted !== undefined) return this.fitted(this.weighted.next(), limit);
    const index = this.cursor;
    this.cursor = index + 1 === this.variantCount ? 0 : index + 1;
    return this.fitted(index, limit);
  }

  fitted(index: number, limit: number): FittedResponse {
    const variant = this.variant(index, limit);
    if (limit >= variant.message.bytes.length) return (variant.whole ??= fitResponse(variant.message, limit));
    const { limits, cuts } = variant;
    for (let i = 0; i < limits.length; i++) if (limits[i] === limit) return cuts[i]!;
    const fitted = fitResponse(variant.message, limit);
    if (limits.length >= MAX_FITS_PER_VARIANT) {
      limits.length = 0;
      cuts.length = 0;
    }
    limits.push(limit);
    cuts.push(fitted);
    return fitted;
  }

  /** The whole encoding of variant `index` (at most one TCP message). */
  encoded(index: number): EncodedMessage {
    return this.variant(index, MAX_TCP_SIZE).message;
  }

  /** A variant good for every limit up to `limit`: the whole one, or a UDP-sized one when that is enough. */
  private variant(index: number, limit: number): Variant {
    const whole = this.variants[index];
    if (whole !== undefined) return whole;
    if (this.large && limit <= UDP_ENCODING_BUDGET) {
      const small = this.udpVariants[index];
      if (small !== undefined) return small;
      const source = this.source!;
      const message = encodeResponse(source.question, source.answer, this.recordsFor(source.answer, index), source.opt, source.addressBytes, UDP_ENCODING_BUDGET);
      if (!message.partial) return this.keepWhole(index, message); // it held every record: it is the whole message
      const variant: Variant = { message, whole: undefined, limits: [], cuts: [] };
      this.udpVariants[index] = variant;
      return variant;
    }
    const source = this.source!;
    const message = capMessage(encodeResponse(source.question, source.answer, this.recordsFor(source.answer, index), source.opt, source.addressBytes), MAX_TCP_SIZE);
    this.udpVariants[index] = undefined; // the whole one serves UDP limits too
    return this.keepWhole(index, message);
  }

  private keepWhole(index: number, message: EncodedMessage): Variant {
    const variant: Variant = { message, whole: undefined, limits: [], cuts: [] };
    this.variants[index] = variant;
    if (++this.encodedVariants === this.variantCount) this.source = null;
    return variant;
  }

  /** Negative answers go to the small separate cache. */
  get negative(): boolean {
    return isNegativeRcode(this.rcode);
  }

  /**
   * An upper bound of the bytes this entry holds once every variant and fit exists, known from
   * the first variant (every variant has the same records, rotated, so about the same size). A
   * large answer may hold, per variant, a UDP-sized encoding and later a whole one of at most one
   * TCP message (its size is not known until asked over TCP, so the maximum is charged). The
   * records are charged while they are held (until every whole variant is encoded), which is
   * always for a moment: an entry is never charged less than it can hold.
   */
  chargedBytes(key: string): number {
    const first = this.large ? MAX_TCP_SIZE : this.encoded(0).bytes.length;
    const records = this.recordCount;
    const udpSized = this.large ? UDP_ENCODING_MAX_BYTES + VARIANT_OVERHEAD_BYTES : 0;
    const perVariant = first + Math.min(first, MAX_FITS_PER_VARIANT * 1232) + VARIANT_OVERHEAD_BYTES + records * VARIANT_BYTES_PER_RECORD + udpSized;
    const heldRecords = this.variantCount > 1 || this.large ? records * RECORD_OVERHEAD_BYTES : 0;
    const cursor = this.weighted === undefined ? 0 : WEIGHTED_CURSOR_BYTES;
    return ENTRY_OVERHEAD_BYTES + 2 * key.length + heldRecords + cursor + this.variantCount * perVariant;
  }

  private recordsFor(answer: Answer, index: number): ResourceRecord[] {
    const records = answer.answer;
    if (this.variantCount === 1) return answer.rotation === 'pick-one' ? records.slice(0, 1) : records;
    const start = Math.floor((index * records.length) / this.variantCount);
    if (answer.rotation === 'pick-one') return [records[start]!];
    return [...records.slice(start), ...records.slice(0, start)];
  }
}

/** Bits of the doorkeeper's filter (128 KiB). */
const DOORKEEPER_BITS = 1 << 20;
/** Questions recorded before the filter starts over: false admissions stay near 5 % (2 hashes). */
const DOORKEEPER_RESET_AFTER = 1 << 17;

/**
 * Admits a negative answer to a full negative cache on the second time its question is asked (the
 * doorkeeper of TinyLFU): a bit filter of the questions seen lately, reset after 131,072 of them. Measured in
 * one worker under 200,000 unique junk names: caching every one (16,384 entries, each promoted to
 * the old generation before it is evicted) cost 11 full GCs of 26–39 ms and 43 µs per query;
 * admitting none, 3 of at most 10 ms and 28 µs. A name asked again (a client retrying, many pods
 * asking the same missing service) is cached from its second query on.
 */
export class NegativeDoorkeeper {
  private readonly bits = new Uint32Array(DOORKEEPER_BITS / 32);
  private recorded = 0;

  /** True when `key` was (probably) seen since the last reset; records it either way. */
  seenBefore(key: string): boolean {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c ^ key.length;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    const a = (h1 >>> 0) & (DOORKEEPER_BITS - 1);
    const b = (h2 >>> 0) & (DOORKEEPER_BITS - 1);
    const wordA = a >>> 5;
    const wordB = b >>> 5;
    const bitA = 1 << (a & 31);
    const bitB = 1 << (b & 31);
    if ((this.bits[wordA]! & bitA) !== 0 && (this.bits[wordB]! & bitB) !== 0) return true;
    this.bits[wordA]! |= bitA;
    this.bits[wordB]! |= bitB;
    if (++this.recorded >= DOORKEEPER_RESET_AFTER) {
      this.bits.fill(0);
      this.recorded = 0;
    }
    return false;
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
  /**
   * Whether a negative answer to `key` is to be kept (records the question for the doorkeeper):
   * ask before `set` of a negative entry; one not kept is answered and dropped.
   */
  admitsNegative(key: string): boolean;
  /** Keeps an entry: a negative one in the small LRU (see admitsNegative), others by charged bytes. */
  set(key: string, entry: CachedAnswer): void;
  /** Removes and returns the entry under `key` (to keep it under another key). */
  take(key: string): CachedAnswer | undefined;
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
  const negativeMax = Math.max(1, options.negativeEntries);
  const negative = new LRUCache<string, CachedAnswer>({ max: negativeMax });
  const doorkeeper = new NegativeDoorkeeper();
  let refused = 0;
  return {
    get: (key) => main.get(key) ?? negative.get(key),
    // While there is room, every negative answer is kept (a client asking again is served from
    // the cache); once the LRU is full, only questions asked before get in, so a flood of unique
    // junk names cannot churn it.
    admitsNegative: (key) => negative.size < negativeMax || negative.has(key) || doorkeeper.seenBefore(key),
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
    take: (key) => {
      const entry = main.get(key) ?? negative.get(key);
      if (entry !== undefined) {
        main.delete(key);
        negative.delete(key);
      }
      return entry;
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
