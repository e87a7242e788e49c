/**
 * Cache misses over UDP are computed in event-loop turns of bounded work (issue 9), so one huge
 * first-time answer cannot hold up the cached answers waiting behind it: a miss within the turn's
 * budget is answered at once, beyond it delivered in a later turn; queries for one key share one
 * computation, and slow computations are spread over separate turns.
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
  it('a cheap miss is answered at once; after a turn spent its budget, the next miss waits for a later turn', async () => {
    const { delivered, ask } = setup(0);
    const cheap = ask(1, 'web');
    expect(cheap).toBeInstanceOf(Buffer);
    expect(decodeReply(cheap!).id).toBe(1);
    const slow = setup(10); // each computation well over the per-turn budget
    expect(slow.ask(1, 'a')).toBeInstanceOf(Buffer); // the first fits the turn's budget
    expect(slow.ask(2, 'bb')).toBeUndefined(); // the turn's budget is spent: later
    expect(slow.delivered).toEqual([]);
    await nextTurn();
    expect(slow.delivered).toEqual([{ id: 2, port: 5002, address: '10.0.0.2' }]);
    expect(delivered).toEqual([]);
  });

  it('queries waiting for one key share one computation and each gets its own reply', async () => {
    const { calls, delivered, ask, stats } = setup(10);
    ask(1, 'a'); // spends the turn's budget
    for (let id = 2; id <= 6; id++) expect(ask(id, 'api')).toBeUndefined();
    await nextTurn();
    expect(calls.get('api.shop.svc.clusterset.local')).toBe(1);
    expect(delivered.map((d) => [d.id, d.port])).toEqual([2, 3, 4, 5, 6].map((id) => [id, 5000 + id]));
    expect([stats.cacheMisses, stats.cacheHits]).toEqual([2, 4]);
  });

  it('slow first-time answers are computed one per turn, not all in the turn they arrived', async () => {
    const { delivered, ask } = setup(10);
    ask(1, 'a');
    for (const [id, name] of [[2, 'bb'], [3, 'ccc'], [4, 'dddd']] as const) expect(ask(id, name)).toBeUndefined();
    await nextTurn();
    expect(delivered.map((d) => d.id)).toEqual([2]);
    await nextTurn();
    expect(delivered.map((d) => d.id)).toEqual([2, 3]);
    await nextTurn();
    expect(delivered.map((d) => d.id)).toEqual([2, 3, 4]);
  });

  it('without a later delivery (TCP, tests) a miss is answered at once, as before', () => {
    const { responder } = setup(10);
    for (const id of [7, 8]) {
      const reply = responder.respond(buildQuery({ id, name: `n${id}.shop.svc.clusterset.local`, qtype: 1 }), TRANSPORT_UDP);
      expect(decodeReply(reply!).id).toBe(id);
    }
  });
});
