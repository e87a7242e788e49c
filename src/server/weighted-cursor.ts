/**
 * The per-entry cursor of a weighted answer (issue 14): which rotation variant the next query
 * gets, so that over many queries variant i comes first in proportion to its weight.
 *
 * Built once per cache entry; each query then costs an add, a compare and a scan of at most
 * MAX_ROTATION_VARIANTS bounds, with no allocation. The weights are quantized to a period of about
 * PERIOD slots (slot counts proportional to the weights, at least one per positive weight); the
 * cursor walks the slots with a stride coprime to the period, so every period visits each slot
 * exactly once (the shares are exact over every whole period, within one period otherwise) and
 * consecutive queries land far apart (a golden-ratio stride), instead of one variant answering a
 * long run of queries before the next gets its turn.
 */

/** Slots per period: shares are exact to 0.1 points over every 1,000 queries. */
const PERIOD = 1000;
const GOLDEN = 0.6180339887498949;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export class WeightedCursor {
  /** bounds[i]: the end (exclusive) of variant i's slots; the last one is the period. */
  private readonly bounds: Uint32Array;
  private readonly period: number;
  private readonly stride: number;
  private position = 0;

  /** `weights` per variant, non-negative, at least one positive (the caller checks). */
  constructor(weights: readonly number[]) {
    let total = 0;
    for (const w of weights) total += w;
    this.bounds = new Uint32Array(weights.length);
    let end = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      end += w > 0 ? Math.max(1, Math.round((w / total) * PERIOD)) : 0;
      this.bounds[i] = end;
    }
    this.period = Math.max(1, end);
    let stride = Math.max(1, Math.round(this.period * GOLDEN));
    while (gcd(stride, this.period) !== 1) stride++;
    this.stride = stride % this.period || 1;
  }

  /** The variant for this query. */
  next(): number {
    const slot = this.position;
    const advanced = slot + this.stride;
    this.position = advanced >= this.period ? advanced % this.period : advanced;
    const bounds = this.bounds;
    let i = 0;
    while (bounds[i]! <= slot) i++;
    return i;
  }

  /** Slots per variant out of the period (for tests and explain: the shares actually served). */
  shares(): { period: number; slots: number[] } {
    const slots: number[] = [];
    let start = 0;
    for (const end of this.bounds) {
      slots.push(end - start);
      start = end;
    }
    return { period: this.period, slots };
  }
}

/**
 * Each variant's weight when variant v starts the answer at record floor(v * n / variants): the
 * records of its segment up to the next variant's start. With at most one variant per record
 * (the common case) that is the record's own weight.
 */
export function variantWeights(recordWeights: readonly number[], variants: number): number[] {
  const n = recordWeights.length;
  const out: number[] = [];
  for (let v = 0; v < variants; v++) {
    const start = Math.floor((v * n) / variants);
    const end = Math.floor(((v + 1) * n) / variants);
    let sum = 0;
    for (let i = start; i < end; i++) sum += recordWeights[i]!;
    out.push(sum);
  }
  return out;
}
