/**
 * Turns an Answer into response bytes with dns2's name and RDATA codecs. This runs on a cache miss
 * (once per snapshot version, name, type and EDNS presence), never per query. The result carries the
 * byte layout the per-query path needs: where each section ends (truncation without re-encoding),
 * where the question name sits and which owner names are literal copies of it (0x20 case echo), and
 * where the OPT record is (DO bit).
 *
 * Wire template: ID 0, QR=1, AA per the answer, RD/CD/TC clear, OPT DO clear. The per-query patch
 * fills those in.
 */
import dns2 from 'dns2';
import type { Resource as Dns2Resource, Writer as Dns2Writer } from 'dns2';
import type { Answer, Ede, ResourceRecord } from '../dns/types.ts';
import { HEADER_SIZE, labelsOfNameKey } from './query-parser.ts';

const { Packet } = dns2;

/** The UDP payload size we advertise (DNS flag day 2020 value). */
export const OUR_UDP_PAYLOAD_SIZE = 1232;
/** RFC 8914 asks for short EXTRA-TEXT; it shares the 512..1232 bytes with the answer. */
const EDE_MAX_TEXT = 200;
const TXT_CHUNK = 255;

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
  /** True when every answer record is A or AAAA (a truncated reply may then carry a prefix of them). */
  answersAreAddresses: boolean;
  authorityEnd: number;
  /** End of the non-OPT additional records; the OPT (if any) runs from here to the end. */
  additionalEnd: number;
  hasOpt: boolean;
}

/** dns2's Writer, plus the compression table its name encoder uses when present. */
type CompressingWriter = Dns2Writer & { names?: Map<string, number> };

export function encodeResponse(
  question: QuestionToEncode,
  answer: Answer,
  answerRecords: readonly ResourceRecord[],
  opt: { ede: readonly Ede[] } | null,
): EncodedMessage {
  const writer: CompressingWriter = new Packet.Writer();
  writer.names = new Map();

  const additionalCount = answer.additional.length + (opt ? 1 : 0);
  const header = Buffer.alloc(HEADER_SIZE);
  header[2] = 0x80 | (answer.authoritative ? 0x04 : 0);
  header[3] = answer.rcode & 0x0f;
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answerRecords.length, 6);
  header.writeUInt16BE(answer.authority.length, 8);
  header.writeUInt16BE(additionalCount, 10);
  writeBytes(writer, header);

  // The question is written from the received bytes (lowercased), not re-encoded from a dotted
  // string: a label that contains a dot must stay one label.
  writeBytes(writer, Buffer.from(question.nameKey, 'latin1'));
  writer.write(question.qtype, 16);
  writer.write(question.qclass, 16);
  const questionEnd = writer.byteLength();
  seedCompression(writer, question.nameKey);

  const starts: { start: number; owner: string }[] = [];
  const encodeSection = (records: readonly ResourceRecord[]): number[] =>
    records.map((record) => {
      starts.push({ start: writer.byteLength(), owner: record.name });
      encodeRecord(toDns2(record), writer);
      return writer.byteLength();
    });

  const answerEnds = encodeSection(answerRecords);
  encodeSection(answer.authority);
  const authorityEnd = writer.byteLength();
  encodeSection(answer.additional);
  const additionalEnd = writer.byteLength();
  if (opt) {
    const options = opt.ede.map((ede) => Packet.Resource.EDNS.EDE(ede.code, ede.text.slice(0, EDE_MAX_TEXT)));
    encodeRecord(Packet.Resource.EDNS(options, { udpPayloadSize: OUR_UDP_PAYLOAD_SIZE }), writer);
  }

  const bytes = writer.toBuffer();
  return {
    bytes,
    questionEnd,
    ownerOffsets: literalQnameOwners(bytes, question.nameKey, starts),
    answerEnds,
    answersAreAddresses: answerRecords.every((r) => r.type === 'A' || r.type === 'AAAA'),
    authorityEnd,
    additionalEnd,
    hasOpt: opt !== null,
  };
}

function writeBytes(writer: Dns2Writer, bytes: Buffer): void {
  for (const byte of bytes) writer.write(byte, 8);
}

