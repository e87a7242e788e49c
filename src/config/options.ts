/** Options of the DNS answering logic and server, validated by config/ before use. */

import type { PolicyName } from '../model/traffic-policy.ts';

/** The global --policy; a service's `clusterset-dns.io/policy` annotation overrides it. */
export type SelectionPolicy = PolicyName;

/** What to answer when every candidate cluster of a service is unhealthy. */
export type PanicMode = 'nodata' | 'all';

export interface DnsOptions {
  /** Served zones, lowercase, no trailing dot. The first one is the default `clusterset.local`. */
  zones: string[];
  /** Positive TTL in seconds. */
  ttl: number;
  /** Negative TTL = SOA MINIMUM, seconds. */
  negativeTtl: number;
  policy: SelectionPolicy;
  /** Lighthouse-style `<cluster>.<svc>.<ns>.svc.Z` names; off for strict MCS. */
  clusterNames: boolean;
  /** Attach Extended DNS Errors (RFC 8914) to negative or degraded answers. */
  ede: boolean;
  panicMode: PanicMode;
  /**
   * Records per section of one answer at most (answer and additional each); the rest is left out
   * before encoding. Default DEFAULT_MAX_RECORDS.
   */
  maxRecords?: number;
}

/**
 * What fits in one 65,535-byte TCP message: a compressed A record takes 16 bytes, and
 * (65,535 - 12 header - 259 longest question - 11 OPT - ~250 EDE) / 16 is just above 4,000.
 */
export const DEFAULT_MAX_RECORDS = 4000;

export const DEFAULT_DNS_OPTIONS: DnsOptions = {
  zones: ['clusterset.local'],
  ttl: 5,
  negativeTtl: 5,
  policy: 'local-first',
  clusterNames: true,
  ede: true,
  panicMode: 'nodata',
};

export interface ListenAddress {
  host: string;
  port: number;
}
