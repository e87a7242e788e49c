/**
 * IP address text → bytes and back, without node:net, so every room (model, dns, server) can use
 * the same parser. One parser for every textual form matters: the wire encoder, the ingestion
 * validator and the answer de-duplication must all agree on what an address *is*
 * (`2001:DB8::1`, `2001:db8:0::1` and `2001:db8::0.0.0.1` are one address).
 */

export type IpFamily = 'IPv4' | 'IPv6';

export interface ParsedIp {
  family: IpFamily;
  /** 4 bytes for IPv4, 16 for IPv6. */
  bytes: Uint8Array;
  /** RFC 5952 text for IPv6 (lowercase, longest zero run compressed), dotted decimal for IPv4. */
  canonical: string;
}

export type IpParseResult = { ok: true; ip: ParsedIp } | { ok: false; reason: string };

const MAX_TEXT = 64;

/**
 * Dotted decimal in one pass without allocating parts (every address of every slice is parsed at
 * ingestion and in de-duplication: 100,000 of them in one big slice). Undefined for anything it
 * does not accept, which the thorough parser below then explains.
 */
function parseIPv4Fast(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
      continue;
    }
    if (c < 48 || c > 57) return undefined;
    if (digits === 1 && value === 0) return undefined; // a leading zero
    value = value * 10 + (c - 48);
    if (++digits > 3 || value > 255) return undefined;
  }
  if (part !== 3 || digits === 0) return undefined;
  out[3] = value;
  return out;
}

function parseIPv4Bytes(text: string): Uint8Array | string {
  const fast = parseIPv4Fast(text);
  if (fast !== undefined) return fast;
  const parts = text.split('.');
  if (parts.length !== 4) return 'an IPv4 address has four dot-separated parts';
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p)) return `IPv4 part ${JSON.stringify(p)} is not a decimal number`;
    // Leading zeros are ambiguous (octal in some parsers); Kubernetes rejects them too.
    if (p.length > 1 && p[0] === '0') return `IPv4 part ${JSON.stringify(p)} has a leading zero`;
    const n = Number(p);
    if (n > 255) return `IPv4 part ${p} is above 255`;
    out[i] = n;
  }
  return out;
}

function parseIPv6Bytes(text: string): Uint8Array | string {
  if (text.includes('%')) return 'IPv6 zone IDs (%…) are not allowed in a service address';
  const halves = text.split('::');
  if (halves.length > 2) return 'an IPv6 address has at most one "::"';
  const groupsOf = (half: string): string[] => (half === '' ? [] : half.split(':'));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const all = [...head, ...tail];
  // An embedded IPv4 part may only be the last group.
  let v4: Uint8Array | undefined;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    const parsed = parseIPv4Bytes(last);
    if (typeof parsed === 'string') return `embedded ${parsed}`;
    v4 = parsed;
    if (tail.length > 0) tail.pop();
    else head.pop();
  }
  const groupCount = head.length + tail.length + (v4 ? 2 : 0);
  if (halves.length === 1 && groupCount !== 8) return 'an IPv6 address without "::" has eight groups';
  if (halves.length === 2 && groupCount > 7) return 'too many IPv6 groups around "::"';
  const words: number[] = [];
  for (const g of [...head, ...tail]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return `IPv6 group ${JSON.stringify(g)} is not 1-4 hex digits`;
  }
  for (const g of head) words.push(parseInt(g, 16));
  const fill = 8 - groupCount;
  for (let i = 0; i < fill; i++) words.push(0);
  for (const g of tail) words.push(parseInt(g, 16));
  const out = new Uint8Array(16);
  for (let i = 0; i < words.length; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  if (v4) out.set(v4, 12);
  return out;
}

/** Canonical text of 4 or 16 address bytes. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, got ${bytes.length}`);
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  // RFC 5952 §5: IPv4-mapped addresses are written with their IPv4 part.
  if (bestStart === 0 && bestLen === 5 && words[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Parses any textual IPv4 or IPv6 form; never throws. */
export function parseIp(text: string): IpParseResult {
  if (typeof text !== 'string' || text.length === 0) return { ok: false, reason: 'empty address' };
  if (text.length > MAX_TEXT) return { ok: false, reason: `address text longer than ${MAX_TEXT} characters` };
  const bytes = text.includes(':') ? parseIPv6Bytes(text) : parseIPv4Bytes(text);
  if (typeof bytes === 'string') return { ok: false, reason: bytes };
  return { ok: true, ip: { family: bytes.length === 4 ? 'IPv4' : 'IPv6', bytes, canonical: formatIp(bytes) } };
}

/** The 16 (or 4) wire bytes of an address already known to be valid; throws on invalid text. */
export function ipBytes(text: string): Uint8Array {
  const r = parseIp(text);
  if (!r.ok) throw new RangeError(`not an IP address: ${JSON.stringify(text.slice(0, MAX_TEXT))} (${r.reason})`);
  return r.ip.bytes;
}

/** Canonical text, or undefined when the text is not an address. */
export function canonicalIp(text: string): string | undefined {
  const r = parseIp(text);
  return r.ok ? r.ip.canonical : undefined;
}
