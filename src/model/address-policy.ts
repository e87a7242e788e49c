/**
 * The one address validator: every address that can end up in a DNS answer passes here, at every
 * point where it enters (the exporter reading local EndpointSlices, the importer reading other
 * clusters' broker objects, the DNS feed reading ServiceImports and MCS EndpointSlices, the
 * embedded default's files). A member cluster is not trusted for what it puts inside its own
 * objects: it must not make another cluster's DNS answer the cloud metadata address, loopback or
 * a multicast group.
 *
 * Built on model/ip.ts, so "the same address" means the same thing here, in de-duplication and
 * on the wire; accepted addresses are returned in their canonical (RFC 5952) text.
 */
import { type IpFamily, formatIp, parseIp } from './ip.ts';
import type { Endpoint } from './types.ts';

export interface Cidr {
  family: IpFamily;
  /** Network bytes, host bits already zero. */
  network: Uint8Array;
  prefix: number;
  /** Canonical `<network>/<prefix>` text. */
  text: string;
}

export type CidrParseResult = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** `10.0.0.0/8`, `fd00::/8`. Host bits must be zero (a typo like 10.1.0.0/8 is refused, not widened). */
export function parseCidr(text: string): CidrParseResult {
  const slash = text.indexOf('/');
  if (slash < 0) return { ok: false, reason: `${JSON.stringify(text)} is not a CIDR (address/prefix)` };
  const ip = parseIp(text.slice(0, slash));
  if (!ip.ok) return { ok: false, reason: `${JSON.stringify(text)}: ${ip.reason}` };
  const prefixText = text.slice(slash + 1);
  const max = ip.ip.bytes.length * 8;
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return { ok: false, reason: `${JSON.stringify(text)}: prefix length must be 0-${max}` };
  }
  const prefix = Number(prefixText);
  const network = ip.ip.bytes;
  if (!hostBitsZero(network, prefix)) return { ok: false, reason: `${JSON.stringify(text)}: host bits are set (did you mean ${maskedText(network, prefix)}?)` };
  return { ok: true, cidr: { family: ip.ip.family, network, prefix, text: `${ip.ip.canonical}/${prefix}` } };
}

function hostBitsZero(bytes: Uint8Array, prefix: number): boolean {
  for (let bit = prefix; bit < bytes.length * 8; bit++) if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return false;
  return true;
}

function maskedText(bytes: Uint8Array, prefix: number): string {
  const out = Uint8Array.from(bytes);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(1 << (7 - (bit & 7)));
  return `${formatIp(out)}/${prefix}`;
}

/** Whether `bytes` (same family as the CIDR) lies inside it. */
export function cidrContains(cidr: Cidr, bytes: Uint8Array): boolean {
  if (bytes.length !== cidr.network.length) return false;
  for (let bit = 0; bit < cidr.prefix; bit++) {
    const i = bit >> 3;
    const mask = 1 << (7 - (bit & 7));
    if ((bytes[i]! & mask) !== (cidr.network[i]! & mask)) return false;
  }
  return true;
}

function mustCidr(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(r.reason);
  return r.cidr;
}

/**
 * Ranges that never name a service backend in another cluster, with the reason shown to the
 * operator. Order matters only for the reason reported (the most specific first).
 */
const FORBIDDEN: ReadonlyArray<{ cidr: Cidr; reason: string }> = [
  { cidr: mustCidr('0.0.0.0/32'), reason: 'unspecified address' },
  { cidr: mustCidr('0.0.0.0/8'), reason: '"this network" address (0.0.0.0/8)' },
  { cidr: mustCidr('127.0.0.0/8'), reason: 'loopback address' },
  { cidr: mustCidr('169.254.0.0/16'), reason: 'link-local address (169.254.0.0/16, cloud metadata lives here)' },
  { cidr: mustCidr('224.0.0.0/4'), reason: 'multicast address' },
  { cidr: mustCidr('255.255.255.255/32'), reason: 'broadcast address' },
  { cidr: mustCidr('::/128'), reason: 'unspecified address' },
  { cidr: mustCidr('::1/128'), reason: 'loopback address' },
  { cidr: mustCidr('::ffff:0.0.0.0/96'), reason: 'IPv4-mapped IPv6 address (use the IPv4 address in an IPv4 slice)' },
  { cidr: mustCidr('::/96'), reason: 'IPv4-compatible IPv6 address (deprecated, RFC 4291)' },
  { cidr: mustCidr('fe80::/10'), reason: 'link-local address (fe80::/10)' },
  { cidr: mustCidr('ff00::/8'), reason: 'multicast address' },
];

