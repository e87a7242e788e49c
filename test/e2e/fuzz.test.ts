/**
 * Malformed input never crashes or stalls the server. Sends well over 100,000 random and mutated
 * datagrams (bit flips, truncations, count and length lies, pointer loops, OPT abuse) and a few
 * thousand random or mutated TCP streams, then checks the server still answers a valid query
 * correctly and promptly. Also checks, for every datagram, the reply rule: no reply to a runt or a
 * QR=1 message, exactly one well-formed reply (QR=1, within the UDP size cap) to everything else.
 *
 * Deterministic: a seeded PRNG drives every choice, so a failure is reproducible.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rcode } from '../../src/dns/types.ts';
import { fixtureSnapshot, OPTIONS } from '../helpers/dns-fixture.ts';
import { buildQuery, frame, startServer, tcpQuery, udpQuery, type QuerySpec, type RunningServer } from './server-helpers.ts';

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = [
  'web.shop.svc.clusterset.local',
  'API.shop.svc.clusterset.local',
  'big.shop.svc.clusterset.local',
  'db.shop.svc.clusterset.local',
  'db-0.east.db.shop.svc.clusterset.local',
  '_http._tcp.web.shop.svc.clusterset.local',
  'web.shop.svc.mcs.example',
  'east.web.shop.svc.clusterset.local',
  'dns-version.clusterset.local',
  'clusterset.local',
  'svc.clusterset.local',
  'nope.nope.svc.clusterset.local',
  'example.com',
  '',
];
const QTYPES = [1, 28, 33, 16, 6, 2, 255, 12, 15, 41, 252, 0, 65535];

function makeFuzzer(seed: number) {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

  const validQuery = (): Buffer => {
    let name = pick(NAMES);
    if (rand() < 0.3) name = name.split('').map((c) => (rand() < 0.5 ? c.toUpperCase() : c)).join('');
    if (rand() < 0.2) name = `x${int(100000)}.${name}`;
    const spec: QuerySpec = { id: int(65536), name, qtype: pick(QTYPES), qclass: rand() < 0.9 ? 1 : pick([3, 255, 254, 0]) };
    if (rand() < 0.5) spec.edns = { payloadSize: pick([0, 100, 512, 1232, 4096, 65535]), dnssecOk: rand() < 0.5 };
    return buildQuery(spec);
  };

  const mutations: ((msg: Buffer) => Buffer)[] = [
    // random bytes
    () => Buffer.from(Array.from({ length: int(700) }, () => int(256))),
    // bit flips
    (msg) => {
      const out = Buffer.from(msg);
      for (let i = 1 + int(8); i > 0; i--) out[int(out.length)]! ^= 1 << int(8);
      return out;
    },
    // truncation
    (msg) => msg.subarray(0, int(msg.length)),
    // random bytes overwritten
    (msg) => {
      const out = Buffer.from(msg);
      for (let i = 1 + int(4); i > 0; i--) out[int(out.length)] = int(256);
      return out;
    },
    // count lies
    (msg) => {
      const out = Buffer.from(msg);
      out.writeUInt16BE(rand() < 0.5 ? 0xffff : int(5), 4 + 2 * int(4));
      return out;
    },
    // label length lies
    (msg) => {
      const out = Buffer.from(msg);
      if (out.length > 12) out[12 + int(Math.min(out.length - 12, 20))] = int(256);
      return out;
    },
    // pointer loops and pointer chains in the question
    (msg) => {
      const tail = Buffer.from([0, 1, 0, 1]);
      const loops = [
        [0xc0, 12],
        [1, 0x61, 0xc0, 12],
        [0xc0, 14, 0xc0, 12],
        [0xff, 0xff],
        [3, 0x61, 0x62, 0x63, 0xc0, int(256)],
      ];
      return Buffer.concat([msg.subarray(0, 12), Buffer.from(pick(loops)), tail, msg.subarray(Math.min(msg.length, 40))]);
    },
    // OPT abuse: odd rdlength, several OPTs, random versions and options
    (msg) => {
      const head = Buffer.from(msg);
      const opts: Buffer[] = [];
      for (let i = 1 + int(3); i > 0; i--) {
        const rdata = Buffer.from(Array.from({ length: int(20) }, () => int(256)));
        const opt = Buffer.alloc(11);
        opt.writeUInt16BE(41, 1);
        opt.writeUInt16BE(int(65536), 3);
        opt[6] = rand() < 0.7 ? 0 : int(256);
        opt.writeUInt16BE(rand() < 0.5 ? rdata.length : int(65536), 9);
        opts.push(opt, rdata);
      }
      head.writeUInt16BE(opts.length / 2, 10);
      return Buffer.concat([head, ...opts]);
    },
    // very long names (over 255 octets, labels up to 63)
    (msg) => {
      const labels = Array.from({ length: 1 + int(10) }, () => {
        const len = int(64);
        return Buffer.concat([Buffer.from([len]), Buffer.alloc(len, 0x61 + int(26))]);
      });
      return Buffer.concat([msg.subarray(0, 12), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
    },
    // QR set and odd opcodes
    (msg) => {
      const out = Buffer.from(msg);
      out[2] = int(256);
      return out;
    },
  ];

  return {
    rand,
    int,
    datagram(): Buffer {
      const base = validQuery();
      return rand() < 0.1 ? base : pick(mutations)(base);
    },
    tcpStream(): Buffer {
      const parts: Buffer[] = [];
      for (let i = 1 + int(4); i > 0; i--) {
        const kind = int(5);
        if (kind === 0) parts.push(frame(validQuery()));
        else if (kind === 1) parts.push(frame(pick(mutations)(validQuery())));
        else if (kind === 2) parts.push(Buffer.from(Array.from({ length: int(300) }, () => int(256))));
        else if (kind === 3) parts.push(Buffer.from([0, int(12)])); // garbage length
        else parts.push(frame(validQuery()).subarray(0, int(30))); // partial frame
      }
      return Buffer.concat(parts);
    },
  };
}

/** Whether the server must reply to this datagram: it has a header and QR=0. */
function expectsReply(msg: Buffer): boolean {
  return msg.length >= 12 && (msg[2]! & 0x80) === 0;
}

