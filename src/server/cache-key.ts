/**
 * The answer-cache key: snapshot version, EDNS presence, qtype, qclass and the lowercased wire-form
 * name, as one latin1 string. QueryParser writes it straight into its scratch buffer while it
 * lowercases the name and reads it back with a single toString: a key built by concatenating
 * parts is a rope that V8 must flatten (allocate and copy) before it can hash it, and that
 * flattening plus the extra strings was a large share of the per-query cost. cacheKey() builds the
 * same layout from parts, for the slow path and for tests.
 *
 * Layout: [version: float64 BE][EDNS: 1 byte][qtype: uint16 BE][qclass: uint16 BE][name].
 */

export const KEY_HEADER_SIZE = 13;
const EDNS_OFFSET = 8;
const QTYPE_OFFSET = 9;
const QCLASS_OFFSET = 11;

export interface CacheKeyParts {
  version: number;
  edns: boolean;
  qtype: number;
  qclass: number;
  /** Lowercased wire-form name (QueryParser's nameKey). */
  nameKey: string;
}

/** Stamps the snapshot version into a key header (once per snapshot, not per query). */
export function writeKeyVersion(header: Buffer, version: number): void {
  header.writeDoubleBE(version, 0);
}

/** Fills in the per-query part of a key header: EDNS presence, qtype and qclass. */
export function writeKeyQuestion(header: Buffer, edns: boolean, qtype: number, qclass: number): void {
  header[EDNS_OFFSET] = edns ? 1 : 0;
  header[QTYPE_OFFSET] = qtype >>> 8;
  header[QTYPE_OFFSET + 1] = qtype & 0xff;
  header[QCLASS_OFFSET] = qclass >>> 8;
  header[QCLASS_OFFSET + 1] = qclass & 0xff;
}

export function cacheKey(parts: CacheKeyParts): string {
  const key = Buffer.alloc(KEY_HEADER_SIZE + parts.nameKey.length);
  writeKeyVersion(key, parts.version);
  writeKeyQuestion(key, parts.edns, parts.qtype, parts.qclass);
  key.write(parts.nameKey, KEY_HEADER_SIZE, 'latin1');
  return key.toString('latin1');
}