export interface AddressPolicy {
  /** When non-empty, only addresses inside one of these are accepted (`--allowed-cidrs`). */
  allowed: readonly Cidr[];
}

/** No allow-list: every address that is not in a forbidden range. */
export const DEFAULT_ADDRESS_POLICY: AddressPolicy = { allowed: [] };

/** Builds a policy from `--allowed-cidrs` values; throws with every bad entry named. */
export function addressPolicyFrom(allowedCidrs: readonly string[]): AddressPolicy {
  const allowed: Cidr[] = [];
  const problems: string[] = [];
  for (const text of allowedCidrs) {
    const r = parseCidr(text);
    if (r.ok) allowed.push(r.cidr);
    else problems.push(r.reason);
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return { allowed };
}

export type AddressCheck =
  | { ok: true; family: IpFamily; canonical: string }
  | { ok: false; reason: string };

/** Parses, canonicalises and judges one address against the policy; never throws. */
export function checkAddress(text: string, policy: AddressPolicy = DEFAULT_ADDRESS_POLICY): AddressCheck {
  const parsed = parseIp(text);
  if (!parsed.ok) return { ok: false, reason: `not an IP address: ${parsed.reason}` };
  const { bytes, family, canonical } = parsed.ip;
  for (const f of FORBIDDEN) if (cidrContains(f.cidr, bytes)) return { ok: false, reason: `${canonical}: ${f.reason}` };
  if (policy.allowed.length > 0 && !policy.allowed.some((c) => cidrContains(c, bytes))) {
    return { ok: false, reason: `${canonical}: outside the allowed CIDRs (${policy.allowed.map((c) => c.text).join(', ')})` };
  }
  return { ok: true, family, canonical };
}

/** One refused address, with why. */
export interface RejectedAddress {
  address: string;
  reason: string;
}

/** At most this many rejections are kept per object (they feed logs, annotations and explain). */
export const MAX_REJECTIONS_KEPT = 5;

/**
 * Splits a list of addresses into the accepted ones (canonical, de-duplicated, in order) and the
 * rejected ones. `family`, when given, is the family every address must have (an EndpointSlice
 * holds one family).
 */
export function filterAddresses(
  addresses: readonly string[],
  policy: AddressPolicy,
  family?: IpFamily,
): { accepted: string[]; rejected: RejectedAddress[] } {
  const accepted: string[] = [];
  const rejected: RejectedAddress[] = [];
  for (const address of addresses) {
    const check = checkAddress(address, policy);
    if (!check.ok) rejected.push({ address: String(address).slice(0, 64), reason: check.reason });
    else if (family !== undefined && check.family !== family) rejected.push({ address: check.canonical, reason: `${check.canonical}: not an ${family} address` });
    else if (!accepted.includes(check.canonical)) accepted.push(check.canonical);
  }
  return { accepted, rejected };
}

/** `169.254.169.254: link-local address …; (+2 more)`: a bounded one-line summary. */
export function summarizeRejections(rejected: readonly RejectedAddress[]): string {
  const shown = rejected.slice(0, MAX_REJECTIONS_KEPT).map((r) => r.reason);
  const hidden = rejected.length - shown.length;
  return hidden > 0 ? `${shown.join('; ')}; (+${hidden} more)` : shown.join('; ');
}

/**
 * The endpoints with every refused address removed (an endpoint left without any address is
 * dropped), and what was refused. Unchanged input gives back equal output, so callers can compare.
 */
export function screenEndpoints(endpoints: readonly Endpoint[], policy: AddressPolicy): { endpoints: Endpoint[]; rejected: RejectedAddress[] } {
  const out: Endpoint[] = [];
  const rejected: RejectedAddress[] = [];
  for (const e of endpoints) {
    const r = filterAddresses(e.addresses, policy);
    rejected.push(...r.rejected);
    if (r.accepted.length === 0) continue;
    out.push(e.hostname === undefined ? { addresses: r.accepted, ready: e.ready } : { addresses: r.accepted, hostname: e.hostname, ready: e.ready });
  }
  return { endpoints: out, rejected };
}
