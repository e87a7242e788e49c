/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766), bounded the way miekg/dns (CoreDNS) and NSD bound it:
 * - a read deadline per message, from its first byte (a slow sender cannot hold a connection by
 *   trickling bytes: slowloris);
 * - an idle timeout between messages;
 * - a cap of queries per connection, after which it is closed once the replies are written;
 * - a connection cap at which the connection that has waited longest is closed to admit the new
 *   one: a message begun over 250 ms ago first (a slowloris connection trickling bytes is exactly
 *   that one; a real client's message arrives in one segment), else the oldest idle connection or
 *   the oldest message, whichever began waiting first; so a new client is never refused;
 * - linear frame reassembly: a frame's buffer is allocated once from its length prefix and filled
 *   in place, whatever the segmentation; and a message may arrive in at most
 *   maxSegments(length) reads (a real client's 64 KiB message is ~45 segments; one byte per
 *   segment costs a read event per byte, so such a sender is closed, not served byte by byte);
 * - bounded memory per connection: a frame is at most 64 KiB, and reading pauses while replies the
 *   client does not read pile up.
 * Deadlines are checked by one sweep per listener, so a message costs no timer calls.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { QueryStats, TcpCloseReason } from '../observability/query-stats.ts';
import { HEADER_SIZE } from './query-parser.ts';
import { TRANSPORT_TCP, type Responder } from './responder.ts';
import { bindError } from './udp-listener.ts';

export const DEFAULT_TCP_READ_TIMEOUT_MS = 2_000;
export const DEFAULT_TCP_MAX_QUERIES = 1_000;
/** Reads one message may take: generous for any real segmentation (MSS >= 536), tiny for 1-byte segments. */
function maxSegments(length: number): number {
  return 16 + Math.ceil(length / 256);
}
/** At the cap, a connection mid-message for this long is evicted before any idle one. */
const SLOW_MESSAGE_MS = 250;

export interface TcpListenerOptions {
  host: string;
  port: number;
  idleTimeoutMs: number;
  /** Longest a message may take from its first byte to its last (default 2 s). */
  readTimeoutMs?: number;
  /** Queries answered per connection before it is closed (default 1,000). */
  maxQueriesPerConnection?: number;
  maxConnections: number;
  responder: Responder;
  stats: QueryStats;
  logger: Logger;
  /** Unsent reply bytes per connection above which reading pauses until the client catches up. */
  maxPendingWriteBytes?: number;
  /** false in cluster workers: the primary owns the listening socket and hands out connections. */
  exclusive?: boolean;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface TcpListener {
  readonly port: number;
  /** Open connections right now. */
  connections(): number;
  close(): Promise<void>;
}

/** One connection's reassembly and deadline state. */
class Connection {
  /** Epoch ms after which the sweep closes the connection (read deadline or idle timeout). */
  deadline: number;
  /** A message has begun (at least one byte of it arrived) and is not complete yet. */
  inMessage = false;
  answered = 0;
  closing = false;
  /** First length byte when the prefix arrived split, else -1. */
  lengthHigh = -1;
  frame: Buffer | null = null;
  filled = 0;
  /** Reads (data events) spent on the current message. */
  segments = 0;

  readonly socket: net.Socket;

  constructor(socket: net.Socket, now: number, idleTimeoutMs: number) {
    this.socket = socket;
    this.deadline = now + idleTimeoutMs;
  }
}

/** Creates the connection handler; shared by a standalone listener and cluster workers. */
export function createTcpServer(options: Omit<TcpListenerOptions, 'host' | 'port'>): { server: net.Server; open: Set<net.Socket>; stop(): void } {
  const now = options.now ?? Date.now;
  const readTimeoutMs = options.readTimeoutMs ?? DEFAULT_TCP_READ_TIMEOUT_MS;
  // Insertion order = order of last activity (a connection moves to the end when a message
  // completes), so the first idle one found is the oldest idle one.
  const connections = new Map<net.Socket, Connection>();
  const open = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true });

  const close = (connection: Connection, reason: TcpCloseReason): void => {
    options.stats.recordTcpClose(reason);
    connection.socket.destroy();
  };

  server.on('connection', (socket) => {
    socket.on('error', () => {}); // resets and the like: the 'close' handler cleans up
    if (connections.size >= options.maxConnections) evictOne();
    const connection = new Connection(socket, now(), options.idleTimeoutMs);
    connections.set(socket, connection);
    open.add(socket);
    socket.on('close', () => {
      connections.delete(socket);
      open.delete(socket);
    });
    serveConnection(connection, options, readTimeoutMs, now, () => {
      // A message completed: this connection is now the most recently active.
      connections.delete(socket);
      connections.set(socket, connection);
    });
  });

  /**
   * Closes the connection whose message began first if that was more than SLOW_MESSAGE_MS ago (a
   * trickling sender); otherwise the one that has waited longest: the oldest idle connection, or
   * the connection whose message began first if that began before the oldest idle one went idle.
   * (A client just accepted is idle until its query arrives a moment later: when slow senders have
   * just reconnected all at once, it must not be the one to go for being the only idle one.)
   */
  function evictOne(): void {
    let oldestIdle: Connection | undefined;
    let slowest: Connection | undefined;
    for (const connection of connections.values()) {
      if (!connection.inMessage) {
        oldestIdle ??= connection;
        continue;
      }
      // In-message deadlines are start + read timeout: the smallest began first.
      if (slowest === undefined || connection.deadline < slowest.deadline) slowest = connection;
    }
    const slowSince = slowest === undefined ? Infinity : slowest.deadline - readTimeoutMs;
    // Idle deadlines are the last activity (accept or a message done) + the idle timeout.
    const idleSince = oldestIdle === undefined ? Infinity : oldestIdle.deadline - options.idleTimeoutMs;
    const victim = slowest !== undefined && (now() - slowSince > SLOW_MESSAGE_MS || slowSince < idleSince) ? slowest : (oldestIdle ?? slowest);
    if (victim === undefined) return;
    connections.delete(victim.socket);
    close(victim, 'evicted');
  }

  const sweepEveryMs = Math.max(50, Math.min(500, readTimeoutMs / 4, options.idleTimeoutMs / 4));
  const sweep = setInterval(() => {
    const t = now();
    for (const connection of connections.values()) {
      if (t > connection.deadline) close(connection, connection.inMessage ? 'read_timeout' : 'idle_timeout');
    }
  }, sweepEveryMs);
  sweep.unref();
  server.on('close', () => clearInterval(sweep));
  return { server, open, stop: () => clearInterval(sweep) };
}

