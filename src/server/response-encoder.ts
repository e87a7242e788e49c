/**
 * Turns an Answer into response bytes with our WireWriter (dns2's encoder costs ~15 µs a record).
 * This runs on a cache miss (once per snapshot version, name, type and EDNS presence), never per
 * query. The result carries the
 * byte layout the per-query path needs: where each section ends (truncation without re-encoding),
 * where the question name sits and which owner names are literal copies of it (0x20 case echo), and
 * where the OPT record is (DO bit).
 *
 * Wire template: ID 0, QR=1, AA per the answer, RD/CD/TC clear, OPT DO clear. The per-query patch
 * fills those in.
 */
import type { Answer, Ede, ResourceRecord } from '../dns/types.ts';
import { ipBytes } from '../model/ip.ts';
import { HEADER_SIZE } from './query-parser.ts';
import { WireWriter } from './wire-writer.ts';

/** The UDP payload size we advertise (DNS flag day 2020 value). */
export const OUR_UDP_PAYLOAD_SIZE = 1232;
/** RFC 8914 asks for short EXTRA-TEXT; it shares the 512..1232 bytes with the answer. */
const EDE_MAX_TEXT = 200;
const TXT_CHUNK = 255;
const CLASS_IN = 1;
const TYPE_CODES = { A: 1, NS: 2, SOA: 6, TXT: 16, AAAA: 28, SRV: 33 } as const;
const TYPE_OPT = 41;
const EDE_OPTION = 15;

export interface QuestionToEncode {
  /** Lowercased wire-form name (QueryParser's nameKey). */
  nameKey: string;
  qtype: number;
  qclass: number;
}

export interface EncodedMessage {
  bytes: Buffer;
  /** End of the question section. */
  questionEnd: number;
  /** Offsets (besides 12) of owner names written out literally that equal the question name. */
  ownerOffsets: number[];
  /** End offset of each answer record, in order. */
  answerEnds: number[];
  authorityEnd: number;
  /** End offset of each non-OPT additional record, in order. */
  additionalEnds: number[];
  /** End of the non-OPT additional records; the OPT (if any) runs from here to the end. */
  additionalEnd: number;
  hasOpt: boolean;
  /**
   * Records were left out because the message passed the byte budget it was encoded for: a prefix
   * of the whole message (plus OPT) that still fits exactly as the whole would to any limit up to
   * that budget (see response-fit.ts), but not to larger ones.
   */
  partial: boolean;
}

/**
 * Address text → wire bytes, shared by the rotation variants of one cached answer so each address
 * is parsed once, not once per variant (parsing is most of an address record's encoding cost).
 */
export type AddressBytes = Map<string, Uint8Array>;

export function encodeResponse(
  question: QuestionToEncode,
  answer: Answer,
  answerRecords: readonly ResourceRecord[],
  opt: { ede: readonly Ede[] } | null,
  addressBytes: AddressBytes = new Map(),
  byteBudget = Infinity,
  /** The bytes go out once and are dropped (not cached): take them from Buffer's shared pool. */
  pooled = false,
): EncodedMessage {
  const writer = new WireWriter();
  try {
    return encodeWith(writer, question, answer, answerRecords, opt, addressBytes, byteBudget, pooled);
  } finally {
    writer.release();
  }
}

function encodeWith(
  writer: WireWriter,
  question: QuestionToEncode,
  answer: Answer,
  answerRecords: readonly ResourceRecord[],
  opt: { ede: readonly Ede[] } | null,
  addressBytes: AddressBytes,
  byteBudget: number,
  pooled: boolean,
): EncodedMessage {
  writer.u16(0); // ID, patched per query
  writer.u8(0x80 | (answer.authoritative ? 0x04 : 0));
  writer.u8(answer.rcode & 0x0f);
  writer.u16(1);
  writer.u16(answerRecords.length);
  writer.u16(answer.authority.length);
  writer.u16(answer.additional.length + (opt ? 1 : 0));

  // The question is written from the received bytes (lowercased), not re-encoded from a dotted
  // string: a label that contains a dot must stay one label.
  writer.latin1(question.nameKey);
  writer.u16(question.qtype);
  writer.u16(question.qclass);
  const questionEnd = writer.offset;
  seedCompression(writer, question.nameKey);

  // With a byte budget (a UDP-sized encoding of a huge answer), writing stops after the first
  // record that ends past it: every record that could fit any limit up to the budget is written,
  // and the one past it tells the fitting rules that the rest would not fit either. Compression
  // pointers only point backwards, so these bytes are exactly the whole message's first bytes.
  let partial = false;
  const starts: number[] = [];
  const encodeSection = (records: readonly ResourceRecord[]): number[] => {
    const ends: number[] = [];
    for (const record of records) {
      if (writer.offset > byteBudget) {
        partial = true;
        break;
      }
      starts.push(writer.offset);
      encodeRecord(record, writer, addressBytes);
      ends.push(writer.offset);
    }
    return ends;
  };

  const answerEnds = encodeSection(answerRecords);
  const authorityCount = encodeSection(answer.authority).length;
  const authorityEnd = writer.offset;
  const additionalEnds = encodeSection(answer.additional);
  const additionalEnd = writer.offset;
  if (opt) encodeOpt(writer, opt.ede);

  const bytes = writer.toBuffer(pooled);
  if (partial) {
    bytes.writeUInt16BE(answerEnds.length, 6);
    bytes.writeUInt16BE(authorityCount, 8);
    bytes.writeUInt16BE(additionalEnds.length + (opt ? 1 : 0), 10);
  }
  return {
    bytes,
    questionEnd,
    ownerOffsets: literalQnameOwners(bytes, question.nameKey, starts),
    answerEnds,
    authorityEnd,
    additionalEnds,
    additionalEnd,
    hasOpt: opt !== null,
    partial,
  };
}

