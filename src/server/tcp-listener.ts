/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): 2-byte length framing, pipelined queries answered in
 * order, an idle timeout per connection, a connection cap, and bounded memory per connection
 * (a frame is at most 64 KiB; reading pauses while replies the client does not read pile up).
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { QueryStats } from '../observability/query-stats.ts';
import { HEADER_SIZE } from './query-parser.ts';
import { TRANSPORT_TCP, type Responder } from './responder.ts';
import { bindError } from './udp-listener.ts';

export interface TcpListenerOptions {
  host: string;
  port: number;
  idleTimeoutMs: number;
  maxConnections: number;
  responder: Responder;
  stats: QueryStats;
  logger: Logger;
  /** Unsent reply bytes per connection above which reading pauses until the client catches up. */
  maxPendingWriteBytes?: number;
  /** false in cluster workers: the primary owns the listening socket and hands out connections. */
  exclusive?: boolean;
}

export interface TcpListener {
  readonly port: number;
  /** Open connections right now. */
  connections(): number;
  close(): Promise<void>;
}

/** Creates the connection handler; shared by a standalone listener and cluster workers. */
export function createTcpServer(options: Omit<TcpListenerOptions, 'host' | 'port'>): { server: net.Server; open: Set<net.Socket> } {
  const open = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true });
  server.on('connection', (socket) => {
    socket.on('error', () => {}); // resets and the like: the 'close' handler cleans up
    if (open.size >= options.maxConnections) {
      socket.destroy();
      return;
    }
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    serveConnection(socket, options);
  });
  server.on('error', (error) => options.logger.error({ err: error }, 'TCP listener error'));
  return { server, open };
}

export function listenTcp(options: TcpListenerOptions): Promise<TcpListener> {
  const { server, open } = createTcpServer(options);
  return new Promise((resolve, reject) => {
    const onBindError = (error: NodeJS.ErrnoException) => reject(bindError('tcp', options.host, options.port, error));
    server.once('error', onBindError);
    server.listen({ host: options.host, port: options.port, exclusive: options.exclusive ?? true }, () => {
      server.removeListener('error', onBindError);
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

function serveConnection(socket: net.Socket, options: Omit<TcpListenerOptions, 'host' | 'port'>): void {
  const { responder, stats } = options;
  const maxPending = options.maxPendingWriteBytes ?? 1024 * 1024;
  let pending: Buffer | null = null;

  socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());

  socket.on('data', (chunk: Buffer) => {
    let buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    socket.cork();
    try {
      while (buffer.length >= 2) {
        const length = buffer.readUInt16BE(0);
        if (length < HEADER_SIZE) {
          // A frame too short to hold a header: the stream cannot be trusted to re-synchronise.
          stats.recordMalformed('tcp_length');
          socket.destroy();
          return;
        }
        if (buffer.length < 2 + length) break;
        const frame = buffer.subarray(2, 2 + length);
        buffer = buffer.subarray(2 + length);
        const reply = responder.respond(frame, TRANSPORT_TCP, socket.remoteAddress, socket.remotePort);
        if (reply !== null && !socket.destroyed) {
          const framed = Buffer.allocUnsafe(2 + reply.length);
          framed.writeUInt16BE(reply.length, 0);
          reply.copy(framed, 2);
          socket.write(framed);
        }
      }
      // Keep only an incomplete frame (at most 2 + 65535 bytes), copied so the chunk can be freed.
      if (buffer.length > 0) pending = Buffer.from(buffer);
    } catch (error) {
      options.logger.error({ err: error }, 'TCP handler failed; closing the connection');
      socket.destroy();
      return;
    } finally {
      if (!socket.destroyed) socket.uncork();
    }
    if (socket.writableLength > maxPending) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  });
  socket.on('end', () => socket.end());
}
