/**
 * The DNS server through real UDP and TCP sockets on 127.0.0.1 (workers: 0): answers, 0x20 echo,
 * TC over UDP then the full answer over TCP, pipelining, idle timeout, connection cap, bad frames,
 * no reflection of responses, bind errors and metrics.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rcode } from '../../src/dns/types.ts';
import { BIG_HEADLESS_SIZE, fixtureSnapshot, fixtureState, OPTIONS, STALE_WEST } from '../helpers/dns-fixture.ts';
import { buildQuery, decodeReply, frame, startServer, TcpClient, tcpQuery, udpExchange, udpQuery, type RunningServer } from './server-helpers.ts';

const WEB = 'web.shop.svc.clusterset.local';
const BIG = 'big.shop.svc.clusterset.local';

describe('DNS over UDP and TCP', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer(OPTIONS, fixtureSnapshot(), { tcpIdleTimeoutMs: 1500, tcpMaxConnections: 3 });
  });
  afterAll(async () => {
    await s.stop();
  });

  it.each([
    { transport: 'udp', ask: udpQuery },
    { transport: 'tcp', ask: tcpQuery },
  ])('answers A over $transport, authoritative, echoing the question case', async ({ ask }) => {
    const r = await ask(s.port, { id: 4242, name: 'wEB.Shop.svc.clusterset.LOCAL', qtype: 1 });
    expect([r.id, r.rcode, r.aa, r.ra]).toEqual([4242, Rcode.NOERROR, true, false]);
    expect(r.packet.questions[0]!.name).toBe('wEB.Shop.svc.clusterset.LOCAL');
    expect(r.packet.answers.map((a) => [a.name, a.address])).toEqual([['wEB.Shop.svc.clusterset.LOCAL', '10.1.0.10']]);
  });

  it('NXDOMAIN carries the SOA in authority', async () => {
    const r = await udpQuery(s.port, { name: 'nope.shop.svc.clusterset.local', qtype: 1 });
    expect(r.rcode).toBe(Rcode.NXDOMAIN);
    expect(r.packet.authorities.map((a) => a.type)).toEqual([6]);
  });

  it('a headless answer too big for UDP sets TC with a subset; TCP returns all of it', async () => {
    const udp = await udpQuery(s.port, { name: BIG, qtype: 1, edns: { payloadSize: 1232 } });
    expect(udp.tc).toBe(true);
    expect(udp.raw.length).toBeLessThanOrEqual(1232);
    expect(udp.packet.answers.length).toBeGreaterThan(0);
    expect(udp.packet.answers.length).toBeLessThan(BIG_HEADLESS_SIZE);
    const tcp = await tcpQuery(s.port, { name: BIG, qtype: 1, edns: { payloadSize: 1232 } });
    expect([tcp.tc, tcp.packet.answers.length]).toEqual([false, BIG_HEADLESS_SIZE]);
  });

  it('honours the client EDNS size and caps at 512 without EDNS', async () => {
    const plain = await udpQuery(s.port, { name: BIG, qtype: 1 });
    const small = await udpQuery(s.port, { name: BIG, qtype: 1, edns: { payloadSize: 700 } });
    expect(plain.raw.length).toBeLessThanOrEqual(512);
    expect(small.raw.length).toBeLessThanOrEqual(700);
    expect(small.raw.length).toBeGreaterThan(512);
  });

  it('answers pipelined TCP queries in order, including frames split across writes', async () => {
    const client = await TcpClient.connect(s.port);
    try {
      const queries = [1, 2, 3, 4].map((id) => buildQuery({ id, name: id % 2 ? WEB : 'api.shop.svc.clusterset.local', qtype: 1 }));
      client.socket.write(Buffer.concat(queries.slice(0, 3).map(frame)));
      const last = frame(queries[3]!);
      for (const byte of last) client.socket.write(Buffer.from([byte]));
      const replies = await client.replies_(4);
      expect(replies.map((r) => decodeReply(r).id)).toEqual([1, 2, 3, 4]);
      expect(decodeReply(replies[1]!).packet.answers[0]!.address).toBe('242.0.0.1');
    } finally {
      client.close();
    }
  });

  it('a malformed frame gets FORMERR and the connection keeps working', async () => {
    const client = await TcpClient.connect(s.port);
    try {
      const bad = buildQuery({ id: 9, name: WEB, qtype: 1 });
      bad.writeUInt16BE(2, 4); // QDCOUNT 2
      client.send(bad);
      client.send(buildQuery({ id: 10, name: WEB, qtype: 1 }));
      const replies = (await client.replies_(2)).map(decodeReply);
      expect(replies.map((r) => [r.id, r.rcode])).toEqual([[9, Rcode.FORMERR], [10, Rcode.NOERROR]]);
    } finally {
      client.close();
    }
  });

  it('closes a connection whose frame length cannot hold a DNS header', async () => {
    const client = await TcpClient.connect(s.port);
    client.socket.write(Buffer.from([0, 3, 1, 2, 3]));
    expect(await client.closedWithin(3000)).toBe(true);
  });

  it('closes idle connections after the idle timeout', async () => {
    const client = await TcpClient.connect(s.port);
    const opened = Date.now();
    expect(await client.closedWithin(8000)).toBe(true);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(1000);
  });

  it('at the connection cap closes the oldest idle connection to serve a new one', async () => {
    const held: TcpClient[] = [];
    try {
      // Accepted one after the other, so the first is the oldest idle one.
      for (let i = 0; i < 3; i++) {
        const c = await TcpClient.connect(s.port);
        held.push(c);
        c.send(buildQuery({ name: WEB, qtype: 1 }));
        expect(await c.replies_(1)).toHaveLength(1);
      }
      const r = await tcpQuery(s.port, { name: WEB, qtype: 1 });
      expect(r.rcode).toBe(Rcode.NOERROR);
      expect(await held[0]!.closedWithin(1000)).toBe(true);
      expect([held[1]!.closed, held[2]!.closed]).toEqual([false, false]);
    } finally {
      for (const c of held) c.close();
    }
  });

  it('never answers a message with QR=1 (no reflection)', async () => {
    const response = buildQuery({ name: WEB, qtype: 1 });
    response[2]! |= 0x80;
    expect(await udpExchange(s.port, response, 500)).toBeNull();
  });

  it('BADVERS for EDNS version 1, NOTIMP for other opcodes', async () => {
    const badvers = await udpQuery(s.port, { name: WEB, qtype: 1, edns: { version: 1 } });
    expect(badvers.rcode).toBe(Rcode.BADVERS);
    const notify = buildQuery({ name: WEB, qtype: 6 });
    notify[2] = 4 << 3;
    expect(decodeReply((await udpExchange(s.port, notify))!).rcode).toBe(Rcode.NOTIMP);
  });

  it('counts queries by zone, transport, type and rcode, and malformed input by reason', async () => {
    expect((await udpQuery(s.port, { name: 'example.org', qtype: 1 })).rcode).toBe(Rcode.REFUSED);
    const { body } = await s.metrics.render();
    // Outside every served zone counts under zone ".", as an unmatched query does in CoreDNS.
    expect(body).toMatch(/clusterset_dns_queries_total\{zone="\.",proto="udp",type="A",rcode="REFUSED"\} [1-9]/);
    expect(body).toMatch(/clusterset_dns_queries_total\{zone="clusterset\.local\.",proto="udp",type="A",rcode="NOERROR"\} [1-9]/);
    expect(body).toMatch(/clusterset_dns_queries_total\{zone="\.",proto="tcp",type="other",rcode="FORMERR"\} 1/);
    expect(body).toMatch(/clusterset_dns_malformed_total\{reason="response_bit"\} 1/);
    expect(body).toMatch(/clusterset_dns_request_duration_seconds_count\{proto="udp"\} [1-9]/);
    expect(body).toMatch(/clusterset_dns_cache_hits_total [1-9]/);
    expect(body).not.toMatch(/rcode="SERVFAIL"/); // dropped messages are not counted as answered
    expect(body).toMatch(/clusterset_dns_snapshot_version 42/);
  });

  it('reports each cluster\'s health and the snapshot version, without labels for clusters that left', async () => {
    const before = fixtureSnapshot();
    const allWestStale = [...before.services.values()].flatMap((svc) => svc.backends).filter((b) => b.cluster === 'west');
    expect(allWestStale.length).toBeGreaterThan(0);
    const state = fixtureState();
    const slices = state.slices
      .filter((slice) => slice.sourceCluster !== 'north')
      .map((slice) => (slice.sourceCluster === 'west' ? { ...slice, excludedReason: STALE_WEST } : slice));
    s.server.setSnapshot(fixtureSnapshot({ slices, services: state.services.map((svc) => ({ ...svc, clusters: svc.clusters.filter((c) => c !== 'north') })) }, 43));
    const { body } = await s.metrics.render();
    expect(body).toMatch(/clusterset_dns_cluster_healthy\{cluster="west"\} 0/);
    expect(body).toMatch(/clusterset_dns_cluster_healthy\{cluster="east"\} 1/);
    expect(body).not.toMatch(/cluster="north"/);
    expect(body).toMatch(/clusterset_dns_snapshot_version 43/);
  });
});

describe('server lifecycle', () => {
  it('start() rejects with a message naming the address when the port is taken', async () => {
    const first = await startServer(OPTIONS, fixtureSnapshot());
    try {
      const second = startServer(OPTIONS, fixtureSnapshot(), { listen: { host: '127.0.0.1', port: first.port } });
      await expect(second).rejects.toThrow(`cannot listen on udp 127.0.0.1:${first.port}: address already in use`);
    } finally {
      await first.stop();
    }
  });

  it('stop() releases UDP and TCP so the port can be bound again', async () => {
    const first = await startServer(OPTIONS, fixtureSnapshot());
    await first.stop();
    const again = await startServer(OPTIONS, fixtureSnapshot(), { listen: { host: '127.0.0.1', port: first.port } });
    try {
      expect((await udpQuery(again.port, { name: WEB, qtype: 1 })).rcode).toBe(Rcode.NOERROR);
      // TCP port free too: a plain connect works against the new server.
      await new Promise<void>((resolve, reject) => net.connect(again.port, '127.0.0.1').once('connect', function (this: net.Socket) {
        this.destroy();
        resolve();
      }).once('error', reject));
    } finally {
      await again.stop();
    }
  });

  it('answers SERVFAIL before the first snapshot and from the snapshot once set', async () => {
    const s = await startServer(OPTIONS, null);
    try {
      expect((await udpQuery(s.port, { name: WEB, qtype: 1 })).rcode).toBe(Rcode.SERVFAIL);
      s.server.setSnapshot(fixtureSnapshot());
      expect((await udpQuery(s.port, { name: WEB, qtype: 1 })).rcode).toBe(Rcode.NOERROR);
    } finally {
      await s.stop();
    }
  });
});
