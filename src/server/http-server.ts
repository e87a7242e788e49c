/**
 * The HTTP side: /metrics (Prometheus text, worker metrics folded in), /healthz (the process and
 * its DNS listeners are alive), /readyz (a synced snapshot is being served), and
 * /debug/explain?name=&type= (why a name answers what it answers).
 *
 * Health cannot be starved (issue 9): /healthz and /readyz are answered at once, never queued;
 * /debug/* requests run one per event-loop turn from a short queue (beyond it: 503 with
 * Retry-After, held back for DEBUG_REFUSAL_DELAY_MS so a client that retries at once cannot turn
 * refusals into a busy loop of their own), each report is cut to DEBUG_MAX_ITEMS per list and
 * DEBUG_MAX_BYTES in all, the same report asked again under the same snapshot is served from the
 * last few made, and only loopback clients get /debug/* unless `debugRemote` is set. Concurrent
 * /metrics scrapes share one rendering.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { DnsOptions, ListenAddress } from '../config/options.ts';
import { explain as realExplain, ExplainInputError, formatExplain, limitReport, type ExplainReport } from '../dns/explain.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { Metrics } from '../observability/metrics.ts';
import { startHealthListener, type HealthListener } from './health-listener.ts';
import { bindError } from './udp-listener.ts';

export interface HttpServerOptions {
  listen: ListenAddress;
  getSnapshot: () => Snapshot | null | undefined;
  dnsOptions: DnsOptions;
  metrics: Metrics;
  logger: Logger;
  /** Why the process is unhealthy (e.g. DnsServer.healthProblem), or null. */
  healthProblem?: () => string | null;
  /** Why the server is not ready although its snapshot is (e.g. DnsServer.notReady), or null. */
  notReady?: () => string | null;
  /** Extra read-only GET routes by path (the status page `/` and `/status`, added by the CLI). */
  routes?: ReadonlyMap<string, (url: URL) => HttpRouteResult | Promise<HttpRouteResult>>;
  /** The explain function; the real one unless a test substitutes it. */
  explainFn?: (snapshot: Snapshot, name: string, qtype: number | string, opts: DnsOptions) => ExplainReport;
  /** Answer /debug/* to non-loopback clients too (default false: loopback only). */
  debugRemote?: boolean;
  /**
   * Also serve /healthz and /readyz on this address from a thread of their own
   * (health-listener.ts), which no load on this server can delay; probes should use it.
   */
  healthListen?: ListenAddress;
  /** With healthListen: /healthz fails once the main event loop has not run for this long. */
  mainStallMs?: number;
}

export interface HttpRouteResult {
  status: number;
  contentType: string;
  body: string;
}

export interface HttpServer {
  /** `healthPort` is set when a health listener was asked for. */
  start(): Promise<{ port: number; healthPort?: number }>;
  stop(): Promise<void>;
}

/** Longest a scrape or request may take before the socket is dropped. */
const REQUEST_TIMEOUT_MS = 15_000;
/** /debug/* requests waiting, running or being written at most; more are refused with 503. */
export const DEBUG_MAX_QUEUED = 8;
/** Entries per list in one explain report. */
export const DEBUG_MAX_ITEMS = 1_000;
/** Bytes of one /debug/* response at most. */
export const DEBUG_MAX_BYTES = 1024 * 1024;
/**
 * A refused /debug/* request gets its 503 after this long. Refusing at once lets a flood of
 * clients that retry immediately keep the event loop busy with refusals alone (measured: ~1,800
 * refusals/s from 200 connections, each turn of the loop handling a batch of them while health
 * probes wait); held back, each connection costs one refusal per second.
 */
