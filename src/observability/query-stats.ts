/**
 * Hot-path accumulators for per-query metrics. prom-client's labelled `inc`/`observe` cost about a
 * microsecond per query (they hash the label object every call), a tenth of the whole per-query
 * budget, so the DNS path bumps plain typed-array slots here and the registry reads them on scrape.
 * Every label value is an index into a fixed list, so cardinality is bounded by construction.
 */

export const TRANSPORTS = ['udp', 'tcp'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** The `type` label: common query types by name, everything else folded into `other`. */
export const QUERY_TYPE_LABELS = ['A', 'AAAA', 'SRV', 'TXT', 'SOA', 'NS', 'ANY', 'other'] as const;
const QTYPE_TO_LABEL_INDEX: ReadonlyMap<number, number> = new Map([
  [1, 0],
  [28, 1],
  [33, 2],
  [16, 3],
  [6, 4],
  [2, 5],
  [255, 6],
]);

/** The `rcode` label. BADVERS is extended rcode 16; anything unexpected is `other`. */
export const RCODE_LABELS = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'BADVERS', 'other'] as const;

/** Why a message was rejected or dropped (the `reason` label of clusterset_dns_malformed_total). */
export const MALFORMED_REASONS = [
  'short_header',
  'response_bit',
  'qdcount',
  'name_pointer',
  'label_type',
  'name_too_long',
  'truncated',
  'unexpected_records',
  'bad_opt',
  'multiple_opt',
  'tcp_length',
] as const;
export type MalformedReason = (typeof MALFORMED_REASONS)[number];

/** Why the server closed a TCP connection (the `reason` label of clusterset_dns_tcp_closed_total). */
export const TCP_CLOSE_REASONS = ['read_timeout', 'idle_timeout', 'evicted', 'max_queries', 'fragmented'] as const;
export type TcpCloseReason = (typeof TCP_CLOSE_REASONS)[number];

/** Upper bounds (seconds) of the request-duration histogram: a cached answer takes microseconds. */
export const DURATION_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1, 0.5] as const;

export function queryTypeLabelIndex(qtype: number): number {
  return QTYPE_TO_LABEL_INDEX.get(qtype) ?? QUERY_TYPE_LABELS.length - 1;
}

export function rcodeLabelIndex(rcode: number): number {
  if (rcode >= 0 && rcode <= 5) return rcode;
  if (rcode === 16) return 6;
  return RCODE_LABELS.length - 1;
}

export function transportIndex(transport: Transport): number {
  return transport === 'udp' ? 0 : 1;
}

const NT = TRANSPORTS.length;
const NQ = QUERY_TYPE_LABELS.length;
const NR = RCODE_LABELS.length;
const NB = DURATION_BUCKETS.length;

/**
 * The `zone` label, as CoreDNS names it: one value per served zone (`--zone`, in order) and
 * OUTSIDE_ZONES for every query answered without one (outside every zone, malformed, not QUERY).
 * At most MAX_ZONE_LABELS zones get their own value; further ones share the last slot (bounded).
 */
export const OUTSIDE_ZONES = '.';
export const MAX_ZONE_LABELS = 16;
const NZ = MAX_ZONE_LABELS + 1;

export class QueryStats {
  /** Queries by [zone][transport][type][rcode], flattened; zone slot NZ-1 is OUTSIDE_ZONES. */
  readonly queries = new Float64Array(NZ * NT * NQ * NR);
  /** Label values of the zone slots in use (set once from the served zones). */
  private zoneLabelValues: string[] = [];
  /** Non-cumulative bucket counts by [transport][bucket], the last slot is +Inf. */
  readonly durationBuckets = new Float64Array(NT * (NB + 1));
  readonly durationSum = new Float64Array(NT);
  readonly durationCount = new Float64Array(NT);
  readonly malformed = new Float64Array(MALFORMED_REASONS.length);
  readonly tcpClosed = new Float64Array(TCP_CLOSE_REASONS.length);
  cacheHits = 0;
  cacheMisses = 0;
  answerErrors = 0;
  /** Bytes charged in the answer cache right now, and its entries (a gauge, set by the server). */
  cacheBytes = 0;
  cacheEntries = 0;

  /** Names the zone slots: `zones[i]` is what recordQuery's `zone` = i counts under. */
  setZones(zones: readonly string[]): void {
    this.zoneLabelValues = zones.slice(0, MAX_ZONE_LABELS).map((z) => `${z.toLowerCase().replace(/\.$/, '')}.`);
  }

  /** [slot, label value] of every zone slot, OUTSIDE_ZONES last. */
  zoneSlots(): Array<[number, string]> {
    return [...this.zoneLabelValues.map((z, i): [number, string] => [i, z]), [NZ - 1, OUTSIDE_ZONES]];
  }

  /** `zone`: index of the served zone the question fell in, or -1 when none. */
  recordQuery(transport: number, qtype: number, rcode: number, seconds: number, zone = -1): void {
    const zoneSlot = zone < 0 ? NZ - 1 : Math.min(zone, MAX_ZONE_LABELS - 1);
    this.queries[((zoneSlot * NT + transport) * NQ + queryTypeLabelIndex(qtype)) * NR + rcodeLabelIndex(rcode)]! += 1;
    let bucket = 0;
    while (bucket < NB && seconds > DURATION_BUCKETS[bucket]!) bucket++;
    this.durationBuckets[transport * (NB + 1) + bucket]! += 1;
    this.durationSum[transport]! += seconds;
    this.durationCount[transport]! += 1;
  }

  recordTcpClose(reason: TcpCloseReason): void {
    this.tcpClosed[TCP_CLOSE_REASONS.indexOf(reason)]! += 1;
  }

  recordMalformed(reason: MalformedReason): void {
    this.malformed[MALFORMED_REASONS.indexOf(reason)]! += 1;
  }

  /** Queries counted for one [transport][type][rcode], summed over zones. */
  queryCount(transport: number, typeIndex: number, rcodeIndex: number): number {
    let n = 0;
    for (let z = 0; z < NZ; z++) n += this.queries[((z * NT + transport) * NQ + typeIndex) * NR + rcodeIndex]!;
    return n;
  }

  /** Index in `queries` of one [zone slot][transport][type][rcode]. */
  static slot(zoneSlot: number, transport: number, typeIndex: number, rcodeIndex: number): number {
    return ((zoneSlot * NT + transport) * NQ + typeIndex) * NR + rcodeIndex;
  }
}
