/**
 * The HTTP side: /metrics (Prometheus text, worker metrics folded in), /healthz (the process and
 * its DNS listeners are alive), /readyz (a synced snapshot is being served), and
 * /debug/explain?name=&type= (why a name answers what it answers).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { DnsOptions, ListenAddress } from '../config/options.ts';
import { explain as realExplain, ExplainInputError, formatExplain, type ExplainReport } from '../dns/explain.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { Metrics } from '../observability/metrics.ts';
import { bindError } from './udp-listener.ts';

export interface HttpServerOptions {
  listen: ListenAddress;
  getSnapshot: () => Snapshot | null | undefined;
  dnsOptions: DnsOptions;
  metrics: Metrics;
  logger: Logger;
  /** Why the process is unhealthy (e.g. DnsServer.healthProblem), or null. */
  healthProblem?: () => string | null;
  /** Extra read-only GET routes by path (the status page `/` and `/status`, added by the CLI). */
  routes?: ReadonlyMap<string, (url: URL) => HttpRouteResult | Promise<HttpRouteResult>>;
  /** The explain function; the real one unless a test substitutes it. */
  explainFn?: (snapshot: Snapshot, name: string, qtype: number | string, opts: DnsOptions) => ExplainReport;
}

export interface HttpRouteResult {
  status: number;
  contentType: string;
  body: string;
}

export interface HttpServer {
  start(): Promise<{ port: number }>;
  stop(): Promise<void>;
}

/** Longest a scrape or request may take before the socket is dropped. */
const REQUEST_TIMEOUT_MS = 15_000;

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { logger } = options;
  const explainFn = options.explainFn ?? realExplain;

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error, path: req.url }, 'HTTP handler failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    switch (url.pathname) {
      case '/metrics': {
        const { contentType, body } = await options.metrics.render();
        return send(res, 200, contentType, body);
      }
      case '/healthz': {
        const problem = options.healthProblem?.() ?? null;
        return problem === null ? send(res, 200, 'text/plain; charset=utf-8', 'ok\n') : send(res, 503, 'text/plain; charset=utf-8', `unhealthy: ${problem}\n`);
      }
      case '/readyz': {
        const reason = notReadyReason(options.getSnapshot() ?? null);
        return reason === null ? send(res, 200, 'text/plain; charset=utf-8', 'ready\n') : send(res, 503, 'text/plain; charset=utf-8', `not ready: ${reason}\n`);
      }
      case '/debug/explain':
        return explainRoute(url, res);
      default: {
        const route = options.routes?.get(url.pathname);
        if (route !== undefined) {
          const result = await route(url);
          return send(res, result.status, result.contentType, result.body);
        }
        return send(res, 404, 'text/plain; charset=utf-8', 'not found (try /metrics, /healthz, /readyz, /debug/explain?name=NAME&type=A)\n');
      }
    }
  }

  function explainRoute(url: URL, res: http.ServerResponse): void {
    const name = url.searchParams.get('name');
    if (name === null || name.trim() === '') return sendJson(res, 400, { error: 'missing query parameter "name"' });
    const snapshot = options.getSnapshot() ?? null;
    if (snapshot === null) return sendJson(res, 503, { error: 'no state loaded yet' });
    let report: ExplainReport;
    try {
      report = explainFn(snapshot, name, url.searchParams.get('type') ?? 'A', options.dnsOptions);
    } catch (error) {
      if (error instanceof ExplainInputError) return sendJson(res, 400, { error: error.message });
      throw error;
    }
    if (url.searchParams.get('format') === 'text') return send(res, 200, 'text/plain; charset=utf-8', formatExplain(report));
    return sendJson(res, 200, report);
  }

  return {
    start() {
      return new Promise((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => reject(bindError('http', options.listen.host, options.listen.port, error));
        server.once('error', onError);
        server.listen({ host: options.listen.host, port: options.listen.port }, () => {
          server.removeListener('error', onError);
          server.on('error', (error) => logger.error({ err: error }, 'HTTP server error'));
          const port = (server.address() as AddressInfo).port;
          logger.info({ host: options.listen.host, port }, 'HTTP server listening (/metrics, /healthz, /readyz, /debug/explain)');
          resolve({ port });
        });
      });
    },
    stop() {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export function notReadyReason(snapshot: Snapshot | null): string | null {
  if (snapshot === null) return 'no state snapshot yet';
  if (!snapshot.synced) return 'waiting for the first full sync of the imported state';
  return null;
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(value, null, 2)}\n`);
}
