/**
 * Size rules for a response (RFC 1035 §4.2.1, RFC 6891, RFC 2181 §9), applied to an encoded
 * message by slicing at recorded section boundaries, never by re-encoding:
 * 1. it fits: send it whole;
 * 2. otherwise keep the answer and authority and as many whole Additional records as fit (keeping
 *    OPT): no TC needed, Additional is optional data;
 * 3. otherwise set TC=1 and keep as many whole answer records as fit (SRV, A, AAAA alike: a usable
 *    subset); authority and Additional are dropped. A prefix of records is always well-formed:
 *    compression pointers only point backwards.
 * Over TCP the limit is 65,535 bytes, so a huge answer keeps what fits there too.
 */
import type { EncodedMessage } from './response-encoder.ts';
import { HEADER_SIZE } from './query-parser.ts';

/** A ready-to-patch reply: bytes plus where the question name copies and the OPT record are. */
export interface FittedResponse {
  bytes: Buffer;
  /** Offsets where the question name is written literally (12, plus literal owner names). */
  qnameOffsets: number[];
  /** Start of the OPT record, or -1. */
  optOffset: number;
}

export const MIN_UDP_SIZE = 512;
export const MAX_TCP_SIZE = 65535;

/** The largest reply we may send over UDP for a query (with or without its EDNS payload size). */
export function udpLimit(ednsPayloadSize: number | null, ourMax: number): number {
  if (ednsPayloadSize === null) return MIN_UDP_SIZE;
  return Math.min(Math.max(ednsPayloadSize, MIN_UDP_SIZE), ourMax);
}

export function fitResponse(msg: EncodedMessage, limit: number): FittedResponse {
  const { bytes } = msg;
  const optLength = bytes.length - msg.additionalEnd;
  const allOffsets = [HEADER_SIZE, ...msg.ownerOffsets];
  if (bytes.length <= limit) {
    return { bytes, qnameOffsets: allOffsets, optOffset: msg.hasOpt ? msg.additionalEnd : -1 };
  }
  if (msg.authorityEnd + optLength <= limit) {
    let additional = 0;
    while (additional < msg.additionalEnds.length && msg.additionalEnds[additional]! + optLength <= limit) additional++;
    const end = additional > 0 ? msg.additionalEnds[additional - 1]! : msg.authorityEnd;
    return cut(msg, end, { ancount: msg.answerEnds.length, nscount: -1, arcount: additional, truncated: false });
  }
  let kept = 0;
  while (kept < msg.answerEnds.length && msg.answerEnds[kept]! + optLength <= limit) kept++;
  const end = kept > 0 ? msg.answerEnds[kept - 1]! : msg.questionEnd;
  return cut(msg, end, { ancount: kept, nscount: 0, arcount: 0, truncated: true });
}

/**
 * The same message cut to at most `limit` bytes by the rules above, still as an EncodedMessage
 * (section boundaries adjusted), so later fits can be derived from it. A cached answer keeps only
 * this ≤ 65,535-byte form per rotation variant: no variant holds more than one TCP message.
 */
export function capMessage(msg: EncodedMessage, limit: number): EncodedMessage {
  if (msg.bytes.length <= limit) return msg;
  const fitted = fitResponse(msg, limit);
  const ancount = fitted.bytes.readUInt16BE(6);
  const nscount = fitted.bytes.readUInt16BE(8);
  const arcount = fitted.bytes.readUInt16BE(10) - (msg.hasOpt ? 1 : 0);
  const answerEnds = msg.answerEnds.slice(0, ancount);
  const authorityEnd = nscount > 0 ? msg.authorityEnd : answerEnds.at(-1) ?? msg.questionEnd;
  const additionalEnds = msg.additionalEnds.slice(0, arcount);
  const additionalEnd = additionalEnds.at(-1) ?? authorityEnd;
  return {
    bytes: fitted.bytes,
    questionEnd: msg.questionEnd,
    ownerOffsets: msg.ownerOffsets.filter((offset) => offset < additionalEnd),
    answerEnds,
    authorityEnd,
    additionalEnds,
    additionalEnd,
    hasOpt: msg.hasOpt,
    partial: msg.partial,
  };
}

/** Keeps bytes [0, end) plus the OPT record and fixes the counts (nscount -1 = unchanged). */
function cut(
  msg: EncodedMessage,
  end: number,
  counts: { ancount: number; nscount: number; arcount: number; truncated: boolean },
): FittedResponse {
  const optLength = msg.bytes.length - msg.additionalEnd;
  // Its own buffer, not a pool slice: fits are cached as long as their answer (see wire-writer.ts).
  const out = Buffer.allocUnsafeSlow(end + optLength);
  msg.bytes.copy(out, 0, 0, end);
  msg.bytes.copy(out, end, msg.additionalEnd);
  out.writeUInt16BE(counts.ancount, 6);
  if (counts.nscount >= 0) out.writeUInt16BE(counts.nscount, 8);
  out.writeUInt16BE(counts.arcount + (msg.hasOpt ? 1 : 0), 10);
  if (counts.truncated) out[2]! |= 0x02;
  return {
    bytes: out,
    qnameOffsets: [HEADER_SIZE, ...msg.ownerOffsets.filter((offset) => offset < end)],
    optOffset: msg.hasOpt ? end : -1,
  };
}

/**
 * Copies a fitted reply and stamps the per-query parts: ID, RD and CD copied from the query, the
 * question name exactly as sent (0x20 case echo, also in literal owner names) and the DO bit.
 */
export function patchResponse(
  fitted: FittedResponse,
  query: Buffer,
  id: number,
  queryFlagsHi: number,
  queryFlagsLo: number,
  qnameEnd: number,
  dnssecOk: boolean,
  /** The fitted bytes are this query's alone (a one-off reply): stamp them in place, no copy. */
  inPlace = false,
): Buffer {
  // Per query, so plain TypedArray set and byte loops: Buffer#copy validates its arguments and
  // makes a view object for every partial copy, which costs more than copying ~40 name bytes.
  let out = fitted.bytes;
  if (!inPlace) {
    out = Buffer.allocUnsafe(fitted.bytes.length);
    out.set(fitted.bytes);
  }
  out[0] = id >>> 8;
  out[1] = id & 0xff;
  out[2]! |= queryFlagsHi & 0x01; // RD
  out[3]! |= queryFlagsLo & 0x10; // CD
  const nameLength = qnameEnd - HEADER_SIZE;
  for (const offset of fitted.qnameOffsets) {
    for (let i = 0; i < nameLength; i++) out[offset + i] = query[HEADER_SIZE + i]!;
  }
  // OPT: name(1) type(2) class(2) then TTL = ext-rcode(1) version(1) flags(2); DO is the top flag bit.
  if (dnssecOk && fitted.optOffset >= 0) out[fitted.optOffset + 7]! |= 0x80;
  return out;
}
