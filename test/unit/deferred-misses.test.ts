/**
 * Cache misses over UDP are computed in later event-loop turns of bounded work (issue 9), so one
 * huge first-time answer cannot hold up the cached answers waiting behind it: a miss returns
 * nothing at once and is delivered later, queries for one key share one computation, and slow
 * computations are spread over separate turns.
 */
import { describe, expect, it } from 'vitest';
import { Rcode, type Answer } from '../../src/dns/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { QueryStats } from '../../src/observability/query-stats.ts';
import { Responder, TRANSPORT_UDP, type AnswerFn } from '../../src/server/responder.ts';
import { fixtureSnapshot, OPTIONS } from '../helpers/dns-fixture.ts';
import { buildQuery, decodeReply } from '../e2e/server-helpers.ts';

const logger = createLogger({ level: 'silent' });
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function answerFor(address: string): Answer {
  return { rcode: Rcode.NOERROR, authoritative: true, answer: [{ name: 'x', ttl: 5, type: 'A', address }], authority: [], additional: [], ede: [], rotation: 'none' };
}

/** An answer function that takes `busyMs` of CPU per call and counts calls per name. */
function slowAnswers(busyMs: number) {
  const calls = new Map<string, number>();
  const fn: AnswerFn = (_snapshot, question) => {
    const name = question.labels.join('.');
    calls.set(name, (calls.get(name) ?? 0) + 1);
    const until = performance.now() + busyMs;
    while (performance.now() < until) {
      /* burn CPU like a huge answer would */
    }
    return answerFor(`10.0.0.${question.labels[0]!.length}`);
  };
  return { fn, calls };
}

function setup(busyMs: number) {
  const { fn, calls } = slowAnswers(busyMs);
  const stats = new QueryStats();
  const responder = new Responder({ dns: OPTIONS, stats, logger, answerFn: fn });
  responder.setSnapshot(fixtureSnapshot());
  const delivered: { id: number; port: number | undefined; address: string | undefined }[] = [];
  const deliver = (reply: Buffer, _address: string | undefined, port: number | undefined) => {
    const r = decodeReply(reply);
    delivered.push({ id: r.id, port, address: r.packet.answers[0]!.address });
  };
  const ask = (id: number, name: string, port = 5000 + id) => responder.respond(buildQuery({ id, name: `${name}.shop.svc.clusterset.local`, qtype: 1 }), TRANSPORT_UDP, '127.0.0.1', port, deliver);
  return { responder, stats, calls, delivered, ask };
}

describe('deferred cache misses (UDP)', () => {
  it('a miss is answered in a later turn; the same question is then answered at once from the cache', async () => {
    const { delivered, ask } = setup(0);
    expect(ask(1, 'web')).toBeUndefined();
    expect(delivered).toEqual([]);
    await nextTurn();
    expect(delivered).toEqual([{ id: 1, port: 5001, address: '10.0.0.3' }]);
    const hit = ask(2, 'web');
    expect(hit).toBeInstanceOf(Buffer);
    expect(decodeReply(hit!).id).toBe(2);
  });

  it('queries waiting for one key share one computation and each gets its own reply', async () => {
    const { calls, delivered, ask, stats } = setup(0);
    for (let id = 1; id <= 5; id++) expect(ask(id, 'api')).toBeUndefined();
    await nextTurn();
    expect(calls.get('api.shop.svc.clusterset.local')).toBe(1);
    expect(delivered.map((d) => [d.id, d.port])).toEqual([1, 2, 3, 4, 5].map((id) => [id, 5000 + id]));
    expect([stats.cacheMisses, stats.cacheHits]).toEqual([1, 4]);
  });

  it('slow first-time answers are computed one per turn, not all in the turn they arrived', async () => {
    const { delivered, ask } = setup(10); // each well over the per-turn budget
    for (const [id, name] of [[1, 'a'], [2, 'bb'], [3, 'ccc']] as const) ask(id, name);
    await nextTurn();
    expect(delivered.map((d) => d.id)).toEqual([1]);
    await nextTurn();
    expect(delivered.map((d) => d.id)).toEqual([1, 2]);
    await nextTurn();
    expect(delivered.map((d) => d.id)).toEqual([1, 2, 3]);
  });

  it('without a later delivery (TCP, tests) a miss is answered at once, as before', () => {
    const { responder } = setup(0);
    const reply = responder.respond(buildQuery({ id: 7, name: 'web.shop.svc.clusterset.local', qtype: 1 }), TRANSPORT_UDP);
    expect(decodeReply(reply!).id).toBe(7);
  });
});
