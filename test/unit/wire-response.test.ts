/**
 * Reply bytes: the per-query patch (ID, flags, 0x20 case echo, DO), the size rules (drop
 * Additional, then TC with whole address records), error replies, rotation and SERVFAIL on a
 * failing answer function. Decoded with dns2 the way a client would.
 */
import { describe, expect, it } from 'vitest';
import { Rcode, type Answer, type ResourceRecord } from '../../src/dns/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { QueryStats } from '../../src/observability/query-stats.ts';
import { buildErrorReply } from '../../src/server/error-response.ts';
import { QueryParser, type ParsedQuery } from '../../src/server/query-parser.ts';
import { encodeResponse } from '../../src/server/response-encoder.ts';
import { fitResponse, patchResponse, udpLimit } from '../../src/server/response-fit.ts';
import { Responder, TRANSPORT_TCP, TRANSPORT_UDP, type AnswerFn } from '../../src/server/responder.ts';
import { fixtureSnapshot, OPTIONS } from '../helpers/dns-fixture.ts';
import { buildQuery, decodeReply, memoryLogger, type QuerySpec } from '../e2e/server-helpers.ts';

const ZONE = 'clusterset.local';
const soa: ResourceRecord = { name: ZONE, ttl: 5, type: 'SOA', mname: `ns1.${ZONE}`, rname: `hostmaster.${ZONE}`, serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 };

function aRecords(name: string, n: number): ResourceRecord[] {
  return Array.from({ length: n }, (_, i) => ({ name, ttl: 5, type: 'A' as const, address: `10.0.${i >> 8}.${i & 255}` }));
}

function answerOf(partial: Partial<Answer>): Answer {
  return { rcode: Rcode.NOERROR, authoritative: true, answer: [], authority: [], additional: [], ede: [], rotation: 'none', ...partial };
}

function parsed(spec: QuerySpec): { msg: Buffer; query: ParsedQuery } {
  const msg = buildQuery(spec);
  const result = new QueryParser().parse(msg);
  if (result.kind !== 'query') throw new Error(`not a query: ${result.kind}`);
  return { msg, query: result.query };
}

/** Encode, fit and patch the way the responder does, for a hand-made Answer. */
function reply(spec: QuerySpec, answer: Answer, limit: number) {
  const { msg, query } = parsed(spec);
  const encoded = encodeResponse({ nameKey: query.nameKey, qtype: query.qtype, qclass: query.qclass }, answer, answer.answer, query.edns ? { ede: answer.ede } : null);
  const fitted = fitResponse(encoded, limit);
  return decodeReply(patchResponse(fitted, msg, query.id, query.flagsHi, query.flagsLo, query.qnameEnd, query.edns?.dnssecOk ?? false));
}

describe('per-query patch', () => {
  const name = 'web.shop.svc.clusterset.local';
  const answer = answerOf({ answer: aRecords(name, 2), authority: [soa] });

  it('copies ID, RD and CD, sets QR and AA, never RA', () => {
    const r = reply({ id: 0xabcd, name, qtype: 1, rd: true, cd: true }, answer, 512);
    expect([r.id, r.qr, r.aa, r.rd, r.cd, r.ra, r.tc]).toEqual([0xabcd, true, true, true, true, false, false]);
    const r2 = reply({ id: 7, name, qtype: 1, rd: false }, answer, 512);
    expect([r2.id, r2.rd, r2.cd]).toEqual([7, false, false]);
  });

  it('echoes the question case in the question and in owner names equal to it (0x20)', () => {
    const mixed = 'wEb.ShOp.SvC.clusterSET.local';
    const r = reply({ name: mixed, qtype: 1 }, answer, 512);
    expect(r.packet.questions[0]!.name).toBe(mixed);
    expect(r.packet.answers.map((a) => a.name)).toEqual([mixed, mixed]);
    expect(r.packet.answers.map((a) => a.address)).toEqual(['10.0.0.0', '10.0.0.1']);
  });

  it('echoes OPT only when the query had one, with our payload size and the DO bit copied', () => {
    expect(reply({ name, qtype: 1 }, answer, 512).packet.additionals).toHaveLength(0);
    const withDo = reply({ name, qtype: 1, edns: { payloadSize: 4096, dnssecOk: true } }, answer, 1232).packet.additionals;
    expect(withDo.map((a) => [a.type, a.class, a.doFlag])).toEqual([[41, 1232, true]]);
    const withoutDo = reply({ name, qtype: 1, edns: { payloadSize: 4096 } }, answer, 1232).packet.additionals;
    expect(withoutDo.map((a) => a.doFlag)).toEqual([false]);
  });

  it('carries Extended DNS Errors in the OPT record', () => {
    const r = reply({ name, qtype: 1, edns: {} }, answerOf({ rcode: Rcode.NXDOMAIN, authority: [soa], ede: [{ code: 14, text: 'not synced yet' }] }), 1232);
    const opt = r.packet.additionals[0]!;
    expect(opt.rdata).toEqual([{ ednsCode: 15, infoCode: 14, extraText: 'not synced yet' }]);
  });
});

