/**
 * Helpers for the server tests: raw query building, UDP/TCP clients with bounded waits, and a DNS
 * server started on 127.0.0.1 port 0 with a captured logger and its own metrics.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { Writable } from 'node:stream';
import dns2 from 'dns2';
import type { Packet as Dns2Packet } from 'dns2';
import type { DnsOptions } from '../../src/config/options.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics, type Metrics } from '../../src/observability/metrics.ts';
import type { DnsServer, DnsServerOptions, ServerDeps } from '../../src/server/api.ts';
import { createDnsServer } from '../../src/server/index.ts';

const { Packet } = dns2;

export interface QuerySpec {
  id?: number;
  name: string;
  qtype: number;
  qclass?: number;
  rd?: boolean;
  cd?: boolean;
  edns?: { payloadSize?: number; version?: number; dnssecOk?: boolean; options?: Buffer } | null;
}

/** A query message built byte by byte (so tests control case, flags and EDNS exactly). */
export function buildQuery(spec: QuerySpec): Buffer {
  const labels = spec.name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  const nameBytes = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(spec.id ?? 0x1234, 0);
  header[2] = spec.rd === false ? 0 : 0x01;
  header[3] = spec.cd ? 0x10 : 0;
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(spec.edns ? 1 : 0, 10);
  const typeClass = Buffer.alloc(4);
  typeClass.writeUInt16BE(spec.qtype, 0);
  typeClass.writeUInt16BE(spec.qclass ?? 1, 2);
  const parts: Buffer[] = [header, nameBytes, typeClass];
  if (spec.edns) parts.push(optRecord(spec.edns));
  return Buffer.concat(parts);
}

export function optRecord(edns: NonNullable<QuerySpec['edns']>): Buffer {
  const options = edns.options ?? Buffer.alloc(0);
  const opt = Buffer.alloc(11);
  opt[0] = 0;
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(edns.payloadSize ?? 1232, 3);
  opt[5] = 0;
  opt[6] = edns.version ?? 0;
  opt[7] = edns.dnssecOk ? 0x80 : 0;
  opt.writeUInt16BE(options.length, 9);
  return Buffer.concat([opt, options]);
}

export interface Reply {
  raw: Buffer;
  id: number;
  qr: boolean;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  cd: boolean;
  /** Full rcode including the OPT extended bits. */
  rcode: number;
  packet: Dns2Packet;
}

/** Decodes a reply with dns2 (tests only; the server never parses with dns2). */
export function decodeReply(raw: Buffer): Reply {
  const packet = Packet.parse(raw);
  return {
    raw,
    id: raw.readUInt16BE(0),
    qr: (raw[2]! & 0x80) !== 0,
    aa: (raw[2]! & 0x04) !== 0,
    tc: (raw[2]! & 0x02) !== 0,
    rd: (raw[2]! & 0x01) !== 0,
    ra: (raw[3]! & 0x80) !== 0,
    cd: (raw[3]! & 0x10) !== 0,
    rcode: packet.header.rcode,
    packet,
  };
}

/** Sends one datagram and waits for one reply, or resolves null after `timeoutMs`. */
export function udpExchange(port: number, message: Buffer, timeoutMs = 3000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => finish(null), timeoutMs);
    function finish(value: Buffer | null) {
      clearTimeout(timer);
      socket.close();
      resolve(value);
    }
    socket.on('message', (msg) => finish(msg));
    socket.on('error', () => finish(null));
    socket.send(message, port, '127.0.0.1');
  });
}

export async function udpQuery(port: number, spec: QuerySpec, timeoutMs = 3000): Promise<Reply> {
  const raw = await udpExchange(port, buildQuery(spec), timeoutMs);
  if (raw === null) throw new Error(`no UDP reply for ${spec.name} within ${timeoutMs} ms`);
  return decodeReply(raw);
}

export function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

/** A TCP connection that collects framed replies. */
export class TcpClient {
  readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private readonly replies: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 2) {
        const length = this.buffer.readUInt16BE(0);
        if (this.buffer.length < 2 + length) break;
        this.replies.push(this.buffer.subarray(2, 2 + length));
        this.buffer = this.buffer.subarray(2 + length);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, timeoutMs = 3000): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('TCP connect timed out'));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new TcpClient(socket));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  send(message: Buffer): void {
    this.socket.write(frame(message));
  }

  /** Waits until `count` replies arrived (or the connection closed, or the time ran out). */
  async replies_(count: number, timeoutMs = 3000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < count && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.replies.slice(0, count);
  }

  /** Resolves true when the server closes the connection within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

export async function tcpQuery(port: number, spec: QuerySpec, timeoutMs = 3000): Promise<Reply> {
  const client = await TcpClient.connect(port, timeoutMs);
  try {
    client.send(buildQuery(spec));
    const [raw] = await client.replies_(1, timeoutMs);
    if (!raw) throw new Error(`no TCP reply for ${spec.name}`);
    return decodeReply(raw);
  } finally {
    client.close();
  }
}

/** A logger that keeps its JSON records in memory. */
export function memoryLogger(): { logger: ServerDeps['logger']; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), records };
}

export interface RunningServer {
  server: DnsServer;
  port: number;
  metrics: Metrics;
  records: Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startServer(
  dns: DnsOptions,
  snapshot: Snapshot | null,
  overrides: Partial<DnsServerOptions> = {},
  extraDeps: Partial<ServerDeps> = {},
): Promise<RunningServer> {
  const { logger, records } = memoryLogger();
  const metrics = createMetrics({ defaultMetrics: false });
  const server = createDnsServer(
    { dns, listen: { host: '127.0.0.1', port: 0 }, workers: 0, tcpIdleTimeoutMs: 10_000, tcpMaxConnections: 256, ...overrides },
    { logger, metrics, ...extraDeps },
  );
  const { port } = await server.start();
  if (snapshot) server.setSnapshot(snapshot);
  return { server, port, metrics, records, stop: () => server.stop() };
}

export function answersOf(reply: Reply): string[] {
  return reply.packet.answers.map((rr) => {
    const r = rr as unknown as Record<string, unknown>;
    return `${String(r.name)} ${Packet.typeName(Number(r.type))} ${String(r.address ?? r.target ?? r.data ?? r.ns ?? r.primary ?? '')}`;
  });
}

/** Whether a process with this PID exists (signal 0 probes without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` every 100 ms until it is true (true) or `timeoutMs` passed (false). */
export async function eventuallyTrue(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