interface UdpFuzzResult {
  sent: number;
  expected: number;
  received: number;
  lost: number;
  badReplies: number;
}

/** Sends `count` datagrams with at most `window` replies outstanding, so the kernel buffer is never the bottleneck. */
async function fuzzUdp(port: number, count: number, seed: number, window = 64): Promise<UdpFuzzResult> {
  const fuzzer = makeFuzzer(seed);
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const result: UdpFuzzResult = { sent: 0, expected: 0, received: 0, lost: 0, badReplies: 0 };
  let wake: (() => void) | null = null;
  socket.on('message', (reply) => {
    result.received++;
    // Every reply: a response (QR=1) that fits the largest UDP size we ever send.
    if (reply.length < 12 || (reply[2]! & 0x80) === 0 || reply.length > 1232) result.badReplies++;
    wake?.();
  });
  try {
    while (result.sent < count) {
      const outstanding = result.expected - result.received - result.lost;
      if (outstanding >= window) {
        const progressed = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 1000);
          wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        wake = null;
        if (!progressed) result.lost += result.expected - result.received - result.lost; // give up on those
        continue;
      }
      const msg = fuzzer.datagram();
      if (expectsReply(msg)) result.expected++;
      result.sent++;
      socket.send(msg, port, '127.0.0.1');
      if (result.sent % 32 === 0) await new Promise((r) => setImmediate(r));
    }
    // Drain the tail.
    const deadline = Date.now() + 3000;
    while (result.received + result.lost < result.expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    result.lost = Math.max(0, result.expected - result.received);
  } finally {
    socket.close();
  }
  return result;
}

