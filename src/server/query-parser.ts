/**
 * Strict hand-written parser for one DNS query message: header, exactly one question and an
 * optional single OPT record. It runs for every UDP datagram, so it allocates little and never
 * follows compression pointers (a query's question has nothing earlier to point at).
 *
 * Outcomes: `drop` (no reply at all: too short for a header, or a response, which we never
 * reflect), `error` (reply with an rcode, echoing whatever could be parsed) or `query`.
 */
import type { MalformedReason } from '../observability/query-stats.ts';
import { KEY_HEADER_SIZE, writeKeyQuestion, writeKeyVersion } from './cache-key.ts';

export const HEADER_SIZE = 12;
const MAX_LABEL = 63;
/** RFC 1035 §2.3.4: a name is at most 255 octets on the wire, length bytes and root included. */
const MAX_NAME_WIRE = 255;
const TYPE_OPT = 41;

export interface Edns {
  /** Requestor's UDP payload size (values below 512 are treated as 512). */
  payloadSize: number;
  version: number;
  dnssecOk: boolean;
}

export interface ParsedQuery {
  id: number;
  /** Header byte 2 and 3 as received. */
  flagsHi: number;
  flagsLo: number;
  /** End (exclusive) of the question name; the name occupies [12, qnameEnd). */
  qnameEnd: number;
  /** End (exclusive) of the whole question (name, type, class). */
  questionEnd: number;
  qtype: number;
  qclass: number;
  /** The question name in wire form with ASCII letters lowercased, as a latin1 string. */
  nameKey: string;
  /** The answer-cache key (cache-key.ts) for this question under the parser's key version. */
  cacheKey: string;
  /** null when the query carried no OPT record. */
  edns: Edns | null;
}

export type ParseResult =
  | { kind: 'drop'; reason: MalformedReason }
  | {
      kind: 'error';
      rcode: number;
      reason?: MalformedReason;
      /** End of a well-formed question to echo, or 0 when there is none. */
      questionEnd: number;
      edns: Edns | null;
    }
  | { kind: 'query'; query: ParsedQuery };

const OPCODE_QUERY = 0;
const RCODE_FORMERR = 1;
const RCODE_NOTIMP = 4;
const RCODE_BADVERS = 16;

/**
 * Scratch space for lowercasing a name, one per parser so the hot path allocates no buffer. The
 * name is written after room for a cache-key header, so the finished key is read out in one go.
 */
export class QueryParser {
  private readonly scratch = Buffer.alloc(KEY_HEADER_SIZE + MAX_NAME_WIRE);

  constructor() {
    writeKeyVersion(this.scratch, 0);
  }

  /** The snapshot version that cache keys of later queries carry (the responder sets it per snapshot). */
  setKeyVersion(version: number): void {
    writeKeyVersion(this.scratch, version);
  }

  parse(msg: Buffer): ParseResult {
    if (msg.length < HEADER_SIZE) return { kind: 'drop', reason: 'short_header' };
    const flagsHi = msg[2]!;
    // QR=1: a response (or a spoofed reflection attempt). Never answer it.
    if (flagsHi & 0x80) return { kind: 'drop', reason: 'response_bit' };

    const qdcount = msg.readUInt16BE(4);
    const ancount = msg.readUInt16BE(6);
    const nscount = msg.readUInt16BE(8);
    const arcount = msg.readUInt16BE(10);

    const question = qdcount === 1 ? this.parseQuestion(msg) : null;
    const questionEnd = question !== null && typeof question === 'object' ? question.questionEnd : 0;

    const opcode = (flagsHi >> 3) & 0x0f;
    if (opcode !== OPCODE_QUERY) return { kind: 'error', rcode: RCODE_NOTIMP, questionEnd, edns: null };
    if (qdcount !== 1) return { kind: 'error', rcode: RCODE_FORMERR, reason: 'qdcount', questionEnd: 0, edns: null };
    if (typeof question === 'string') return { kind: 'error', rcode: RCODE_FORMERR, reason: question, questionEnd: 0, edns: null };
    if (question === null) return { kind: 'error', rcode: RCODE_FORMERR, reason: 'truncated', questionEnd: 0, edns: null };
    if (ancount !== 0 || nscount !== 0) {
      return { kind: 'error', rcode: RCODE_FORMERR, reason: 'unexpected_records', questionEnd, edns: null };
    }

    const additional = parseAdditional(msg, questionEnd, arcount);
    if (typeof additional === 'string') return { kind: 'error', rcode: RCODE_FORMERR, reason: additional, questionEnd, edns: null };
    if (additional !== null && additional.version > 0) {
      return { kind: 'error', rcode: RCODE_BADVERS, questionEnd, edns: additional };
    }
    writeKeyQuestion(this.scratch, additional !== null, question.qtype, question.qclass);
    const cacheKey = this.scratch.toString('latin1', 0, KEY_HEADER_SIZE + question.nameLength);
    return {
      kind: 'query',
      query: {
        id: msg.readUInt16BE(0),
        flagsHi,
        flagsLo: msg[3]!,
        qnameEnd: question.qnameEnd,
        questionEnd,
        qtype: question.qtype,
        qclass: question.qclass,
        nameKey: cacheKey.slice(KEY_HEADER_SIZE),
        cacheKey,
        edns: additional,
      },
    };
  }

