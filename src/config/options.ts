/** Options of the DNS answering logic and server, validated by config/ before use. */

export type SelectionPolicy = 'local-first' | 'all' | 'round-robin';

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
}

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
