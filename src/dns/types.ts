/**
 * The result of answering one question, before any wire encoding (CoreDNS style: a lookup returns
 * records plus a result kind, only the serving layer turns that into bytes).
 */

export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended rcode 16 (needs OPT): upper 8 bits go into the OPT TTL field. */
  BADVERS: 16,
} as const;
export type RcodeValue = (typeof Rcode)[keyof typeof Rcode];

export const QType = {
  A: 1,
  NS: 2,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

export const QClass = { IN: 1, CH: 3, ANY: 255 } as const;

/** Extended DNS Error info codes (RFC 8914) that we use. */
export const EdeCode = {
  OTHER: 0,
  STALE_ANSWER: 3,
  NOT_READY: 14,
  NOT_AUTHORITATIVE: 20,
  NOT_SUPPORTED: 21,
} as const;

export interface Ede {
  code: number;
  text: string;
}

/** Owner names are lowercase dotted names WITHOUT a trailing dot (`web.shop.svc.clusterset.local`). */
export type ResourceRecord =
  | { name: string; ttl: number; type: 'A'; address: string }
  | { name: string; ttl: number; type: 'AAAA'; address: string }
  | { name: string; ttl: number; type: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { name: string; ttl: number; type: 'TXT'; text: string }
  | { name: string; ttl: number; type: 'NS'; ns: string }
  | {
      name: string;
      ttl: number;
      type: 'SOA';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    };

/**
 * How the server may reorder the answer section per query:
 * - `none`: as given.
 * - `rotate`: rotate the whole answer list by a per-query cursor (weighted by `Answer.weights`).
 * - `pick-one`: send exactly one record, chosen by the cursor (Lighthouse round-robin; weighted too).
 */
export type Rotation = 'none' | 'rotate' | 'pick-one';

export interface Answer {
  rcode: RcodeValue;
  /** AA bit: true for every answer inside our zones; false for REFUSED/FORMERR/NOTIMP. */
  authoritative: boolean;
  answer: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
  /** Extended DNS Errors to attach when the query carried OPT and EDE is enabled. */
  ede: Ede[];
  rotation: Rotation;
  /**
   * `<namespace>/<name>` of the service the question named, when it named one: the answer then
   * depends on that service's entry alone (plus the snapshot's stale marker), which lets the server
   * keep a large cached answer across updates of other services.
   */
  serviceKey?: string;
  /**
   * Each answer record's share of first positions (parallel to `answer`), when the shares differ:
   * the server then rotates (or picks) weighted, so over many queries a record comes first in
   * proportion to its share. Absent: every record comes first equally often.
   */
  weights?: number[];
}

/** A parsed question: labels lowercased (ASCII only), exactly as received otherwise. */
export interface Question {
  labels: string[];
  qtype: number;
  qclass: number;
}
