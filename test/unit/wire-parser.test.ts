/**
 * The strict per-query parser: what is answered, what is rejected with which rcode and reason, and
 * what is dropped without a reply.
 */
import { describe, expect, it } from 'vitest';
import { QueryParser, labelsOfNameKey, type ParseResult } from '../../src/server/query-parser.ts';
import { buildQuery, optRecord } from '../e2e/server-helpers.ts';

const parser = new QueryParser();
const base = () => buildQuery({ id: 0xbeef, name: 'Web.Shop.svc.clusterset.local', qtype: 1 });

function withHeader(msg: Buffer, edit: (m: Buffer) => void): Buffer {
  const copy = Buffer.from(msg);
  edit(copy);
  return copy;
}

/** Header (arcount set) + raw question bytes + raw additional bytes. */
function raw(question: number[], additional: Buffer[] = [], counts: { qd?: number; an?: number; ar?: number } = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(7, 0);
  header.writeUInt16BE(counts.qd ?? 1, 4);
  header.writeUInt16BE(counts.an ?? 0, 6);
  header.writeUInt16BE(counts.ar ?? additional.length, 10);
  return Buffer.concat([header, Buffer.from(question), ...additional]);
}
const A_IN = [0, 1, 0, 1];

function summary(result: ParseResult): string {
  if (result.kind === 'drop') return `drop:${result.reason}`;
  if (result.kind === 'error') return `rcode ${result.rcode}${result.reason ? `:${result.reason}` : ''}${result.questionEnd ? ' +question' : ''}`;
  return 'query';
}

describe('query parser outcomes', () => {
  const cases: { what: string; msg: Buffer; want: string }[] = [
    { what: 'a plain A query', msg: base(), want: 'query' },
    { what: 'an empty datagram', msg: Buffer.alloc(0), want: 'drop:short_header' },
    { what: 'eleven bytes', msg: base().subarray(0, 11), want: 'drop:short_header' },
    { what: 'a response (QR=1) is never answered', msg: withHeader(base(), (m) => (m[2]! |= 0x80)), want: 'drop:response_bit' },
    { what: 'opcode NOTIFY', msg: withHeader(base(), (m) => (m[2] = (4 << 3) | 1)), want: 'rcode 4 +question' },
    { what: 'opcode UPDATE with garbage after the header', msg: withHeader(base().subarray(0, 14), (m) => (m[2] = 5 << 3)), want: 'rcode 4' },
    { what: 'QDCOUNT 0', msg: withHeader(base(), (m) => m.writeUInt16BE(0, 4)), want: 'rcode 1:qdcount' },
    { what: 'QDCOUNT 2', msg: withHeader(base(), (m) => m.writeUInt16BE(2, 4)), want: 'rcode 1:qdcount' },
    { what: 'header only', msg: base().subarray(0, 12), want: 'rcode 1:truncated' },
    { what: 'name cut inside a label', msg: base().subarray(0, 16), want: 'rcode 1:truncated' },
    { what: 'type/class cut short', msg: base().subarray(0, base().length - 1), want: 'rcode 1:truncated' },
    { what: 'compression pointer in the question', msg: raw([3, 0x77, 0x77, 0x77, 0xc0, 12, ...A_IN]), want: 'rcode 1:name_pointer' },
    { what: 'pointer loop to itself', msg: raw([0xc0, 12, ...A_IN]), want: 'rcode 1:name_pointer' },
    { what: 'label type 01 (0x40)', msg: raw([0x41, 0x61, 0, ...A_IN]), want: 'rcode 1:label_type' },
    { what: 'label type 10 (0x80)', msg: raw([0x81, 0x61, 0, ...A_IN]), want: 'rcode 1:label_type' },
    { what: 'a 63-byte label is fine', msg: raw([63, ...Array<number>(63).fill(0x61), 0, ...A_IN]), want: 'query' },
    {
      what: 'a 255-byte name is fine',
      msg: raw([...[0, 1, 2].flatMap(() => [63, ...Array<number>(63).fill(0x61)]), 61, ...Array<number>(61).fill(0x62), 0, ...A_IN]),
      want: 'query',
    },
    {
      what: 'a 256-byte name is too long',
      msg: raw([...[0, 1, 2].flatMap(() => [63, ...Array<number>(63).fill(0x61)]), 62, ...Array<number>(62).fill(0x62), 0, ...A_IN]),
      want: 'rcode 1:name_too_long',
    },
    { what: 'records in the answer section', msg: raw([0, ...A_IN], [], { an: 1 }), want: 'rcode 1:unexpected_records +question' },
    { what: 'EDNS0 OPT', msg: raw([0, ...A_IN], [optRecord({ payloadSize: 4096 })]), want: 'query' },
    { what: 'EDNS version 1 is BADVERS', msg: raw([0, ...A_IN], [optRecord({ version: 1 })]), want: 'rcode 16 +question' },
    { what: 'two OPT records', msg: raw([0, ...A_IN], [optRecord({}), optRecord({})]), want: 'rcode 1:multiple_opt +question' },
    {
      what: 'unknown EDNS option is ignored',
      msg: raw([0, ...A_IN], [optRecord({ options: Buffer.from([0xfd, 0xe9, 0, 2, 1, 2]) })]),
      want: 'query',
    },
    {
      what: 'EDNS option longer than RDATA',
      msg: raw([0, ...A_IN], [optRecord({ options: Buffer.from([0, 10, 0, 9, 1, 2]) })]),
      want: 'rcode 1:bad_opt +question',
    },
    { what: 'OPT with a non-root owner', msg: raw([0, ...A_IN], [Buffer.concat([Buffer.from([1, 0x61, 0]), optRecord({}).subarray(1)])]), want: 'rcode 1:bad_opt +question' },
    { what: 'ARCOUNT larger than what is there', msg: raw([0, ...A_IN], [], { ar: 3 }), want: 'rcode 1:truncated +question' },
    { what: 'OPT RDLENGTH past the end', msg: raw([0, ...A_IN], [Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 50])]), want: 'rcode 1:truncated +question' },
    {
      what: 'a non-OPT additional record (e.g. TSIG) is skipped',
      msg: raw([0, ...A_IN], [Buffer.from([0xc0, 12, 0, 250, 0, 255, 0, 0, 0, 0, 0, 2, 9, 9])]),
      want: 'query',
    },
  ];
  it.each(cases)('$what → $want', ({ msg, want }) => {
    expect(summary(parser.parse(msg))).toBe(want);
  });
});