describe('size rules', () => {
  const name = 'big.shop.svc.clusterset.local';

  it('UDP limit is 512 without EDNS and the client size clamped to 512..1232 with it', () => {
    expect([udpLimit(null, 1232), udpLimit(100, 1232), udpLimit(800, 1232), udpLimit(4096, 1232)]).toEqual([512, 512, 800, 1232]);
  });

  it('a reply that fits is sent whole', () => {
    const r = reply({ name, qtype: 1 }, answerOf({ answer: aRecords(name, 10) }), 512);
    expect([r.tc, r.packet.answers.length]).toEqual([false, 10]);
  });

  it('trims the Additional section first to the records that fit, without TC, keeping OPT', () => {
    const srvName = `_http._tcp.${name}`;
    const srv: ResourceRecord[] = [{ name: srvName, ttl: 5, type: 'SRV', priority: 0, weight: 1, port: 80, target: name }];
    const answer = answerOf({ answer: srv, additional: aRecords(name, 60) });
    const r = reply({ name: srvName, qtype: 33, edns: { payloadSize: 512 } }, answer, 512);
    expect([r.tc, r.packet.answers.length, r.raw.length <= 512]).toEqual([false, 1, true]);
    const types = r.packet.additionals.map((a) => a.type);
    // Some A records fit beside the SRV (a whole prefix of them), then the OPT.
    expect(types.at(-1)).toBe(41);
    expect(types.length).toBeGreaterThan(10);
    expect(types.slice(0, -1).every((t) => t === 1)).toBe(true);
    expect(r.packet.additionals.slice(0, 3).map((a) => a.address)).toEqual(['10.0.0.0', '10.0.0.1', '10.0.0.2']);
  });

  it('sets TC with as many whole address records as fit', () => {
    const r = reply({ name, qtype: 1 }, answerOf({ answer: aRecords(name, 100), authority: [] }), 512);
    expect(r.tc).toBe(true);
    expect(r.raw.length).toBeLessThanOrEqual(512);
    expect(r.packet.errors).toEqual([]);
    // 12 header + 35 question + n * 16 (compressed owner) <= 512
    expect(r.packet.answers).toHaveLength(Math.floor((512 - 12 - 35) / 16));
    expect(r.packet.answers.every((a, i) => a.address === `10.0.0.${i}`)).toBe(true);
  });

  it('sets TC with as many whole SRV records as fit', () => {
    const srvName = `_http._tcp.${name}`;
    const srv: ResourceRecord[] = Array.from({ length: 80 }, (_, i) => ({
      name: srvName, ttl: 5, type: 'SRV' as const, priority: 0, weight: 1, port: 80, target: `host-${i}.east.${name}`,
    }));
    const r = reply({ name: srvName, qtype: 33, edns: { payloadSize: 1232 } }, answerOf({ answer: srv }), 1232);
    expect([r.tc, r.raw.length <= 1232, r.packet.errors, r.packet.additionals.length]).toEqual([true, true, [], 1]);
    expect(r.packet.answers.length).toBeGreaterThan(20);
    expect(r.packet.answers.length).toBeLessThan(80);
    expect(r.packet.answers.map((a) => a.target)).toEqual(srv.slice(0, r.packet.answers.length).map((x) => (x.type === 'SRV' ? x.target : '')));
  });

  it('a UDP-sized encoding of a huge answer fits every UDP limit byte for byte as the whole message does', () => {
    const srvName = `_http._tcp.${name}`;
    const srv = (n: number): ResourceRecord[] =>
      Array.from({ length: n }, (_, i) => ({ name: srvName, ttl: 5, type: 'SRV' as const, priority: 0, weight: 1, port: 80, target: `host-${i}.east.${name}` }));
    const answers: [string, Answer][] = [
      ['A records', answerOf({ answer: aRecords(name, 4000) })],
      ['SRV with additional', answerOf({ answer: srv(1000), additional: aRecords(name, 4000) })],
      ['one SRV, many additional', answerOf({ answer: srv(1), additional: aRecords(name, 600) })],
      ['NODATA with SOA', answerOf({ authority: [soa] })],
    ];
    for (const [what, answer] of answers) {
      for (const edns of [null, { ede: [{ code: 0, text: 'capped' }] }]) {
        const question = { nameKey: parsed({ name: srvName, qtype: 33 }).query.nameKey, qtype: 33, qclass: 1 };
        const whole = encodeResponse(question, answer, answer.answer, edns);
        const small = encodeResponse(question, answer, answer.answer, edns, new Map(), 1232);
        expect(small.bytes.length, what).toBeLessThanOrEqual(Math.max(whole.bytes.length, 1232 + 512));
        expect(small.partial, what).toBe(whole.bytes.length > 1232 + 200);
        for (const limit of [512, 800, 1232]) {
          expect(fitResponse(small, limit).bytes.equals(fitResponse(whole, limit).bytes), `${what}, limit ${limit}, EDNS ${edns !== null}`).toBe(true);
        }
      }
    }
  });

  it('over TCP the same answer is complete', () => {
    const r = reply({ name, qtype: 1 }, answerOf({ answer: aRecords(name, 1000) }), 65535);
    expect([r.tc, r.packet.answers.length]).toEqual([false, 1000]);
  });
});