export function listenTcp(options: TcpListenerOptions): Promise<TcpListener> {
  const { server, open, stop } = createTcpServer(options);
  return new Promise((resolve, reject) => {
    const onBindError = (error: NodeJS.ErrnoException) => {
      stop();
      reject(bindError('tcp', options.host, options.port, error));
    };
    server.once('error', onBindError);
    server.listen({ host: options.host, port: options.port, exclusive: options.exclusive ?? true }, () => {
      server.removeListener('error', onBindError);
      // Only errors of a listening server are logged: a failed bind is the caller's to report or
      // retry (bindBoth tries another port when the UDP port it got is taken for TCP).
      server.on('error', (error) => options.logger.error({ err: error }, 'TCP listener error'));
      const address = server.address() as net.AddressInfo;
      resolve({
        port: address.port,
        connections: () => open.size,
        close: () => closeTcpServer(server, open),
      });
    });
  });
}

export function closeTcpServer(server: net.Server, open: Set<net.Socket>): Promise<void> {
  return new Promise((resolve) => {
    for (const socket of open) socket.destroy();
    server.close(() => resolve());
  });
}

function serveConnection(
  connection: Connection,
  options: Omit<TcpListenerOptions, 'host' | 'port'>,
  readTimeoutMs: number,
  now: () => number,
  onMessageDone: () => void,
): void {
  const { responder, stats } = options;
  const socket = connection.socket;
  const maxPending = options.maxPendingWriteBytes ?? 1024 * 1024;
  const maxQueries = options.maxQueriesPerConnection ?? DEFAULT_TCP_MAX_QUERIES;

  const beginMessage = (): void => {
    if (connection.inMessage) return;
    connection.inMessage = true;
    connection.segments = 0;
    connection.deadline = now() + readTimeoutMs;
  };

  /** Answers one complete frame; false when the connection must stop reading. */
  const answer = (frame: Buffer): boolean => {
    connection.inMessage = false;
    connection.deadline = now() + options.idleTimeoutMs;
    onMessageDone();
    const reply = responder.respond(frame, TRANSPORT_TCP, socket.remoteAddress, socket.remotePort);
    if (reply !== null && !socket.destroyed) {
      const framed = Buffer.allocUnsafe(2 + reply.length);
      framed.writeUInt16BE(reply.length, 0);
      reply.copy(framed, 2);
      socket.write(framed);
    }
    connection.answered++;
    if (connection.answered >= maxQueries) {
      // Enough for one connection: finish writing what was answered, then close.
      connection.closing = true;
      stats.recordTcpClose('max_queries');
      socket.pause();
      socket.end();
      return false;
    }
    return true;
  };

  /** Starts a frame of `length` bytes; false when the length cannot be a DNS message. */
  const startFrame = (length: number): boolean => {
    if (length < HEADER_SIZE) {
      // A frame too short to hold a header: the stream cannot be trusted to re-synchronise.
      stats.recordMalformed('tcp_length');
      socket.destroy();
      return false;
    }
    connection.frame = Buffer.allocUnsafe(length);
    connection.filled = 0;
    return true;
  };

  socket.on('data', (chunk: Buffer) => {
    if (connection.closing) return;
    if (connection.inMessage && ++connection.segments > maxSegments(connection.frame?.length ?? 0)) {
      stats.recordTcpClose('fragmented');
      socket.destroy();
      return;
    }
    let offset = 0;
    socket.cork();
    try {
      while (offset < chunk.length && !socket.destroyed) {
        if (connection.frame === null) {
          beginMessage();
          let length: number;
          if (connection.lengthHigh >= 0) {
            length = (connection.lengthHigh << 8) | chunk[offset]!;
            connection.lengthHigh = -1;
            offset += 1;
          } else if (chunk.length - offset >= 2) {
            length = chunk.readUInt16BE(offset);
            offset += 2;
          } else {
            connection.lengthHigh = chunk[offset]!;
            offset += 1;
            break;
          }
          if (length >= HEADER_SIZE && chunk.length - offset >= length) {
            // The whole frame is in this chunk: answer it in place, no copy.
            const frame = chunk.subarray(offset, offset + length);
            offset += length;
            if (!answer(frame)) return;
            continue;
          }
          if (!startFrame(length)) return;
        }
        const frame = connection.frame!;
        const n = Math.min(frame.length - connection.filled, chunk.length - offset);
        chunk.copy(frame, connection.filled, offset, offset + n);
        connection.filled += n;
        offset += n;
        if (connection.filled === frame.length) {
          connection.frame = null;
          if (!answer(frame)) return;
        }
      }
    } catch (error) {
      options.logger.error({ err: error }, 'TCP handler failed; closing the connection');
      socket.destroy();
      return;
    } finally {
      if (!socket.destroyed) socket.uncork();
    }
    if (socket.writableLength > maxPending) {
      socket.pause();
      socket.once('drain', () => {
        if (!connection.closing) socket.resume();
      });
    }
  });
  socket.on('end', () => socket.end());
}
