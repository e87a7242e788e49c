/**
 * Replies that carry no records (FORMERR, NOTIMP, BADVERS, SERVFAIL), built directly from the
 * received bytes: a malformed question cannot go through any encoder, and echoing exactly what was
 * received (ID, opcode, RD, CD, the question when it parsed) is what these replies are for.
 */
import type { Ede } from '../dns/types.ts';
import { HEADER_SIZE, type Edns } from './query-parser.ts';
import { OUR_UDP_PAYLOAD_SIZE } from './response-encoder.ts';

const TYPE_OPT = 41;
const EDE_OPTION = 15;

export interface ErrorReplyOptions {
  rcode: number;
  /** End of a well-formed question to echo; 0 for none. */
  questionEnd: number;
  /** The query's EDNS (an OPT is echoed when present, and always for extended rcodes). */
  edns: Edns | null;
  authoritative?: boolean;
  ede?: Ede | null;
}

export function buildErrorReply(query: Buffer, options: ErrorReplyOptions): Buffer {
  const { rcode, questionEnd, edns } = options;
  const withOpt = edns !== null || rcode > 0x0f;
  const edeText = edns !== null && options.ede ? Buffer.from(options.ede.text.slice(0, 200), 'utf8') : null;
  const optRdataLength = edeText ? 4 + 2 + edeText.length : 0;
  const questionLength = questionEnd > HEADER_SIZE ? questionEnd - HEADER_SIZE : 0;
  const length = HEADER_SIZE + questionLength + (withOpt ? 11 + optRdataLength : 0);
  const out = Buffer.alloc(length);

  out[0] = query[0]!;
  out[1] = query[1]!;
  // QR, the opcode and RD echoed; AA only when asked; TC, RA, Z, AD clear; CD echoed.
  out[2] = 0x80 | (query[2]! & 0x78) | (options.authoritative ? 0x04 : 0) | (query[2]! & 0x01);
  out[3] = (query[3]! & 0x10) | (rcode & 0x0f);
  out.writeUInt16BE(questionLength > 0 ? 1 : 0, 4);
  out.writeUInt16BE(withOpt ? 1 : 0, 10);
  if (questionLength > 0) query.copy(out, HEADER_SIZE, HEADER_SIZE, questionEnd);

  if (withOpt) {
    let offset = HEADER_SIZE + questionLength;
    out[offset++] = 0; // root owner name
    out.writeUInt16BE(TYPE_OPT, offset);
    out.writeUInt16BE(OUR_UDP_PAYLOAD_SIZE, offset + 2);
    out[offset + 4] = (rcode >>> 4) & 0xff; // extended rcode (BADVERS = 16 → 1)
    out[offset + 5] = 0; // our EDNS version
    out[offset + 6] = edns?.dnssecOk ? 0x80 : 0;
    out.writeUInt16BE(optRdataLength, offset + 8);
    offset += 10;
    if (edeText && options.ede) {
      out.writeUInt16BE(EDE_OPTION, offset);
      out.writeUInt16BE(2 + edeText.length, offset + 2);
      out.writeUInt16BE(options.ede.code, offset + 4);
      edeText.copy(out, offset + 6);
    }
  }
  return out;
}