describe('error replies', () => {
  it('FORMERR for a malformed question echoes the header but no question', () => {
    const msg = buildQuery({ id: 99, name: 'a.b', qtype: 1 }).subarray(0, 15);
    const r = decodeReply(buildErrorReply(msg, { rcode: Rcode.FORMERR, questionEnd: 0, edns: null }));
    expect([r.id, r.rcode, r.rd, r.aa, r.packet.questions.length]).toEqual([99, 1, true, false, 0]);
  });

  it('BADVERS carries extended rcode 16 in an OPT and echoes the question', () => {
    const { replyBytes } = (() => {
      const msg = buildQuery({ name: 'Web.clusterset.local', qtype: 1, edns: { version: 1 } });
      const result = new QueryParser().parse(msg);
      if (result.kind !== 'error') throw new Error('expected an error result');
      return { replyBytes: buildErrorReply(msg, result) };
    })();
    const r = decodeReply(replyBytes);
    expect(r.rcode).toBe(16);
    expect(r.packet.questions[0]!.name).toBe('Web.clusterset.local');
    expect(r.packet.additionals.map((a) => a.type)).toEqual([41]);
  });
});

describe('responder', () => {
  const stats = () => new QueryStats();
  const logger = createLogger({ level: 'silent' });

  it('rotates answers per query and picks one record per query for pick-one', () => {
    const name = 'web.shop.svc.clusterset.local';
    const records = aRecords(name, 3);
    for (const rotation of ['rotate', 'pick-one'] as const) {
      const fake: AnswerFn = () => answerOf({ answer: records, rotation });
      const responder = new Responder({ dns: OPTIONS, stats: stats(), logger, answerFn: fake });
      responder.setSnapshot(fixtureSnapshot());
      const seen = [0, 1, 2, 3].map(() => {
        const out = responder.respond(buildQuery({ name, qtype: 1 }), TRANSPORT_UDP);
        return decodeReply(out!).packet.answers.map((a) => a.address).join(',');
      });
      if (rotation === 'rotate') {
        expect(seen).toEqual(['10.0.0.0,10.0.0.1,10.0.0.2', '10.0.0.1,10.0.0.2,10.0.0.0', '10.0.0.2,10.0.0.0,10.0.0.1', '10.0.0.0,10.0.0.1,10.0.0.2']);
      } else {
        expect(seen).toEqual(['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.0']);
      }
    }
  });

  it('a throwing answer function gives SERVFAIL, is logged and counted, and the next query works', () => {
    const { logger: captured, records } = memoryLogger();
    let fail = true;
    const flaky: AnswerFn = (...args) => {
      if (fail) throw new Error('boom');
      return answerOf({ answer: aRecords(args[1].labels.join('.'), 1) });
    };
    const s = stats();
    const responder = new Responder({ dns: OPTIONS, stats: s, logger: captured, answerFn: flaky });
    responder.setSnapshot(fixtureSnapshot());
    const first = decodeReply(responder.respond(buildQuery({ name: 'x.clusterset.local', qtype: 1 }), TRANSPORT_UDP)!);
    expect(first.rcode).toBe(Rcode.SERVFAIL);
    expect(s.answerErrors).toBe(1);
    expect(records.some((r) => r.level === 50 && String(r.msg).includes('SERVFAIL'))).toBe(true);
    fail = false;
    const second = decodeReply(responder.respond(buildQuery({ name: 'x.clusterset.local', qtype: 1 }), TRANSPORT_TCP)!);
    expect([second.rcode, second.packet.answers.length]).toEqual([Rcode.NOERROR, 1]);
  });

  it('answers SERVFAIL (never NXDOMAIN) before any snapshot, with EDE when asked', () => {
    const responder = new Responder({ dns: OPTIONS, stats: stats(), logger });
    const r = decodeReply(responder.respond(buildQuery({ name: 'web.shop.svc.clusterset.local', qtype: 1, edns: {} }), TRANSPORT_UDP)!);
    expect(r.rcode).toBe(Rcode.SERVFAIL);
    expect(r.packet.additionals[0]!.rdata).toEqual([expect.objectContaining({ ednsCode: 15, infoCode: 14 })]);
  });

  it('drops responses and runt datagrams without a reply, counting why', () => {
    const s = stats();
    const responder = new Responder({ dns: OPTIONS, stats: s, logger });
    const response = buildQuery({ name: 'a.clusterset.local', qtype: 1 });
    response[2]! |= 0x80;
    expect(responder.respond(response, TRANSPORT_UDP)).toBeNull();
    expect(responder.respond(Buffer.alloc(5), TRANSPORT_UDP)).toBeNull();
    expect(Array.from(s.malformed.subarray(0, 2))).toEqual([1, 1]);
  });
});