/**
 * Lets owner names compress against the question (so they point at offset 12 and echo its case)
 * by registering each suffix of the question name in dns2's compression table. Suffixes containing
 * a label with a dot or a non-ASCII byte are skipped: dns2 keys by dotted, lowercased text, where
 * such labels would be ambiguous.
 */
function seedCompression(writer: CompressingWriter, nameKey: string): void {
  const labels = labelsOfNameKey(nameKey);
  let offset = HEADER_SIZE;
  const offsets = labels.map((label) => {
    const at = offset;
    offset += label.length + 1;
    return at;
  });
  for (let i = labels.length - 1; i >= 0; i--) {
    const label = labels[i]!;
    // eslint-disable-next-line no-control-regex
    if (label.includes('.') || /[^\x00-\x7f]/.test(label)) break;
    writer.names!.set(labels.slice(i).join('.'), offsets[i]!);
  }
}

/**
 * One resource record: owner, type, class, TTL, RDLENGTH, then dns2's RDATA codec. This mirrors
 * dns2's Packet.Resource.encode except that it does not materialise the whole message after each
 * record (which makes dns2's encoder quadratic in the number of records).
 */
function encodeRecord(resource: Dns2Resource, writer: Dns2Writer): void {
  Packet.Name.encode(resource.name ?? '', writer);
  writer.write(resource.type, 16);
  writer.write(resource.class, 16);
  writer.write(Math.min(resource.ttl >>> 0, 0x7fffffff), 32);
  const rdlengthBit = writer.bitLength();
  writer.write(0, 16);
  const rdataStart = writer.bitLength();
  const codecName = Packet.TYPE_NAME[resource.type];
  const codec = codecName ? (Packet.Resource as unknown as Record<string, { encode?: RdataEncoder }>)[codecName] : undefined;
  if (!codec?.encode) throw new Error(`no RDATA encoder for type ${resource.type}`);
  codec.encode(resource, writer);
  writer.patch(rdlengthBit, (writer.bitLength() - rdataStart) / 8, 16);
}
type RdataEncoder = (record: Dns2Resource, writer: Dns2Writer) => void;

function toDns2(record: ResourceRecord): Dns2Resource {
  const base = { name: record.name, class: Packet.CLASS.IN, ttl: record.ttl };
  switch (record.type) {
    case 'A':
      return { ...base, type: Packet.TYPE.A, address: record.address } as Dns2Resource;
    case 'AAAA':
      return { ...base, type: Packet.TYPE.AAAA, address: record.address } as Dns2Resource;
    case 'SRV':
      return {
        ...base,
        type: Packet.TYPE.SRV,
        priority: record.priority,
        weight: record.weight,
        port: record.port,
        target: record.target,
      } as Dns2Resource;
    case 'TXT':
      // dns2's TXT encoder takes an array of Buffers too (its typings only say strings).
      return { ...base, type: Packet.TYPE.TXT, data: txtChunks(record.text) } as unknown as Dns2Resource;
    case 'NS':
      return { ...base, type: Packet.TYPE.NS, ns: record.ns } as Dns2Resource;
    case 'SOA':
      return {
        ...base,
        type: Packet.TYPE.SOA,
        primary: record.mname,
        admin: record.rname,
        serial: record.serial,
        refresh: record.refresh,
        retry: record.retry,
        expiration: record.expire,
        minimum: record.minimum,
      } as Dns2Resource;
  }
}

/** A TXT character-string holds at most 255 bytes; dns2 would silently corrupt a longer one. */
function txtChunks(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += TXT_CHUNK) chunks.push(bytes.subarray(i, i + TXT_CHUNK));
  return chunks.length > 0 ? chunks : [Buffer.alloc(0)];
}

/** Finds owner names written literally (not as a pointer) that are the question name. */
function literalQnameOwners(bytes: Buffer, nameKey: string, starts: readonly { start: number; owner: string }[]): number[] {
  const offsets: number[] = [];
  const wire = Buffer.from(nameKey, 'latin1');
  for (const { start } of starts) {
    if (start + wire.length <= bytes.length && bytes.subarray(start, start + wire.length).equals(wire)) offsets.push(start);
  }
  return offsets;
}
