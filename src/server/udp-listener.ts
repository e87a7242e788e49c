/**
 * The UDP socket: one datagram in, at most one datagram out. Everything is guarded: the responder
 * never throws, and send errors (for example an unreachable client) are logged and swallowed so
 * the socket keeps serving.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import { TRANSPORT_UDP, type Responder } from './responder.ts';

export interface UdpListenerOptions {
  host: string;
  port: number;
  /** SO_REUSEPORT, so worker processes each bind their own socket on one port (Node >= 22.12). */
  reusePort: boolean;
  responder: Responder;
  logger: Logger;
}

export interface UdpListener {
  readonly port: number;
  close(): Promise<void>;
}

/** Larger than the default so bursts are not dropped while the loop is busy (the kernel caps it). */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

export function listenUdp(options: UdpListenerOptions): Promise<UdpListener> {
  const { responder, logger } = options;
  const family = net.isIPv6(options.host) ? 6 : 4;
  const socket = dgram.createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    reuseAddr: false,
    reusePort: options.reusePort,
    // Replies go to rinfo.address, always an IP literal: skip the default dns.lookup, which defers
    // every send by a tick.
    lookup: (address, _options, callback) => callback(null, address, family),
  });
  let sendErrors = 0;

  const send = (reply: Buffer, address: string | undefined, port: number | undefined): void => {
    try {
      socket.send(reply, port, address);
    } catch (error) {
      // Synchronous send failures (socket closing) must not escape the event handler.
      logger.debug({ err: error }, 'UDP send failed');
    }
  };

  socket.on('message', (msg, rinfo) => {
    let reply: Buffer | null | undefined;
    try {
      // A cache miss is answered in a later turn (responder.ts), so cached answers waiting in this
      // socket are not held up behind first-time computations of huge answers.
      reply = responder.respond(msg, TRANSPORT_UDP, rinfo.address, rinfo.port, send);
    } catch (error) {
      logger.error({ err: error }, 'UDP handler failed');
      return;
    }
    if (reply === null || reply === undefined) return;
    send(reply, rinfo.address, rinfo.port);
  });

  return new Promise((resolve, reject) => {
    const onBindError = (error: NodeJS.ErrnoException) => {
      socket.close();
      reject(bindError('udp', options.host, options.port, error));
    };
    socket.once('error', onBindError);
    socket.bind({ address: options.host, port: options.port, exclusive: true }, () => {
      socket.removeListener('error', onBindError);
      // After binding, errors are per-send (ICMP unreachable and the like): log, keep serving.
      socket.on('error', (error) => {
        sendErrors++;
        if (sendErrors <= 10 || sendErrors % 1000 === 0) logger.warn({ err: error, sendErrors }, 'UDP socket error');
      });
      try {
        socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
        socket.setSendBufferSize(RECEIVE_BUFFER_BYTES);
      } catch (error) {
        logger.debug({ err: error }, 'could not enlarge UDP socket buffers');
      }
      const port = socket.address().port;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            try {
              socket.close(() => done());
            } catch {
              done(); // already closed
            }
          }),
      });
    });
  });
}

/** A bind failure that names the transport and address, e.g. "cannot listen on udp 127.0.0.1:53: EADDRINUSE …". */
export function bindError(transport: 'udp' | 'tcp' | 'http', host: string, port: number, cause: NodeJS.ErrnoException): Error {
  const address = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  const what =
    cause.code === 'EADDRINUSE'
      ? 'address already in use'
      : cause.code === 'EACCES'
        ? 'permission denied'
        : cause.code === 'EADDRNOTAVAIL'
          ? 'address not available on this host'
          : cause.message;
  return new Error(`cannot listen on ${transport} ${address}: ${what}${cause.code ? ` (${cause.code})` : ''}`, { cause });
}