/**
 * Lets owner names compress against the question (so they point at offset 12 and echo its case)
 * by registering each suffix of the question name. Suffixes containing a label with a dot or a
 * non-ASCII byte are skipped: names are keyed by dotted, lowercased text, where such labels would
 * be ambiguous.
 */
function seedCompression(writer: WireWriter, nameKey: string): void {
  // Label start offsets, then suffixes registered from the zone end leftwards, each built from
  // the one to its right (one string per suffix, no joins).
  const starts: number[] = [];
  let offset = 0;
  while (offset < nameKey.length) {
    const len = nameKey.charCodeAt(offset);
    if (len === 0) break;
    starts.push(offset);
    offset += 1 + len;
  }
  let suffix = '';
  for (let i = starts.length - 1; i >= 0; i--) {
    const start = starts[i]!;
    const end = start + 1 + nameKey.charCodeAt(start);
    for (let j = start + 1; j < end; j++) {
      const c = nameKey.charCodeAt(j);
      if (c === 0x2e || c > 0x7f) return;
    }
    const label = nameKey.substring(start + 1, end);
    suffix = suffix === '' ? label : `${label}.${suffix}`;
    writer.registerName(suffix, HEADER_SIZE + start);
  }
}

/** One resource record: owner, type, class, TTL, RDLENGTH, RDATA. */
function encodeRecord(record: ResourceRecord, writer: WireWriter, addressBytes: AddressBytes): void {
  writer.name(record.name);
  writer.u16(TYPE_CODES[record.type]);
  writer.u16(CLASS_IN);
  // RFC 2181 §8: TTLs with the top bit set are historically unsafe; clamp to 2^31 - 1.
  writer.u32(Math.min(record.ttl >>> 0, 0x7fffffff));
  const rdlengthAt = writer.offset;
  writer.u16(0);
  const rdataStart = writer.offset;
  switch (record.type) {
    case 'A':
    case 'AAAA': {
      // From the address's bytes (model/ip.ts), never from text splitting: every textual form
      // (`::ffff:169.254.169.254`, `2001:db8::1.2.3.4`) must come out as its 16 bytes.
      let bytes = addressBytes.get(record.address);
      if (bytes === undefined) {
        bytes = ipBytes(record.address);
        addressBytes.set(record.address, bytes);
      }
      if (bytes.length !== (record.type === 'A' ? 4 : 16)) throw new Error(`${record.type} record with a ${bytes.length}-byte address ${record.address}`);
      writer.bytes(bytes);
      break;
    }
    case 'SRV':
      writer.u16(record.priority);
      writer.u16(record.weight);
      writer.u16(record.port);
      writer.name(record.target);
      break;
    case 'TXT':
      for (const chunk of txtChunks(record.text)) {
        writer.u8(chunk.length);
        writer.bytes(chunk);
      }
      break;
    case 'NS':
      writer.name(record.ns);
      break;
    case 'SOA':
      writer.name(record.mname);
      writer.name(record.rname);
      writer.u32(record.serial);
      writer.u32(record.refresh);
      writer.u32(record.retry);
      writer.u32(record.expire);
      // RFC 2308 §4: the SOA minimum is a TTL too; same 31-bit ceiling.
      writer.u32(Math.min(record.minimum >>> 0, 0x7fffffff));
      break;
  }
  writer.patchU16(rdlengthAt, writer.offset - rdataStart);
}

/** OPT (RFC 6891): root owner, our payload size, extended rcode/version/flags 0, EDE options. */
function encodeOpt(writer: WireWriter, edes: readonly Ede[]): void {
  writer.u8(0);
  writer.u16(TYPE_OPT);
  writer.u16(OUR_UDP_PAYLOAD_SIZE);
  writer.u32(0);
  const rdlengthAt = writer.offset;
  writer.u16(0);
  const rdataStart = writer.offset;
  for (const ede of edes) {
    const text = Buffer.from(ede.text.slice(0, EDE_MAX_TEXT), 'utf8');
    writer.u16(EDE_OPTION);
    writer.u16(2 + text.length);
    writer.u16(ede.code);
    writer.bytes(text);
  }
  writer.patchU16(rdlengthAt, writer.offset - rdataStart);
}

/** A TXT character-string holds at most 255 bytes; longer text is split into several. */
function txtChunks(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += TXT_CHUNK) chunks.push(bytes.subarray(i, i + TXT_CHUNK));
  return chunks.length > 0 ? chunks : [Buffer.alloc(0)];
}

/** Finds owner names written literally (not as a pointer) that are the question name. */
function literalQnameOwners(bytes: Buffer, nameKey: string, starts: readonly number[]): number[] {
  const offsets: number[] = [];
  const n = nameKey.length;
  for (const start of starts) {
    if (start + n > bytes.length) continue;
    let same = true;
    for (let i = 0; i < n; i++) {
      if (bytes[start + i] !== nameKey.charCodeAt(i)) {
        same = false;
        break;
      }
    }
    if (same) offsets.push(start);
  }
  return offsets;
}
