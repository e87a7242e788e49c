/**
 * TCP bounds (issue 9 point 4), through real sockets: a read deadline per message from its first
 * byte (trickling bytes does not extend it), eviction of the slowest message at the cap when no
 * connection is idle, a cap of queries per connection, and reassembly of frames cut at every byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rcode } from '../../src/dns/types.ts';
import { fixtureSnapshot, OPTIONS } from '../helpers/dns-fixture.ts';
import { buildQuery, decodeReply, frame, startServer, TcpClient, tcpQuery, type RunningServer } from './server-helpers.ts';

const WEB = 'web.shop.svc.clusterset.local';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TCP deadlines and caps', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer(OPTIONS, fixtureSnapshot(), {
      tcpIdleTimeoutMs: 10_000,
      tcpReadTimeoutMs: 1_000,
      tcpMaxConnections: 3,
      tcpMaxQueriesPerConnection: 3,
    });
  });
  afterAll(async () => {
    await s.stop();
  });

  it('closes a connection whose message is not complete within the read deadline, however it trickles', async () => {
    const client = await TcpClient.connect(s.port);
    const message = frame(buildQuery({ name: WEB, qtype: 1 }));
    const started = Date.now();
    // One byte every 200 ms: each byte would reset an idle timer, never the read deadline.
    for (let i = 0; i < 12 && !client.closed; i++) {
      client.socket.write(message.subarray(i, i + 1));
      await sleep(200);
    }
    expect(await client.closedWithin(3000)).toBe(true);
    const lifetime = Date.now() - started;
    expect(lifetime).toBeGreaterThanOrEqual(900);
    expect(lifetime).toBeLessThan(2500);
    expect((await s.metrics.render()).body).toMatch(/clusterset_dns_tcp_closed_total\{reason="read_timeout"\} [1-9]/);
  });

  it('at the cap with every connection mid-message, closes the one whose message began first', async () => {
    const busy: TcpClient[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = await TcpClient.connect(s.port);
        c.socket.write(Buffer.from([0])); // half a length prefix: mid-message from now on
        busy.push(c);
        await sleep(50);
      }
      const r = await tcpQuery(s.port, { name: WEB, qtype: 1 });
      expect(r.rcode).toBe(Rcode.NOERROR);
      expect(await busy[0]!.closedWithin(500)).toBe(true);
      expect([busy[1]!.closed, busy[2]!.closed]).toEqual([false, false]);
      expect((await s.metrics.render()).body).toMatch(/clusterset_dns_tcp_closed_total\{reason="evicted"\} [1-9]/);
    } finally {
      for (const c of busy) c.close();
    }
  });

  it('at the cap, a client just accepted (its query not arrived yet) outlasts connections whose messages began before it', async () => {
    // Slow senders that have all just (re)connected: each mid-message for under 250 ms, so none is
    // "slow" yet, and the new client is the only idle connection.
    const busy: TcpClient[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const c = await TcpClient.connect(s.port);
        c.socket.write(Buffer.from([0]));
        busy.push(c);
      }
      await sleep(20);
      const fresh = await TcpClient.connect(s.port);
      const next = await TcpClient.connect(s.port); // the cap is 3: someone goes
      try {
        expect(await busy[0]!.closedWithin(500)).toBe(true); // its message began first
        expect(fresh.closed).toBe(false);
        fresh.send(buildQuery({ name: WEB, qtype: 1 }));
        const replies = await fresh.replies_(1);
        expect(decodeReply(replies[0]!).rcode).toBe(Rcode.NOERROR);
      } finally {
        fresh.close();
        next.close();
      }
    } finally {
      for (const c of busy) c.close();
    }
  });

  it('closes a connection after its query cap, once the answered replies are written', async () => {
    const client = await TcpClient.connect(s.port);
    try {
      const queries = [1, 2, 3, 4, 5].map((id) => frame(buildQuery({ id, name: WEB, qtype: 1 })));
      client.socket.write(Buffer.concat(queries));
      const replies = await client.replies_(5, 2000);
      expect(replies.map((r) => decodeReply(r).id)).toEqual([1, 2, 3]);
      expect(await client.closedWithin(2000)).toBe(true);
    } finally {
      client.close();
    }
  });

  it('reassembles pipelined frames cut at every possible byte boundary', async () => {
    const queries = [1, 2, 3].map((id) => frame(buildQuery({ id, name: WEB, qtype: 1 })));
    const stream = Buffer.concat(queries);
    for (const cut of [1, 2, 3, 7, stream.length - 1]) {
      const client = await TcpClient.connect(s.port);
      try {
        client.socket.write(stream.subarray(0, cut));
        await sleep(20);
        client.socket.write(stream.subarray(cut));
        const replies = (await client.replies_(3)).map(decodeReply);
        expect(replies.map((r) => [r.id, r.rcode])).toEqual([[1, 0], [2, 0], [3, 0]]);
      } finally {
        client.close();
      }
    }
  });

  it('answers a 65,535-byte frame sent in 1,000-byte segments', async () => {
    // A query followed by padding up to the largest frame: FORMERR (trailing data), answered.
    const message = Buffer.alloc(65535);
    buildQuery({ id: 77, name: WEB, qtype: 1 }).copy(message);
    const framed = frame(message);
    const client = await TcpClient.connect(s.port);
    try {
      client.socket.setNoDelay(true);
      for (let i = 0; i < framed.length; i += 1000) {
        client.socket.write(framed.subarray(i, i + 1000));
        if (i % 10_000 === 0) await sleep(1);
      }
      const [reply] = await client.replies_(1, 5000);
      expect(reply).toBeDefined();
      expect(decodeReply(reply!).id).toBe(77);
    } finally {
      client.close();
    }
  });

  it('closes a connection that sends a message one byte per segment', async () => {
    const message = Buffer.alloc(4000);
    buildQuery({ id: 78, name: WEB, qtype: 1 }).copy(message);
    const framed = frame(message);
    const client = await TcpClient.connect(s.port);
    try {
      client.socket.setNoDelay(true);
      for (let i = 0; i < framed.length && !client.closed; i++) {
        client.socket.write(framed.subarray(i, i + 1));
        await new Promise((r) => setImmediate(r));
        if (i % 20 === 0) await sleep(1);
      }
      expect(await client.closedWithin(2000)).toBe(true);
      expect(await client.replies_(1, 10)).toHaveLength(0);
      expect((await s.metrics.render()).body).toMatch(/clusterset_dns_tcp_closed_total\{reason="fragmented"\} [1-9]/);
    } finally {
      client.close();
    }
  });
});