describe('parsed query fields', () => {
  it('lowercases ASCII letters only for the lookup key and keeps the raw bytes positions', () => {
    const msg = base();
    const result = parser.parse(msg);
    expect(result.kind).toBe('query');
    if (result.kind !== 'query') return;
    const q = result.query;
    expect(q.id).toBe(0xbeef);
    expect(q.qtype).toBe(1);
    expect(q.qclass).toBe(1);
    expect(labelsOfNameKey(q.nameKey)).toEqual(['web', 'shop', 'svc', 'clusterset', 'local']);
    expect(msg.subarray(12, q.qnameEnd).toString('latin1')).toContain('Web');
    expect(q.questionEnd).toBe(msg.length);
    expect(q.edns).toBeNull();
  });

  it('reads EDNS payload size, version and the DO bit', () => {
    const result = parser.parse(buildQuery({ name: 'a.b', qtype: 28, edns: { payloadSize: 700, dnssecOk: true } }));
    expect(result.kind === 'query' && result.query.edns).toEqual({ payloadSize: 700, version: 0, dnssecOk: true });
  });

  it('keeps a label containing a dot as one label (never re-split)', () => {
    const result = parser.parse(raw([3, 0x61, 0x2e, 0x42, 3, 0x73, 0x76, 0x63, 0, ...A_IN]));
    expect(result.kind === 'query' && labelsOfNameKey(result.query.nameKey)).toEqual(['a.b', 'svc']);
  });

  it('does not fold non-ASCII bytes (0xC0 stays distinct from 0xE0)', () => {
    const upper = parser.parse(raw([1, 0xc0, 0, ...A_IN]));
    const lower = parser.parse(raw([1, 0xe0, 0, ...A_IN]));
    expect(upper.kind === 'query' && lower.kind === 'query' && upper.query.nameKey !== lower.query.nameKey).toBe(true);
  });

  it('the root name parses to no labels', () => {
    const result = parser.parse(raw([0, ...A_IN]));
    expect(result.kind === 'query' && labelsOfNameKey(result.query.nameKey)).toEqual([]);
  });
});