/** Opens `count` TCP connections (bounded concurrency), writes a random stream to each and hangs up. */
async function fuzzTcp(port: number, count: number, seed: number, concurrency = 16): Promise<{ streams: number; replies: number }> {
  const fuzzer = makeFuzzer(seed);
  let started = 0;
  let replies = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      const timer = setTimeout(() => socket.destroy(), 1000);
      socket.on('data', () => replies++);
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('connect', () => {
        socket.write(fuzzer.tcpStream());
        if (fuzzer.rand() < 0.8) socket.end();
        else setTimeout(() => socket.destroy(), fuzzer.int(50));
      });
    });
  const lane = async () => {
    while (started < count) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { streams: started, replies };
}

async function expectStillAnswers(port: number): Promise<void> {
  const started = Date.now();
  const udp = await udpQuery(port, { name: 'Web.shop.svc.clusterset.local', qtype: 1, edns: {} }, 2000);
  expect([udp.rcode, udp.packet.answers.map((a) => [a.name, a.address])]).toEqual([Rcode.NOERROR, [['Web.shop.svc.clusterset.local', '10.1.0.10']]]);
  const tcp = await tcpQuery(port, { name: '_http._tcp.web.shop.svc.clusterset.local', qtype: 33 }, 2000);
  expect([tcp.rcode, tcp.packet.answers.length]).toEqual([Rcode.NOERROR, 1]);
  expect(Date.now() - started).toBeLessThan(4000);
}

describe('fuzzing the DNS server (workers: 0)', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer(OPTIONS, fixtureSnapshot(), { tcpIdleTimeoutMs: 2000 });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('survives 110,000 random and mutated datagrams, replying exactly when it should', { timeout: 120_000 }, async () => {
    const result = await fuzzUdp(s.port, 110_000, 0xc0ffee);
    expect(result.sent).toBe(110_000);
    expect(result.badReplies).toBe(0);
    // Loopback under pacing loses (almost) nothing; a reply to a dropped-class message would overshoot.
    expect(result.received).toBeLessThanOrEqual(result.expected);
    expect(result.lost).toBeLessThanOrEqual(result.expected * 0.001);
    expect(s.metrics.stats.answerErrors).toBe(0);
    await expectStillAnswers(s.port);
  });

  it('survives 3,000 random and mutated TCP streams', { timeout: 120_000 }, async () => {
    const { streams, replies } = await fuzzTcp(s.port, 3000, 0xbadc0de);
    expect(streams).toBe(3000);
    expect(replies).toBeGreaterThan(0);
    expect(s.metrics.stats.answerErrors).toBe(0);
    await expectStillAnswers(s.port);
    expect(s.records.filter((r) => Number(r.level) >= 50)).toEqual([]);
  });
});

describe('fuzzing the DNS server (workers: 1)', () => {
  let s: RunningServer;
  beforeAll(async () => {
    s = await startServer(OPTIONS, fixtureSnapshot(), { workers: 1, tcpIdleTimeoutMs: 2000 });
    // The worker gets the snapshot over IPC after it binds.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && (await udpQuery(s.port, { name: 'web.shop.svc.clusterset.local', qtype: 1 })).rcode !== Rcode.NOERROR) {
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('survives 30,000 datagrams and 1,000 TCP streams in a worker process, which is never restarted', { timeout: 120_000 }, async () => {
    const udp = await fuzzUdp(s.port, 30_000, 0x5eed);
    expect(udp.badReplies).toBe(0);
    expect(udp.lost).toBeLessThanOrEqual(udp.expected * 0.001);
    await fuzzTcp(s.port, 1000, 0xfeed);
    await expectStillAnswers(s.port);
    const { body } = await s.metrics.render();
    expect(body).toMatch(/clusterset_dns_worker_restarts_total 0/);
    expect(body).toMatch(/clusterset_dns_answer_errors_total 0/);
  });
});