export const DEBUG_REFUSAL_DELAY_MS = 1000;
/** Refusals held back at most; beyond, they are sent at once (a bound on timers and sockets held). */
const DEBUG_MAX_HELD_REFUSALS = 1024;
/** Explain reports kept per snapshot for repeated questions (by query string). */
const DEBUG_REPORTS_KEPT = 4;

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { logger } = options;
  const explainFn = options.explainFn ?? realExplain;
  const debugQueue: Array<() => void> = [];
  let debugDraining = false;
  let heldRefusals = 0;
  /** /debug/* requests queued, running or still being written. */
  let debugInFlight = 0;
  /** Recent explain responses of the current snapshot, by query string (insertion order = age). */
  const recentReports = new Map<string, { status: number; contentType: string; body: string }>();
  let recentReportsOf: Snapshot | null = null;
  let metricsRendering: Promise<{ contentType: string; body: string }> | null = null;

  /** Runs queued debug work one job per event-loop turn, so health requests get in between. */
  function drainDebug(): void {
    const job = debugQueue.shift();
    if (job === undefined) {
      debugDraining = false;
      return;
    }
    try {
      job();
    } finally {
      setImmediate(drainDebug);
    }
  }

  function enqueueDebug(res: http.ServerResponse, job: () => void): void {
    // A slot is held until the response is fully handed to the socket (or the client is gone), so
    // at most DEBUG_MAX_QUEUED reports of up to DEBUG_MAX_BYTES are waiting or buffered at once.
    if (debugInFlight >= DEBUG_MAX_QUEUED) return refuseDebug(res);
    debugInFlight++;
    res.once('close', () => debugInFlight--);
    debugQueue.push(() => {
      if (res.destroyed) return; // the client gave up while queued
      try {
        job();
      } catch (error) {
        logger.error({ err: error }, 'debug handler failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      }
    });
    if (!debugDraining) {
      debugDraining = true;
      setImmediate(drainDebug);
    }
  }

  function refuseDebug(res: http.ServerResponse): void {
    const refuse = () => {
      if (res.destroyed) return;
      res.setHeader('retry-after', '1');
      sendJson(res, 503, { error: `too many /debug requests at once (at most ${DEBUG_MAX_QUEUED}); retry shortly` });
    };
    if (heldRefusals >= DEBUG_MAX_HELD_REFUSALS) return refuse();
    heldRefusals++;
    const timer = setTimeout(() => {
      heldRefusals--;
      res.removeListener('close', onClose);
      refuse();
    }, DEBUG_REFUSAL_DELAY_MS);
    timer.unref(); // never keeps a stopping process alive
    const onClose = () => {
      clearTimeout(timer);
      heldRefusals--;
    };
    res.once('close', onClose);
  }

  /** /debug/* and the status routes answer loopback clients only, unless `debugRemote` opens them. */
  function debugAllowed(req: http.IncomingMessage): boolean {
    return options.debugRemote === true || isLoopback(req.socket.remoteAddress);
  }

  function debugForbidden(res: http.ServerResponse): void {
    return sendJson(res, 403, { error: '/debug/* and the status page answer loopback clients only; start the server with --debug-remote to open them' });
  }

  /** Why /readyz fails (the state first, then the server, e.g. workers still installing it), or null. */
  function whyNotReady(): string | null {
    return notReadyReason(options.getSnapshot() ?? null) ?? options.notReady?.() ?? null;
  }

  /** One rendering shared by every scrape that arrives while it runs. */
  function renderMetrics(): Promise<{ contentType: string; body: string }> {
    if (metricsRendering === null) {
      metricsRendering = options.metrics.render().finally(() => {
        metricsRendering = null;
      });
    }
    return metricsRendering;
  }

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
        const { contentType, body } = await renderMetrics();
        return send(res, 200, contentType, body);
      }
      case '/healthz': {
        const problem = options.healthProblem?.() ?? null;
        return problem === null ? send(res, 200, 'text/plain; charset=utf-8', 'ok\n') : send(res, 503, 'text/plain; charset=utf-8', `unhealthy: ${problem}\n`);
      }
      case '/readyz': {
        const reason = whyNotReady();
        return reason === null ? send(res, 200, 'text/plain; charset=utf-8', 'ready\n') : send(res, 503, 'text/plain; charset=utf-8', `not ready: ${reason}\n`);
      }
      case '/debug/explain':
        if (!debugAllowed(req)) return debugForbidden(res);
        return enqueueDebug(res, () => explainRoute(url, res));
      default: {
        const route = options.routes?.get(url.pathname);
        if (route !== undefined) {
          // The status page and its report are reachable where /debug/* is, under the same bounds.
          if (!debugAllowed(req)) return debugForbidden(res);
          return enqueueDebug(res, () => {
            Promise.resolve(route(url)).then(
              (result) => send(res, result.status, result.contentType, result.body),
              (error: unknown) => {
                logger.error({ err: error, path: url.pathname }, 'HTTP route failed');
                if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
              },
            );
          });
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
    if (recentReportsOf !== snapshot) {
      recentReports.clear();
      recentReportsOf = snapshot;
    }
    const known = recentReports.get(url.search);
    if (known !== undefined) return send(res, known.status, known.contentType, known.body);
    const made = explainResponse(snapshot, name, url);
    if (made.status === 200 || made.status === 413) {
      if (recentReports.size >= DEBUG_REPORTS_KEPT) recentReports.delete(recentReports.keys().next().value!);
      recentReports.set(url.search, made);
    }
    return send(res, made.status, made.contentType, made.body);
  }

  /** The explain response for `name` (status and body), from the report cut to the debug bounds. */
  function explainResponse(snapshot: Snapshot, name: string, url: URL): { status: number; contentType: string; body: string } {
    const json = (status: number, value: unknown) => ({ status, contentType: 'application/json; charset=utf-8', body: `${JSON.stringify(value, null, 2)}\n` });
    let report: ExplainReport;
    try {
      report = explainFn(snapshot, name, url.searchParams.get('type') ?? 'A', options.dnsOptions);
    } catch (error) {
      if (error instanceof ExplainInputError) return json(400, { error: error.message });
      throw error;
    }
    report = limitReport(report, DEBUG_MAX_ITEMS);
    const text = url.searchParams.get('format') === 'text';
    const body = text ? formatExplain(report) : `${JSON.stringify(report, null, 2)}\n`;
    if (Buffer.byteLength(body) > DEBUG_MAX_BYTES) {
      return json(413, { error: `the report is larger than ${DEBUG_MAX_BYTES} bytes even with ${DEBUG_MAX_ITEMS} entries per list; ask for one cluster or host name` });
    }
    return { status: 200, contentType: text ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8', body };
  }

  let health: HealthListener | undefined;

  function listenMain(): Promise<{ port: number }> {
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
  }

  return {
    async start() {
      const { port } = await listenMain();
      if (options.healthListen === undefined) return { port };
      try {
        health = await startHealthListener({
          listen: options.healthListen,
          healthProblem: () => options.healthProblem?.() ?? null,
          notReady: whyNotReady,
          logger,
          onRestart: () => options.metrics.healthListenerRestarts.inc(),
          ...(options.mainStallMs === undefined ? {} : { stallMs: options.mainStallMs }),
        });
      } catch (error) {
        await closeMain();
        throw error;
      }
      return { port, healthPort: health.port };
    },
    async stop() {
      await health?.stop();
      health = undefined;
      await closeMain();
    },
  };

  function closeMain(): Promise<void> {
    return new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
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