  private parseQuestion(
    msg: Buffer,
  ): { qnameEnd: number; questionEnd: number; qtype: number; qclass: number; nameLength: number } | MalformedReason {
    const scratch = this.scratch;
    let offset = HEADER_SIZE;
    let out = KEY_HEADER_SIZE;
    for (;;) {
      if (offset >= msg.length) return 'truncated';
      const len = msg[offset]!;
      if ((len & 0xc0) === 0xc0) return 'name_pointer';
      if (len & 0xc0) return 'label_type';
      if (out - KEY_HEADER_SIZE + len + 1 > MAX_NAME_WIRE) return 'name_too_long';
      scratch[out++] = len;
      offset++;
      if (len === 0) break;
      if (offset + len > msg.length) return 'truncated';
      for (let end = offset + len; offset < end; offset++) {
        const b = msg[offset]!;
        scratch[out++] = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
      }
    }
    const qnameEnd = offset;
    if (qnameEnd + 4 > msg.length) return 'truncated';
    return {
      qnameEnd,
      questionEnd: qnameEnd + 4,
      qtype: msg.readUInt16BE(qnameEnd),
      qclass: msg.readUInt16BE(qnameEnd + 2),
      nameLength: out - KEY_HEADER_SIZE,
    };
  }
}

/**
 * Walks the additional section: at most one OPT (RFC 6891 §6.1.1: more than one is FORMERR), other
 * record types (for example TSIG, which we do not verify) are skipped. Returns the EDNS info, null
 * without OPT, or the reason the section is malformed.
 */
function parseAdditional(msg: Buffer, start: number, arcount: number): Edns | null | MalformedReason {
  let offset = start;
  let edns: Edns | null = null;
  for (let i = 0; i < arcount; i++) {
    const nameEnd = skipName(msg, offset);
    if (nameEnd < 0) return nameEnd === -2 ? 'label_type' : 'truncated';
    if (nameEnd + 10 > msg.length) return 'truncated';
    const type = msg.readUInt16BE(nameEnd);
    const rdlength = msg.readUInt16BE(nameEnd + 8);
    const rdataStart = nameEnd + 10;
    if (rdataStart + rdlength > msg.length) return 'truncated';
    if (type === TYPE_OPT) {
      if (edns !== null) return 'multiple_opt';
      // OPT's owner must be the root name.
      if (nameEnd !== offset + 1) return 'bad_opt';
      if (!optionsWellFormed(msg, rdataStart, rdataStart + rdlength)) return 'bad_opt';
      const ttlHigh = msg.readUInt16BE(nameEnd + 4);
      const flags = msg.readUInt16BE(nameEnd + 6);
      edns = {
        payloadSize: msg.readUInt16BE(nameEnd + 2),
        version: ttlHigh & 0xff,
        dnssecOk: (flags & 0x8000) !== 0,
      };
    }
    offset = rdataStart + rdlength;
  }
  return edns;
}

/** Skips one name that may end in a compression pointer; -1 truncated, -2 bad label type. Bounded by the message. */
function skipName(msg: Buffer, start: number): number {
  let offset = start;
  for (;;) {
    if (offset >= msg.length) return -1;
    const len = msg[offset]!;
    if ((len & 0xc0) === 0xc0) return offset + 2 <= msg.length ? offset + 2 : -1;
    if (len & 0xc0) return -2;
    offset += 1 + len;
    if (len === 0) return offset;
    if (offset - start > MAX_NAME_WIRE) return -2;
  }
}

/** Each EDNS option is {code, length, data} and together they exactly fill RDATA. Unknown codes are fine. */
function optionsWellFormed(msg: Buffer, start: number, end: number): boolean {
  let offset = start;
  while (offset < end) {
    if (offset + 4 > end) return false;
    offset += 4 + msg.readUInt16BE(offset + 2);
  }
  return offset === end;
}

/** Splits a lowercased wire-form name (a parser nameKey) into labels. Labels are never re-split on dots. */
export function labelsOfNameKey(nameKey: string): string[] {
  const labels: string[] = [];
  let offset = 0;
  while (offset < nameKey.length) {
    const len = nameKey.charCodeAt(offset);
    if (len === 0) break;
    labels.push(nameKey.slice(offset + 1, offset + 1 + len));
    offset += 1 + len;
  }
  return labels;
}
