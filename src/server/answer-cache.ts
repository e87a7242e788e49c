/**
 * The encoded-answer cache. One entry per (snapshot version, EDNS presence, qtype, qclass,
 * lowercased name) — see cache-key.ts: the Answer plus its encodings, one per rotation variant,
 * made lazily and kept with their size-fitted copies. Keying by snapshot version means a new
 * snapshot never serves old bytes; old entries simply age out of the LRU.
 */
import { LRUCache } from 'lru-cache';
import type { Answer, ResourceRecord } from '../dns/types.ts';
import { encodeResponse, type EncodedMessage, type QuestionToEncode } from './response-encoder.ts';
import { fitResponse, type FittedResponse } from './response-fit.ts';

export { cacheKey, type CacheKeyParts } from './cache-key.ts';

/** Rotation variants per entry are capped; with more records the start positions are spread evenly. */
export const MAX_ROTATION_VARIANTS = 32;
/** Distinct size limits kept per variant (clients use a handful of EDNS sizes). */
const MAX_FITS_PER_VARIANT = 8;

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
      message = encodeResponse(this.question, this.answer, this.recordsFor(index), this.opt);
      this.variants[index] = message;
    }
    return message;
  }

  /** Rough bytes held when every variant is encoded (for the LRU's size bound). */
  estimatedSize(): number {
    return (this.encoded(0).bytes.length * 2 + 200) * this.variantCount + 300;
  }

  private recordsFor(index: number): ResourceRecord[] {
    const records = this.answer.answer;
    if (this.variantCount === 1) return this.answer.rotation === 'pick-one' ? records.slice(0, 1) : records;
    const start = Math.floor((index * records.length) / this.variantCount);
    if (this.answer.rotation === 'pick-one') return [records[start]!];
    return [...records.slice(start), ...records.slice(0, start)];
  }
}

export interface AnswerCache {
  get(key: string): CachedAnswer | undefined;
  set(key: string, entry: CachedAnswer): void;
  clear(): void;
  readonly size: number;
}

export function createAnswerCache(maxBytes: number): AnswerCache {
  const lru = new LRUCache<string, CachedAnswer>({
    maxSize: maxBytes,
    sizeCalculation: (entry) => Math.max(1, entry.estimatedSize()),
  });
  return {
    get: (key) => lru.get(key),
    set: (key, entry) => {
      lru.set(key, entry);
    },
    clear: () => lru.clear(),
    get size() {
      return lru.size;
    },
  };
}
