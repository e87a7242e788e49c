/**
 * Wire data under odd and huge input (issue 9): AAAA bytes for every textual IPv6 form, and
 * truncation that keeps what fits for SRV, A and AAAA over UDP and over TCP (65,535 bytes), through
 * the real Responder and answer().
 */
import { describe, expect, it } from 'vitest';
import type { Answer, ResourceRecord } from '../../src/dns/types.ts';
import { buildSnapshot } from '../../src/model/snapshot-build.ts';
import { QueryStats } from '../../src/observability/query-stats.ts';
import { QueryParser } from '../../src/server/query-parser.ts';
import { encodeResponse } from '../../src/server/response-encoder.ts';
import { Responder, TRANSPORT_TCP, TRANSPORT_UDP } from '../../src/server/responder.ts';
import { LOCAL, OPTIONS, ep, imported, port } from '../helpers/dns-fixture.ts';
import { buildQuery, decodeReply, memoryLogger } from '../e2e/server-helpers.ts';

const Z = 'clusterset.local';

function aaaaBytes(address: string): string {
  const name = `six.shop.svc.${Z}`;
  const msg = buildQuery({ name, qtype: 28 });
  const parsed = new QueryParser().parse(msg);
  if (parsed.kind !== 'query') throw new Error('query did not parse');
  const record: ResourceRecord = { name, ttl: 5, type: 'AAAA', address };
  const answer: Answer = { rcode: 0, authoritative: true, answer: [record], authority: [], additional: [], ede: [], rotation: 'none' };
  const encoded = encodeResponse({ nameKey: parsed.query.nameKey, qtype: 28, qclass: 1 }, answer, answer.answer, null);
  const end = encoded.answerEnds[0]!;
  expect(encoded.bytes.readUInt16BE(end - 18)).toBe(16); // RDLENGTH
  return encoded.bytes.subarray(end - 16, end).toString('hex');
}

describe('AAAA records carry the 16 bytes of every textual form', () => {
  it.each([
    ['::ffff:169.254.169.254', '00000000000000000000ffffa9fea9fe'],
    ['2001:db8::1.2.3.4', '20010db8000000000000000001020304'],
    ['2001:DB8::1', '20010db8000000000000000000000001'],
    ['2001:db8:0:0:0:0:0:1', '20010db8000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['::1.2.3.4', '00000000000000000000000001020304'],
    ['fd00:1:2:3:4:5:6:7', 'fd000001000200030004000500060007'],
  ])('%s', (text, hex) => {
    expect(aaaaBytes(text)).toBe(hex);
  });

  it('refuses an address with a zone ID instead of dropping the zone', () => {
    expect(() => aaaaBytes('fe80::1%eth0')).toThrow(/zone/);
  });
});

/** A responder over one headless service of `count` endpoints (IPv4 or IPv6), one address each. */
function responderFor(count: number, family: 'IPv4' | 'IPv6'): Responder {
  const endpoints = Array.from({ length: count }, (_, i) =>
    ep([family === 'IPv4' ? `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` : `fd00::${i.toString(16)}`], true, `pod-${i}`),
  );
  const parts = imported('shop', 'many', 'Headless', [port('http', 80)], { east: { endpoints } });
  const snapshot = buildSnapshot({ synced: true, services: [parts.service], slices: parts.slices }, LOCAL, 1, 0);
  const responder = new Responder({ dns: OPTIONS, stats: new QueryStats(), logger: memoryLogger().logger });
  responder.setSnapshot(snapshot);
  return responder;
}

function ask(responder: Responder, name: string, qtype: number, transport: 0 | 1, payloadSize?: number) {
  const msg = buildQuery(payloadSize === undefined ? { name, qtype } : { name, qtype, edns: { payloadSize } });
  const raw = responder.respond(msg, transport);
  if (raw === null) throw new Error('no reply');
  return decodeReply(raw);
}

describe('truncation keeps what fits', () => {
  const srvName = `_http._tcp.many.shop.svc.${Z}`;
  const name = `many.shop.svc.${Z}`;

  it('UDP: as many SRV records as fit, TC=1', () => {
    const r = ask(responderFor(200, 'IPv4'), srvName, 33, TRANSPORT_UDP, 1232);
    expect([r.tc, r.raw.length <= 1232, r.packet.errors]).toEqual([true, true, []]);
    expect(r.packet.answers.length).toBeGreaterThan(10);
    expect(r.packet.answers.every((a) => a.type === 33 && a.port === 80)).toBe(true);
  });

  it('UDP without EDNS: A and AAAA keep what fits in 512 bytes, TC=1', () => {
    for (const [family, qtype] of [['IPv4', 1], ['IPv6', 28]] as const) {
      const r = ask(responderFor(200, family), name, qtype, TRANSPORT_UDP);
      expect([r.tc, r.raw.length <= 512, r.packet.errors]).toEqual([true, true, []]);
      expect(r.packet.answers.length).toBeGreaterThan(10);
    }
  });

  it('TCP: a headless service of 5,000 targets answers as many SRV records as fit in 65,535 bytes', () => {
    const r = ask(responderFor(5000, 'IPv4'), srvName, 33, TRANSPORT_TCP, 1232);
    expect(r.raw.length).toBeLessThanOrEqual(65535);
    expect(r.packet.errors).toEqual([]);
    expect(r.packet.answers.length).toBeGreaterThan(1000);
    expect(r.tc).toBe(true);
  });

  it('TCP: 5,000 addresses answer the capped set of A records, all in one message', () => {
    const r = ask(responderFor(5000, 'IPv4'), name, 1, TRANSPORT_TCP, 1232);
    expect(r.raw.length).toBeLessThanOrEqual(65535);
    expect(r.packet.answers.length).toBeGreaterThan(3500);
    expect(new Set(r.packet.answers.map((a) => a.address)).size).toBe(r.packet.answers.length);
  });

  it('Additional records only when they fit: a UDP SRV reply never exceeds the limit for them', () => {
    const r = ask(responderFor(3, 'IPv4'), srvName, 33, TRANSPORT_UDP, 1232);
    expect([r.tc, r.packet.answers.length]).toEqual([false, 3]);
    expect(r.packet.additionals.filter((a) => a.type === 1)).toHaveLength(3);
  });
});
