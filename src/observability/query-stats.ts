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

export class QueryStats {
  /** Queries by [transport][type][rcode], flattened. */
  readonly queries = new Float64Array(NT * NQ * NR);
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

  recordQuery(transport: number, qtype: number, rcode: number, seconds: number): void {
    this.queries[(transport * NQ + queryTypeLabelIndex(qtype)) * NR + rcodeLabelIndex(rcode)]! += 1;
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

  queryCount(transport: number, typeIndex: number, rcodeIndex: number): number {
    return this.queries[(transport * NQ + typeIndex) * NR + rcodeIndex]!;
  }
}
